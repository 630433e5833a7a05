import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseListening, servicePorts, serviceSpecs } from '../../../src/lab/topology.js';
import { LAB_PORTS } from '../../../src/lab/addressing.js';

test('ss output becomes listening ports per protocol', () => {
  const out = [
    'udp   UNCONN 0      0                  *:53              *:*',
    'udp   UNCONN 0      0                  *:7               *:*',
    'tcp   LISTEN 0      511                *:80              *:*',
    'tcp   LISTEN 0      4096   [::ffff:198.19.0.1]:9000      *:*',
    'tcp   LISTEN 0      4096   [2001:db8::1]:5201   [::]:*',
    '',
  ].join('\n');
  const l = parseListening(out);
  assert.deepEqual([...l.udp].sort((a, b) => a - b), [7, 53]);
  assert.deepEqual([...l.tcp].sort((a, b) => a - b), [80, 5201, 9000]);
});

test('services: one Node process and one iperf3 per port; HTTPS only with a certificate', () => {
  const specs = serviceSpecs({ cert: '/c', key: '/k' }, { a: '198.19.0.10', aaaa: '2001:db8:ffff::10' });
  assert.deepEqual(specs.map((s) => s.name), ['services', ...LAB_PORTS.iperf3.map((p) => `iperf3-${p}`)]);
  assert.ok(specs[0]!.argv.includes('--cert'));
  assert.deepEqual(specs[1]!.argv, ['iperf3', '-s', '-p', '5201']);
  assert.ok(!serviceSpecs(undefined, { a: 'x', aaaa: 'y' })[0]!.argv.includes('--cert'));
  assert.ok(servicePorts(true).tcp.includes(443));
  assert.ok(!servicePorts(false).tcp.includes(443));
  assert.deepEqual(servicePorts(false).udp, [53, 7]);
});
