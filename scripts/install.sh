#!/usr/bin/env bash
# Installs what wanbraid needs on Debian 12 (run as root from a checkout): the system packages,
# the npm dependencies, and the build. Idempotent: packages already present are not fetched again.
# Used by the README's quick start and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  iproute2        # ip: namespaces, routes, rules, nexthops (the lab and the daemon's checks)
  nftables        # nft: the balancer's ruleset, driven through its JSON API
  conntrack       # lab tests read and seed conntrack entries (the daemon speaks ctnetlink itself)
  iputils-ping    # lab checks
  iperf3          # lab test servers and benchmarks
  openssl         # the lab's self-signed HTTPS test server certificate
  python3         # MPTCP reference in the relay benchmark
  make g++        # builds the project's small N-API addon and the lab's delay element (node-gyp)
  systemd         # systemd-analyze verify for the unit file test
  hyperfine       # benchmarks that time whole commands
  chromium        # the dashboard's browser test (headless, driven over the DevTools pipe); ~13 s to install
  dhcpcd-base     # dials (method: dhcp): the daemon runs one dhcpcd per session
  ppp             # dials (method: pppoe): pppd and its kernel PPPoE plugin (pppoe.so, passwordfd.so)
  dnsmasq-base    # the dial lab's ISP: one DHCP lease per session MAC
  pppoe           # the dial lab's PPPoE ISP (pppoe-server), used where the kernel has PPP
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: missing packages ${missing[*]}; run as root to install them" >&2
    exit 1
  fi
  echo "install.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node -e 'const [a]=process.versions.node.split(".").map(Number); if (a < 20) { console.error("install.sh: wanbraid needs Node.js >= 20, found " + process.version); process.exit(1); }'

npm ci --no-audit --no-fund
npm run build
echo "install.sh: done"
