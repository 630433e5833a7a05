import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dhcpcdArgv, dhcpcdConfig, dhcpcdHook, parseHookLine } from '../../../src/dial/dhcpcd.js';
import { PASSWORD_FD, parsePppdLine, pppdArgv, pppdExitReason } from '../../../src/dial/pppd.js';

const pairs = (argv: string[]) => argv.join(' ');

test('pppd argv: kernel PPPoE plugin on the macvlan, stable ifname, no routes, no DNS, no persist, LCP echo, MTU, password by fd', () => {
  const argv = pppdArgv({ nic: 'wbm-isp1', ifname: 'wbp-isp1', username: 'user@isp', mtu: 1492 });
  assert.deepEqual(argv, [
    'pppd', 'nodetach', 'plugin', 'pppoe.so', 'nic-wbm-isp1', 'ifname', 'wbp-isp1', 'user', 'user@isp',
    'plugin', 'passwordfd.so', 'passwordfd', '3', 'hide-password', 'noauth', 'nodefaultroute', 'noreplacedefaultroute',
    'noipdefault', 'noipv6', 'mtu', '1492', 'mru', '1492', 'lcp-echo-interval', '1', 'lcp-echo-failure', '3',
    'maxfail', '1', 'holdoff', '0', 'nodeflate', 'nobsdcomp', 'novj',
    'ip-up-script', '/bin/true', 'ip-down-script', '/bin/true', 'ipv6-up-script', '/bin/true', 'ipv6-down-script', '/bin/true',
  ]);
  assert.equal(PASSWORD_FD, 3);
  const line = pairs(argv);
  for (const banned of ['defaultroute ', 'usepeerdns', 'persist', 'password ']) assert.ok(!(` ${line} `.includes(` ${banned}`)), `no ${banned.trim()}`);
});

test('pppd exit codes in words', () => {
  assert.equal(pppdExitReason(19), 'authentication failed (wrong username or password)');
  assert.equal(pppdExitReason(8), 'no offer from a PPPoE server (discovery failed)');
  assert.equal(pppdExitReason(15), 'the peer stopped answering LCP echo requests');
  assert.equal(pppdExitReason(16), 'the line hung up (PADT from the server, or the link dropped)');
  assert.equal(pppdExitReason(4), 'the kernel has no PPP support (CONFIG_PPP, /dev/ppp)');
  assert.equal(pppdExitReason(42), 'pppd exited with status 42');
  assert.equal(pppdExitReason(null, 'SIGKILL'), 'pppd ended by signal SIGKILL');
  for (let c = 0; c <= 19; c++) assert.doesNotMatch(pppdExitReason(c), /exited with status/, `code ${c} has words`);
});

test("pppd's address lines", () => {
  assert.deepEqual(parsePppdLine('local  IP address 198.18.70.5'), { kind: 'local', address: '198.18.70.5' });
  assert.deepEqual(parsePppdLine('remote IP address 198.18.70.1\n'), { kind: 'remote', address: '198.18.70.1' });
  assert.deepEqual(parsePppdLine('local  IP address 198.18.70.5; rm -rf'), { kind: 'other' });
  assert.deepEqual(parsePppdLine('PAP authentication succeeded'), { kind: 'other' });
});

test('dhcpcd: private config leaves routes and DNS to wanbraid; argv stays in the foreground, IPv4, never gives up', () => {
  const conf = dhcpcdConfig('isp', 2);
  for (const opt of ['nogateway', 'noipv4ll', 'noarp', 'nodelay', 'clientid', 'ipv4only']) assert.match(conf, new RegExp(`^${opt}$`, 'm'));
  assert.deepEqual(dhcpcdArgv('wbm-isp2', '/run/wanbraid/dial/isp2.conf', '/run/wanbraid/dial/hook'), [
    'dhcpcd', '--nobackground', '--config', '/run/wanbraid/dial/isp2.conf', '--script', '/run/wanbraid/dial/hook', '--ipv4only', '--timeout', '0', 'wbm-isp2',
  ]);
  const hook = dhcpcdHook();
  assert.match(hook, /^#!\/bin\/sh\n/);
  assert.doesNotMatch(hook, /resolv|ip route|ip addr|ip link/, 'the hook changes nothing');
});

test('hook lines: bound-like reasons are leases, losses have words, junk is refused', () => {
  assert.deepEqual(parseHookLine('@wanbraid-lease BOUND 198.18.64.10 24 198.18.64.1'), {
    kind: 'lease',
    lease: { address: '198.18.64.10', prefixLen: 24, router: '198.18.64.1' },
  });
  assert.equal(parseHookLine('@wanbraid-lease RENEW 198.18.64.10 24 198.18.64.1')?.kind, 'lease');
  assert.deepEqual(parseHookLine('@wanbraid-lease NAK - - -'), { kind: 'lost', error: 'the DHCP server refused the lease (NAK)' });
  assert.deepEqual(parseHookLine('@wanbraid-lease EXPIRE - - -'), { kind: 'lost', error: 'the DHCP lease expired without renewal' });
  assert.deepEqual(parseHookLine('@wanbraid-lease NOCARRIER - - -'), { kind: 'lost', error: 'carrier lost' });
  assert.deepEqual(parseHookLine('@wanbraid-lease BOUND 198.18.64.10 24 -'), { kind: 'lost', error: 'the DHCP lease names no router' });
  assert.deepEqual(parseHookLine('@wanbraid-lease BOUND 300.1.1.1 24 198.18.64.1'), { kind: 'lost', error: 'the DHCP lease (BOUND) has no usable address' });
  assert.deepEqual(parseHookLine('@wanbraid-lease PREINIT - - -'), { kind: 'ignore' });
  assert.equal(parseHookLine('wbm-isp1: soliciting a DHCP lease'), undefined);
});
