#!/usr/bin/env bash
# Installs wanbraid system-wide from this checkout, after ./scripts/install.sh: the launcher in
# /usr/local/bin, the iproute2 names (protocol "wanbraid", tables wanbraid, wanbraid1..64), the
# systemd unit, and /etc/wanbraid/wanbraid.yaml from the example when there is none yet.
# Run as root. Does not start anything.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
if [ "$(id -u)" -ne 0 ]; then
  echo "install-system.sh: run as root" >&2
  exit 1
fi
if [ ! -f dist/src/cli/main.js ]; then
  echo "install-system.sh: not built yet; run ./scripts/install.sh first" >&2
  exit 1
fi
case "$root" in
  /root/* | /home/* | /run/user/*)
    echo "install-system.sh: warning: $root is hidden from the service by ProtectHome=yes; put the checkout under /opt (e.g. /opt/wanbraid)" >&2 ;;
esac
ln -sfn "$root/bin/wanbraid" /usr/local/bin/wanbraid
install -D -m 0644 etc/iproute2/rt_protos.d/wanbraid.conf /etc/iproute2/rt_protos.d/wanbraid.conf
install -D -m 0644 etc/iproute2/rt_tables.d/wanbraid.conf /etc/iproute2/rt_tables.d/wanbraid.conf
install -D -m 0644 systemd/wanbraid.service /etc/systemd/system/wanbraid.service
if [ ! -e /etc/wanbraid/wanbraid.yaml ]; then
  install -D -m 0640 examples/wanbraid.yaml /etc/wanbraid/wanbraid.yaml
  echo "install-system.sh: wrote /etc/wanbraid/wanbraid.yaml from the example: edit it for your links"
fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
echo "install-system.sh: done. Next: wanbraid check && wanbraid check --plan && systemctl enable --now wanbraid"
