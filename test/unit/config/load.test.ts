import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfigText, loadConfigFile, validateConfig } from '../../../src/config/load.js';
import { issuesOf } from '../../helpers/config-issues.js';
import { parseDuration, parseSize, parseEndpoint, parsePrefix, parsePortRange } from '../../../src/config/values.js';

const EXAMPLE = new URL('../../../../examples/wanbraid.yaml', import.meta.url);


test('the shipped example is accepted unchanged, with defaults filled in', () => {
  const c = loadConfigFile(EXAMPLE.pathname);
  assert.equal(c.links.length, 3);
  assert.deepEqual(c.links[0]!.gateway, { ipv4: '198.18.1.254' });
  assert.equal(c.links[0]!.probe!.interval, 500);
  assert.equal(c.links[0]!.probe!.timeout, 1000);
  assert.equal(c.links[1]!.probe!.down, 3, 'down defaults to 3');
  assert.equal(c.links[1]!.probe!.method, 'icmp');
  assert.deepEqual(c.policies['wan1-first']!.links![1], { link: 'wan2', tier: 2 });
  assert.deepEqual(c.policies.balanced!.links![0], { link: 'wan1', tier: 1 });
  assert.equal(c.policies['sticky-source']!.sticky, 'source');
  assert.deepEqual(c.rules[0]!.match.dstPort, [{ from: 22, to: 22 }]);
  assert.deepEqual(c.rules[1]!.match, {});
  assert.equal(c.status.socket, '/run/wanbraid/wanbraid.sock');
  assert.equal(c.routing.markMask, 0x00ff0000);
});

test('a bad gateway names the field path and the value', () => {
  const text = readFileSync(EXAMPLE, 'utf8').replace('gateway: 198.18.2.254', 'gateway: 198.18.2');
  assert.deepEqual(issuesOf(text), ['links[1].gateway: expected an IPv4 or IPv6 address, got "198.18.2"']);
});

test('every error is listed, not only the first; unknown keys suggest the right one', () => {
  const issues = issuesOf(`
links:
  - name: wan1
    interface: wan1
    wieght: 3
    probe: { targets: [198.19.0.1], interval: fast, down: 0 }
  - name: wan1
    interface: wan1
policies:
  p: { links: [wan1, wan9] }
rules:
  - { name: r, policy: nope }
lan: { interfaces: [lan0] }
bogus: 1
`);
  assert.deepEqual(issues, [
    'bogus: unknown key',
    'links[0].probe.down: expected a number >= 1, got 0',
    'links[0].probe.interval: expected a duration like 500ms, 2s, 1m or a number of milliseconds, got "fast"',
    'links[0].wieght: unknown key (did you mean "weight"?)',
    'links[1].interface: interface "wan1" is already used by links[0]',
    'links[1].name: duplicate link name "wan1" (also links[0])',
    'policies.p.links[1]: unknown link "wan9" (did you mean "wan1"?)',
    'rules[0].policy: unknown policy "nope"',
  ]);
});

test('missing required fields say what was expected', () => {
  assert.deepEqual(issuesOf('links:\n  - name: wan1\n'), ['links[0].interface: expected an interface name (1-15 characters, no "/", ":" or spaces), got nothing']);
  assert.deepEqual(issuesOf('links: {}\n'), ['links: expected a list, got a mapping']);
  assert.deepEqual(issuesOf('- 1\n'), ['expected a mapping at the top level, got a list']);
});

test('semantic checks: ports need a port protocol, reliability within targets, sets exist', () => {
  const issues = issuesOf(`
lan: { interfaces: [lan0] }
links:
  - { name: a, interface: eth1, probe: { targets: [198.19.0.1], reliability: 2 } }
policies: { p: { links: [a] } }
sets: { s1: { elements: [198.19.0.0/24] } }
rules:
  - { name: r1, match: { dstPort: 22 }, policy: p }
  - { name: r2, match: { dst: ["@s1", "@s2"] }, policy: p }
  - { name: r3, match: { family: ipv4, src: ["2001:db8::/32"] }, policy: p }
`);
  assert.deepEqual(issues, [
    'links[0].probe.reliability: expected at most the number of targets (1), got 2',
    'rules[0].match: ports need proto tcp, udp, sctp or udplite',
    'rules[1].match.dst[1]: unknown set "@s2" (did you mean "s1"?)',
    'rules[2].match.src[0]: an IPv6 prefix in a rule for ipv4',
  ]);
});

test('YAML syntax errors carry a line number and nothing else is attempted', () => {
  const issues = issuesOf('links:\n  - name: [\n');
  assert.equal(issues.length >= 1, true);
  assert.match(issues[0]!, /YAML line \d+ column \d+/);
});

test('duplicate YAML keys are errors', () => {
  const issues = issuesOf('log: { level: info }\nlog: { level: debug }\n');
  assert.match(issues[0]!, /YAML line 2/);
});

test('relay-only and forwards-only configs are valid without links', () => {
  const c = parseConfigText(`
relay:
  exit:
    listen: 0.0.0.0:7000
    keyFile: /etc/wanbraid/relay.key
    allow: [198.19.0.10:5201, 198.19.0.0/24:80-443, "[2001:db8::/32]:443", 2001:db8::10]
`);
  assert.equal(c.relay!.exit!.allow.length, 4);
  assert.deepEqual(c.relay!.exit!.allow[1], { prefix: { address: '198.19.0.0', len: 24, family: 4 }, ports: { from: 80, to: 443 } });
  assert.deepEqual(c.relay!.exit!.allow[3]!.prefix, { address: '2001:db8::10', len: 128, family: 6 });
  const f = parseConfigText('forwards:\n  - { listen: 0.0.0.0:7001, to: 198.19.0.20:7000 }\n');
  assert.deepEqual(f.forwards[0]!.to, { host: '198.19.0.20', port: 7000, family: 4 });
});

test('a relay policy needs a transparent entry and TCP rules', () => {
  const issues = issuesOf(`
lan: { interfaces: [lan0] }
links: [{ name: wan1, interface: wan1 }]
relay:
  entries:
    - { name: bulk, listen: 198.18.200.1:30000, target: 198.19.0.10:5201, exit: 198.19.0.20:7000, keyFile: /k, paths: [{ link: wan1 }, { link: wan2 }] }
policies: { r: { relay: bulk } }
rules: [{ name: x, policy: r }]
`);
  assert.deepEqual(issues, [
    'policies.r.relay: relay entry "bulk" has a fixed target; a policy needs a transparent entry (no target)',
    'relay.entries[0].paths[1].link: unknown link "wan2" (did you mean "wan1"?)',
    'rules[0].match.proto: policy "r" hands flows to a relay, which carries TCP only: add proto: tcp',
  ]);
});

test('schedules: cron expressions and links are checked', () => {
  const issues = issuesOf(`
links: [{ name: wan3, interface: wan3 }]
schedules:
  - { cron: "0 2 * * *", link: wan3, action: down, duration: 30m }
  - { cron: "every night", link: wan4, action: down }
`);
  assert.deepEqual(issues, [
    'schedules[1].cron: expected a cron expression like "0 2 * * *", got "every night"',
    'schedules[1].link: unknown link "wan4" (did you mean "wan3"?)',
  ]);
});

test('value parsers', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2s'), 2000);
  assert.equal(parseDuration('1m'), 60000);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration(250), 250);
  assert.equal(parseDuration('-1s'), undefined);
  assert.equal(parseDuration('2 parsecs'), undefined);
  assert.equal(parseSize('64KiB'), 65536);
  assert.equal(parseSize('4MiB'), 4 << 20);
  assert.equal(parseSize('1.5x'), undefined);
  assert.deepEqual(parseEndpoint('[2001:db8::1]:7000'), { host: '2001:db8::1', port: 7000, family: 6 });
  assert.deepEqual(parseEndpoint('198.18.0.1:7000'), { host: '198.18.0.1', port: 7000, family: 4 });
  assert.equal(parseEndpoint('198.18.0.1:0'), undefined);
  assert.equal(parseEndpoint('example.com:80'), undefined);
  assert.equal(parseEndpoint('2001:db8::1:80'), undefined);
  assert.deepEqual(parsePrefix('198.18.0.0/15'), { address: '198.18.0.0', len: 15, family: 4 });
  assert.equal(parsePrefix('198.18.0.0/33'), undefined);
  assert.deepEqual(parsePortRange('1000-2000'), { from: 1000, to: 2000 });
  assert.equal(parsePortRange('2000-1000'), undefined);
});

test('policy and set names are own keys: Object.prototype names are unknown', () => {
  const issues = issuesOf(`
lan: { interfaces: [lan0] }
links:
  - { name: a, interface: eth1, probe: { targets: [198.19.0.1] } }
policies: { p: { links: [a] } }
sets: { s1: { elements: [198.19.0.0/24] } }
routing: { defaultPolicy: constructor }
rules:
  - { name: r1, match: { dst: ["@toString"] }, policy: p }
  - { name: r2, match: { dst: ["@s1"] }, policy: hasOwnProperty }
`);
  assert.deepEqual(issues, [
    'routing.defaultPolicy: unknown policy "constructor"',
    'rules[0].match.dst[0]: unknown set "@toString"',
    'rules[1].policy: unknown policy "hasOwnProperty"',
  ]);
});

test('probe.passive and probe.passiveSilence: defaults, and clear errors naming the field', () => {
  const c = validateConfig({ links: [{ name: 'l', interface: 'l', probe: { targets: ['198.19.0.1'] } }] });
  assert.equal(c.links[0]!.probe!.passive, true);
  assert.equal(c.links[0]!.probe!.passiveSilence, 300);
  const off = validateConfig({ links: [{ name: 'l', interface: 'l', probe: { targets: ['198.19.0.1'], passive: false, passiveSilence: '1s' } }] });
  assert.equal(off.links[0]!.probe!.passive, false);
  assert.equal(off.links[0]!.probe!.passiveSilence, 1000);
  const issues = issuesOf(`
links:
  - name: wan1
    interface: wan1
    probe: { targets: [198.19.0.1], passive: yes please, passiveSilence: 10ms }
  - name: wan2
    interface: wan2
    probe: { targets: [198.19.0.1], passiveSilence: 1m }
`);
  assert.deepEqual(issues, [
    'links[0].probe.passive: expected true or false, got "yes please"',
    'links[0].probe.passiveSilence: expected a duration from 50ms to 10s, like 300ms, got "10ms"',
    'links[1].probe.passiveSilence: expected a duration from 50ms to 10s, like 300ms, got "1m"',
  ]);
});
