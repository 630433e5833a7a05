/** Admission of connections in the handshake at the exit: total and per-source caps, sources by IPv4 address or IPv6 /64. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionGate, sourceKey } from '../../../src/relay/core/conn-gate.js';

test('sources: an IPv4 address, an IPv6 /64, an IPv4-mapped address as IPv4', () => {
  assert.equal(sourceKey('198.18.0.1'), '198.18.0.1');
  assert.equal(sourceKey('::ffff:198.18.0.1'), '198.18.0.1');
  assert.equal(sourceKey('2001:db8:0:1::1'), sourceKey('2001:db8:0:1:ffff:ffff:ffff:ffff'), 'one /64');
  assert.notEqual(sourceKey('2001:db8:0:1::1'), sourceKey('2001:db8:0:2::1'), 'another /64');
  assert.equal(sourceKey(undefined), '?');
});

test('the total and per-source caps hold; releases make room again', () => {
  const g = new ConnectionGate(5, 2);
  assert.equal(g.admit('a'), undefined);
  assert.equal(g.admit('a'), undefined);
  assert.equal(g.admit('a'), 'source', 'a third from the same source');
  assert.equal(g.admit('b'), undefined);
  assert.equal(g.admit('c'), undefined);
  assert.equal(g.admit('d'), undefined);
  assert.equal(g.active, 5);
  assert.equal(g.admit('e'), 'total', 'a new source, but the total is full');
  g.release('a');
  assert.equal(g.active, 4);
  assert.equal(g.admit('e'), undefined, 'room again');
  assert.equal(g.admit('a'), 'total');
  g.release('b');
  assert.equal(g.admit('a'), undefined, "a's count went down with its release");
  g.release('c');
  assert.equal(g.admit('a'), 'source', 'room in total, none for a');
  g.release('zzz');
  assert.equal(g.active, 4, 'releasing a source never admitted changes nothing');
});

test('a flood from one source takes only its share: the other sources still get in', () => {
  const g = new ConnectionGate(128, 16);
  let admitted = 0;
  for (let i = 0; i < 4000; i++) if (g.admit('198.18.0.66') === undefined) admitted++;
  assert.equal(admitted, 16);
  for (let i = 0; i < 100; i++) assert.equal(g.admit(`198.19.0.${i}`), undefined);
  assert.equal(g.active, 116);
});
