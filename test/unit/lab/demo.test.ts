/** The demo's reading of the router's conntrack table: which link each held connection is on. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linksByPort, namespacesToCompare } from '../../../src/lab/demo.js';
import { labAddressing } from '../../../src/lab/addressing.js';

const links = labAddressing(3).links;

test('each established connection maps to the link its reply is addressed to', () => {
  const text = [
    'tcp      6 431999 ESTABLISHED src=198.18.100.2 dst=198.19.0.10 sport=40001 dport=9000 src=198.19.0.10 dst=198.18.1.1 sport=9000 dport=40001 [ASSURED] mark=65536 use=1',
    'tcp      6 431999 ESTABLISHED src=198.18.100.2 dst=198.19.0.10 sport=40002 dport=9000 src=198.19.0.10 dst=198.18.3.1 sport=9000 dport=40002 [ASSURED] mark=196608 use=1',
    'tcp      6 431999 ESTABLISHED src=2001:db8:100::2 dst=2001:db8:ffff::10 sport=40003 dport=9000 src=2001:db8:ffff::10 dst=2001:db8:2::1 sport=9000 dport=40003 [ASSURED] mark=131072 use=1',
    // A connection of an earlier step, closed: not one of ours any more.
    'tcp      6 110 TIME_WAIT src=198.18.100.2 dst=198.19.0.10 sport=40004 dport=9000 src=198.19.0.10 dst=198.18.2.1 sport=9000 dport=40004 [ASSURED] mark=131072 use=1',
    // A reply to an address that is no link's (not masqueraded): unknown, not guessed.
    'tcp      6 431999 ESTABLISHED src=198.18.100.2 dst=198.19.0.10 sport=40005 dport=9000 src=198.19.0.10 dst=198.18.100.2 sport=9000 dport=40005 [ASSURED] use=1',
    'conntrack v1.4.7 (conntrack-tools): 5 flow entries have been shown.',
  ].join('\n');
  const m = linksByPort(text, links);
  assert.deepEqual([...m.entries()].sort(), [
    [40001, 'wan1'],
    [40002, 'wan3'],
    [40003, 'wan2'],
  ]);
});

test('empty output maps nothing', () => {
  assert.equal(linksByPort('', links).size, 0);
});

test('the host check leaves out other wanbraid runs\' namespaces, and keeps the demo\'s own and everyone else\'s', () => {
  const list = ['wanbraid-abc123-router (id: 4)', 'wanbraid-0f0f0f-client', 'wanbraid-abc123-client', 'docker-ns', 'wanbraid-notarun'].join('\n');
  assert.equal(namespacesToCompare(list, 'abc123'), ['wanbraid-abc123-router (id: 4)', 'wanbraid-abc123-client', 'docker-ns', 'wanbraid-notarun'].join('\n'));
  // Positive control: a leftover of the demo's own run shows up as a difference.
  assert.notEqual(namespacesToCompare('docker-ns', 'abc123'), namespacesToCompare('docker-ns\nwanbraid-abc123-router', 'abc123'));
});
