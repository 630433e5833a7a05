/**
 * Link probers on the real kernel: every method through each link, both families; a blackholed
 * ISP fails only its own link's probes whichever link the main table prefers; timeouts; and the
 * original destination of a redirected connection.
 *
 *   client ── lan0 ┐
 *   198.18.100.2   router ── wan1 ═ isp1 ── up1 ┐
 *                          └─ wan2 ═ isp2 ── up2 ┴─ target  198.19.0.1, 2001:db8:ffff::1
 *                                                           http :80, https :443, dns :53
 *   router: table 101 default via isp1, table 102 default via isp2,
 *           rules "from 198.18.1.2 lookup 101", "from 198.18.2.2 lookup 102" (and IPv6 alike),
 *           main default via isp1 (or isp2, to show that probes do not follow it)
 *   isp1/isp2: forward and masquerade towards the target, like an ISP with its own addresses:
 *           a probe that leaked out of the wrong link would come back through that link
 *   client → 198.19.0.1:8080 is redirected by nft on the router to its own port 7000
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { NamespaceSet, nodeArgv } from '../../../src/lab/netns.js';
import { exec } from '../../../src/util/exec.js';
import type { ProbeResult } from '../../../src/health/probers/types.js';
import type { ProberConfig } from '../../../src/health/probers/types.js';
import { Driver } from './driver-rpc.js';

const T4 = '198.19.0.1';
const T6 = '2001:db8:ffff::1';
const LINKS = {
  wan1: { ipv4: '198.18.1.2', ipv6: '2001:db8:1::2' },
  wan2: { ipv4: '198.18.2.2', ipv6: '2001:db8:2::2' },
} as const;
type LinkName = keyof typeof LINKS;
const METHODS: ProberConfig[] = [
  { method: 'icmp' },
  { method: 'tcp', port: 80 },
  { method: 'dns', query: '.' },
  { method: 'http', path: '/' },
  { method: 'https', path: '/' },
];

let set: NamespaceSet;
let router: Driver;
let client: Driver;
let certDir: string;

async function buildTopology(): Promise<void> {
  set = await NamespaceSet.create(['router', 'isp1', 'isp2', 'target', 'client']);
  const ns = (n: string) => set.ns(n);
  // rp_filter off before the interfaces exist, so new interfaces inherit it (a leaked probe must
  // be able to come back through the other link for the positive control).
  await set.exec('router', ['sysctl', '-q', '-w', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);
  await set.ip('router', [
    `link add wan1 type veth peer name down1 netns ${ns('isp1')}`,
    `link add wan2 type veth peer name down2 netns ${ns('isp2')}`,
    `link add lan0 type veth peer name lan0 netns ${ns('client')}`,
  ]);
  await set.ip('isp1', [`link add up1 type veth peer name up1 netns ${ns('target')}`]);
  await set.ip('isp2', [`link add up2 type veth peer name up2 netns ${ns('target')}`]);
  await set.ip('router', [
    'addr add 198.18.1.2/24 dev wan1',
    'addr add 2001:db8:1::2/64 dev wan1 nodad',
    'addr add 198.18.2.2/24 dev wan2',
    'addr add 2001:db8:2::2/64 dev wan2 nodad',
    'addr add 198.18.100.1/24 dev lan0',
    'addr add 2001:db8:100::1/64 dev lan0 nodad',
  ]);
  for (const i of [1, 2] as const) {
    const isp = `isp${i}`;
    await set.exec(isp, ['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    await set.ip(isp, [
      `addr add 198.18.${i}.1/24 dev down${i}`,
      `addr add 2001:db8:${i}::1/64 dev down${i} nodad`,
      `addr add 198.18.1${i}.1/24 dev up${i}`,
      `addr add 2001:db8:1${i}::1/64 dev up${i} nodad`,
      `link set down${i} up`,
      `link set up${i} up`,
    ]);
    await set.ip('target', [`addr add 198.18.1${i}.2/24 dev up${i}`, `addr add 2001:db8:1${i}::2/64 dev up${i} nodad`, `link set up${i} up`]);
    await set.ip(isp, [
      `route add ${T4}/32 via 198.18.1${i}.2`,
      // The customer's whole range routed to the customer, so that a probe leaking out of the
      // wrong link would find its way back (and the no-leak check below means something).
      `route add 198.18.0.0/16 via 198.18.${i}.2`,
      `route add 2001:db8::/32 via 2001:db8:${i}::2`,
      `route add ${T6}/128 via 2001:db8:1${i}::2`,
    ]);
    await set.exec(isp, ['nft', '-f', '-'], {
      input: `table inet lab {\n chain post {\n  type nat hook postrouting priority srcnat;\n  oifname "up${i}" masquerade\n }\n}\n`,
    });
  }
  await set.ip('target', [`addr add ${T4}/32 dev lo`, `addr add ${T6}/128 dev lo`]);
  await set.ip('client', [
    'addr add 198.18.100.2/24 dev lan0',
    'addr add 2001:db8:100::2/64 dev lan0 nodad',
    'link set lan0 up',
  ]);
  // (The first IPv6 packets over a freshly raised veth pair can wait 1-2 s for neighbour
  // discovery here: the first test allows for that with generous timeouts.)
  await set.ip('router', [
    'link set wan1 up',
    'link set wan2 up',
    'link set lan0 up',
    'route add default via 198.18.1.1 dev wan1 table 101',
    'route add default via 198.18.2.1 dev wan2 table 102',
    'route add ::/0 via 2001:db8:1::1 dev wan1 table 101',
    'route add ::/0 via 2001:db8:2::1 dev wan2 table 102',
    'rule add from 198.18.1.2 lookup 101 pref 1000',
    'rule add from 198.18.2.2 lookup 102 pref 1000',
    'route add default via 198.18.1.1 dev wan1',
    'route add ::/0 via 2001:db8:1::1 dev wan1',
  ]);
  // `ip rule` does not take the family from the address, and `ip -batch` lines cannot carry -6.
  await exec(['ip', '-6', '-n', ns('router'), '-batch', '-'], {
    input: 'rule add from 2001:db8:1::2 lookup 101 pref 1000\nrule add from 2001:db8:2::2 lookup 102 pref 1000\n',
  });
  await set.ip('client', ['route add default via 198.18.100.1', 'route add ::/0 via 2001:db8:100::1']);
  // The relay's transparent hand-off: LAN TCP to port 8080 goes to the router's own port 7000.
  await set.exec('router', ['nft', '-f', '-'], {
    input: 'table inet lab {\n chain pre {\n  type nat hook prerouting priority dstnat;\n  iifname "lan0" tcp dport 8080 redirect to :7000\n }\n}\n',
  });
}

async function startServers(): Promise<void> {
  certDir = mkdtempSync(join(tmpdir(), 'wanbraid-probers-'));
  const cert = join(certDir, 'cert.pem');
  const key = join(certDir, 'key.pem');
  await exec([
    'openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=probe.test', '-addext', `subjectAltName=DNS:probe.test,IP:${T4},IP:${T6}`, '-keyout', key, '-out', cert,
  ]);
  const script = new URL('./probe-servers.js', import.meta.url).pathname;
  const servers = set.spawn('target', nodeArgv(script, [cert, key]));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('probe servers did not start')), 10_000);
    createInterface({ input: servers.stdout! }).on('line', (l) => {
      if (l === 'ready') {
        clearTimeout(t);
        resolve();
      }
    });
    servers.once('exit', (code) => reject(new Error(`probe servers exited with ${code}`)));
  });
}

function probe(link: LinkName | { ipv4?: string; ipv6?: string }, config: ProberConfig, target: string, timeoutMs: number) {
  const source = typeof link === 'string' ? LINKS[link] : link;
  return router.call<{ result: ProbeResult; elapsedMs: number }>('probe', { config, source, target, timeoutMs });
}

/** Every method × both targets through one link, concurrently. */
async function probeAll(link: LinkName, timeoutMs: number) {
  const cases = METHODS.flatMap((config) => [T4, T6].map((target) => ({ config, target })));
  const replies = await Promise.all(cases.map((c) => probe(link, c.config, c.target, timeoutMs)));
  return cases.map((c, i) => ({ what: `${link} ${c.config.method} ${c.target}`, ...replies[i]! }));
}

async function setWan1Rules(verb: 'add' | 'del'): Promise<void> {
  await set.ip('router', [`rule ${verb} from 198.18.1.2 lookup 101 pref 1000`]);
  await exec(['ip', '-6', '-n', set.ns('router'), 'rule', verb, 'from', '2001:db8:1::2', 'lookup', '101', 'pref', '1000']);
}

function blackhole(isp: 'isp1' | 'isp2', on: boolean) {
  const input = on
    ? 'table inet fault {\n chain forward_drop {\n  type filter hook forward priority filter; policy drop;\n }\n}\n'
    : 'delete table inet fault\n';
  return set.exec(isp, ['nft', '-f', '-'], { input });
}

before(async () => {
  await buildTopology();
  await startServers();
  // The CA list lets the https case with verifyCertificate trust the lab's self-signed certificate.
  router = await Driver.start(set, 'router', { ...process.env, NODE_EXTRA_CA_CERTS: join(certDir, 'cert.pem') });
  client = await Driver.start(set, 'client');
});

after(async () => {
  await router?.stop();
  await client?.stop();
  await set?.destroy();
  if (certDir) rmSync(certDir, { recursive: true, force: true });
});

test('every method answers through each link, for IPv4 and IPv6', async () => {
  for (const link of ['wan1', 'wan2'] as const) {
    for (const r of await probeAll(link, 3000)) {
      assert.equal(r.result.ok, true, `${r.what}: ${JSON.stringify(r.result)}`);
      if (r.result.ok) assert.ok(r.result.rttMs > 0 && r.result.rttMs < 3000, `${r.what}: rtt ${r.result.rttMs}`);
    }
  }
});

test('icmp: many probes in flight at once on one socket are each matched to their own reply', async () => {
  const targets = Array.from({ length: 60 }, (_, i) => (i % 2 ? T4 : T6));
  const replies = await Promise.all(targets.map((t) => probe('wan2', { method: 'icmp' }, t, 3000)));
  assert.deepEqual(replies.map((r) => r.result.ok), targets.map(() => true));
});

test('result handling: refusals, unexpected status, DNS names, certificate checks', async () => {
  // A reset from the target proves the path (tcp.ts): port 81 is closed there.
  assert.equal((await probe('wan1', { method: 'tcp', port: 81 }, T4, 3000)).result.ok, true);
  assert.deepEqual((await probe('wan1', { method: 'http', path: '/status/503' }, T4, 3000)).result, { ok: false, error: 'status 503' });
  assert.equal((await probe('wan1', { method: 'http', path: '/status/503', expectStatus: [503] }, T6, 3000)).result.ok, true);
  assert.equal((await probe('wan2', { method: 'dns', query: 'Example.ORG' }, T6, 3000)).result.ok, true);
  // Without verification any certificate will do; with it, the name must match a trusted certificate.
  assert.equal((await probe('wan1', { method: 'https', host: 'probe.test', verifyCertificate: true }, T4, 3000)).result.ok, true);
  const wrongName = (await probe('wan1', { method: 'https', host: 'other.test', verifyCertificate: true }, T4, 3000)).result;
  assert.equal(wrongName.ok, false);
  assert.match(wrongName.ok ? '' : wrongName.error, /ERR_TLS_CERT_ALTNAME_INVALID|altname|does not match/i);
});

test('a source address that is not on the router fails with the reason, for the raw socket too', async () => {
  const r = (await probe({ ipv4: '198.18.9.9' }, { method: 'icmp' }, T4, 1000)).result;
  assert.deepEqual(r, { ok: false, error: 'open icmp socket on 198.18.9.9: bind: Cannot assign requested address' });
});

test('a target of a family the link has no address for fails without sending', async () => {
  for (const config of METHODS) {
    const r = (await probe({ ipv4: LINKS.wan1.ipv4 }, config, T6, 1000)).result;
    assert.deepEqual(r, { ok: false, error: `no IPv6 source address on this link for target ${T6}` }, config.method);
  }
});

test('a blackholed ISP fails its own link only, whichever link the main table prefers', async () => {
  await blackhole('isp1', true);
  try {
    for (const mainVia of ['wan1', 'wan2'] as const) {
      const i = mainVia === 'wan1' ? 1 : 2;
      await set.ip('router', [
        `route replace default via 198.18.${i}.1 dev ${mainVia}`,
        `route replace ::/0 via 2001:db8:${i}::1 dev ${mainVia}`,
      ]);
      for (const r of await probeAll('wan1', 600)) assert.equal(r.result.ok, false, `${r.what} with main via ${mainVia}: ${JSON.stringify(r.result)}`);
      for (const r of await probeAll('wan2', 3000)) assert.equal(r.result.ok, true, `${r.what} with main via ${mainVia}: ${JSON.stringify(r.result)}`);
    }
    // Positive control (main still via wan2): without its source rules, wan1's probes do leak
    // out of wan2 and succeed — so the failures above are the rules' doing, not the topology's.
    await setWan1Rules('del');
    try {
      for (const target of [T4, T6]) {
        assert.equal((await probe('wan1', { method: 'icmp' }, target, 3000)).result.ok, true, `without the rule the probe to ${target} leaks`);
      }
    } finally {
      await setWan1Rules('add');
    }
  } finally {
    await blackhole('isp1', false);
    await set.ip('router', ['route replace default via 198.18.1.1 dev wan1', 'route replace ::/0 via 2001:db8:1::1 dev wan1']);
  }
});

test('a timeout is a failure reported after roughly the timeout', async () => {
  await blackhole('isp2', true);
  try {
    const timeoutMs = 400;
    for (const config of METHODS) {
      const { result, elapsedMs } = await probe('wan2', config, T4, timeoutMs);
      assert.deepEqual(result, { ok: false, error: 'timeout' }, config.method);
      // Generous bounds: this is a shared 2-core machine.
      assert.ok(elapsedMs >= timeoutMs - 5 && elapsedMs < timeoutMs + 2000, `${config.method}: ${elapsedMs} ms`);
    }
  } finally {
    await blackhole('isp2', false);
  }
  // And the link recovers at once: the next probes go out afresh (the http agent's connections
  // were destroyed on timeout).
  for (const r of await probeAll('wan2', 3000)) assert.equal(r.result.ok, true, `${r.what} after recovery: ${JSON.stringify(r.result)}`);
});

test('getOriginalDst: the destination a LAN client asked for before nft redirected it', async () => {
  await router.call('listenOrigDst', { port: 7000 });
  for (const dst of [T4, T6]) {
    const { data } = await client.call<{ data: string }>('connect', { host: dst, port: 8080 });
    assert.equal(data, 'bye\n');
  }
  // Not redirected: the client talks to port 7000 directly, and the "original" destination is
  // simply the listener's own address — which is how the relay tells the two apart.
  await client.call('connect', { host: '2001:db8:100::1', port: 7000 });
  // The router reports each accept on its own pipe, which may lag behind the client's answer:
  // wait for the third report rather than count what has arrived so far.
  const origdst = () => router.events.filter((e) => e.event === 'origdst');
  await router.event(() => origdst().length >= 3);
  const events = origdst();
  assert.equal(events.length, 3);
  assert.deepEqual(events[0]!.original, { address: T4, port: 8080, family: 4 });
  assert.equal(events[0]!.remote, '::ffff:198.18.100.2', 'an IPv4 client on the dual-stack listener');
  assert.deepEqual(events[1]!.original, { address: T6, port: 8080, family: 6 });
  assert.deepEqual(events[2]!.original, { address: '2001:db8:100::1', port: 7000, family: 6 });
});

test('closed probers leave no timers or sockets behind', async () => {
  await router.call('closeProbers');
  const { resources } = await router.call<{ resources: string[] }>('resources', { ignore: ['PipeWrap', 'TTYWrap', 'TCPServerWrap'] });
  assert.deepEqual(resources, [], `still active: ${resources.join(', ')}`);
});
