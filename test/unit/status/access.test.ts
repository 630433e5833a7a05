/** The control socket's roles as a pure table: which requests change state, and who may make them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isControlRequest, refusal } from '../../../src/status/access.js';
import type { Request } from '../../../src/status/protocol.js';

const reqs: Record<string, Request> = {
  status: { cmd: 'status' },
  subscribe: { cmd: 'subscribe' },
  ping: { cmd: 'ping' },
  list: { cmd: 'set', set: 'cdn', op: 'list', elements: [] },
  add: { cmd: 'set', set: 'cdn', op: 'add', elements: ['198.19.0.1'] },
  del: { cmd: 'set', set: 'cdn', op: 'delete', elements: ['198.19.0.1'] },
  flush: { cmd: 'set', set: 'cdn', op: 'flush', elements: [] },
  link: { cmd: 'link', link: 'wan1', action: 'down' },
  reload: { cmd: 'reload' },
  speedtest: { cmd: 'speedtest' },
};

test('read requests and control requests', () => {
  const control = Object.entries(reqs)
    .filter(([, r]) => isControlRequest(r))
    .map(([k]) => k);
  assert.deepEqual(control, ['add', 'del', 'flush', 'link', 'reload', 'speedtest']);
});

test('who may change state: root, the daemon\'s uid, primary or supplementary members of the control group', () => {
  const policy = { ownUid: 999, controlGid: 4242, controlGroup: 'wbadmin' };
  const peer = (uid: number, gid: number, groups: number[] = []) => ({ pid: 1, uid, gid, groups });
  for (const p of [peer(0, 0), peer(999, 999), peer(1000, 4242), peer(1000, 1000, [27, 4242])]) assert.equal(refusal(reqs.link!, p, policy), undefined, JSON.stringify(p));
  const outsider = peer(1000, 1000, [27]);
  assert.equal(
    refusal(reqs.link!, outsider, policy),
    'permission denied: "link" changes the daemon\'s state; allowed for root and members of status.controlGroup "wbadmin", this client is uid 1000 (read-only: status, events and set list work)',
  );
  assert.match(refusal(reqs.add!, outsider, policy)!, /^permission denied: "set add" changes/);
  for (const k of ['status', 'subscribe', 'ping', 'list']) assert.equal(refusal(reqs[k]!, outsider, policy), undefined, k);
  // No control group: root (and the daemon's own uid) only.
  assert.match(refusal(reqs.reload!, peer(1000, 4242), { ownUid: 0, controlGid: undefined, controlGroup: undefined })!, /allowed for root \(set status\.controlGroup to allow a group\)/);
  // Unreadable credentials: refused, and the reason is said.
  assert.match(refusal(reqs.reload!, new Error('EBADF'), policy)!, /credentials cannot be read \(EBADF\)/);
  assert.equal(refusal(reqs.status!, new Error('EBADF'), policy), undefined);
});
