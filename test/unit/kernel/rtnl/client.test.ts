/**
 * RtnlClient against a fake kernel: replies matched by sequence number under concurrency, dumps
 * assembled across datagrams and interleaved with other replies, NLM_F_DUMP_INTR retried,
 * refusals as KernelError, and the failure paths (timeout, ENOBUFS, close, send error).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtnlClient } from '../../../../src/kernel/rtnl/client.js';
import { NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_EXCL, NLM_F_REQUEST, encodeMessage, type NlMessage } from '../../../../src/kernel/rtnl/netlink.js';
import { RTM_GETROUTE, RTM_NEWROUTE } from '../../../../src/kernel/rtnl/constants.js';
import { KernelError, WanbraidError } from '../../../../src/errors.js';
import { FakeKernel, ack, done, part } from './helpers.js';

const body = (n: number) => Buffer.from([n, 0, 0, 0]);

test('a request carries REQUEST|ACK plus its flags and resolves on the ACK', async () => {
  const k = new FakeKernel((req, reply) => reply(ack(req)));
  const nl = RtnlClient.open({ socketFactory: k.factory });
  assert.deepEqual(await nl.request('route add x', RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, body(1)), []);
  assert.equal(k.sent[0]!.flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  assert.deepEqual(k.sent[0]!.payload, body(1));
  assert.deepEqual(k.groups, [], 'the request socket joins no multicast group');
  nl.close();
});

test('concurrent requests answered in reverse order each get their own verdict', async () => {
  const held: NlMessage[] = [];
  const k = new FakeKernel((req, reply) => {
    held.push(req);
    if (held.length === 3) reply(ack(held[2]!, 17), ack(held[1]!), ack(held[0]!, 3));
  });
  const nl = RtnlClient.open({ socketFactory: k.factory });
  const results = await Promise.allSettled([0, 1, 2].map((i) => nl.request(`op${i}`, RTM_NEWROUTE, 0, body(i))));
  assert.equal(results[1]!.status, 'fulfilled');
  const r0 = results[0] as PromiseRejectedResult;
  const r2 = results[2] as PromiseRejectedResult;
  assert.ok(r0.reason instanceof KernelError && r0.reason.errno === 'ESRCH' && r0.reason.op === 'op0');
  assert.ok(r2.reason instanceof KernelError && r2.reason.errno === 'EEXIST' && r2.reason.op === 'op2');
  nl.close();
});

test('a refusal with extended ack becomes a KernelError carrying the text', async () => {
  const k = new FakeKernel((req, reply) => reply(ack(req, 101, 'Nexthop has invalid gateway')));
  const nl = RtnlClient.open({ socketFactory: k.factory });
  await assert.rejects(nl.request('route add 198.18.60.0/24', RTM_NEWROUTE, 0, body(0)), (e: unknown) => {
    assert.ok(e instanceof KernelError);
    assert.equal(e.code, 'WB_KERNEL');
    assert.equal(e.errno, 'ENETUNREACH');
    assert.equal(e.extack, 'Nexthop has invalid gateway');
    assert.equal(e.message, 'route add 198.18.60.0/24: ENETUNREACH (Nexthop has invalid gateway)');
    return true;
  });
  nl.close();
});

test('a GET resolves with the reply that precedes the ACK', async () => {
  const k = new FakeKernel((req, reply) => reply(Buffer.concat([encodeMessage({ type: RTM_NEWROUTE, flags: 0, seq: req.seq, pid: 1, payload: body(9) }), ack(req)])));
  const nl = RtnlClient.open({ socketFactory: k.factory });
  const msgs = await nl.request('route get', RTM_GETROUTE, 0, body(0));
  assert.equal(msgs.length, 1);
  assert.deepEqual(msgs[0]!.payload, body(9));
  nl.close();
});

test('a dump spread over datagrams, with another request answered in between, is assembled whole', async () => {
  let dumpReq: NlMessage | undefined;
  let dumpReply: (...d: Buffer[]) => void = () => undefined;
  const k = new FakeKernel((req, reply) => {
    if (req.flags & NLM_F_DUMP) {
      dumpReq = req;
      dumpReply = reply;
      reply(Buffer.concat([part(req, RTM_NEWROUTE, body(1)), part(req, RTM_NEWROUTE, body(2))]));
    } else {
      // The ACK of a concurrent request arrives between two parts of the dump.
      reply(ack(req));
      dumpReply(Buffer.concat([part(dumpReq!, RTM_NEWROUTE, body(3)), done(dumpReq!)]));
    }
  });
  const nl = RtnlClient.open({ socketFactory: k.factory });
  const dump = nl.dump('route list', RTM_GETROUTE, body(0));
  await new Promise((r) => setImmediate(r));
  await nl.request('route add', RTM_NEWROUTE, 0, body(0));
  const msgs = await dump;
  assert.deepEqual(
    msgs.map((m) => m.payload[0]),
    [1, 2, 3],
  );
  assert.equal(k.sent[0]!.flags, NLM_F_REQUEST | NLM_F_DUMP);
  nl.close();
});

test('a dump marked NLM_F_DUMP_INTR is retried; one that never settles fails with EINTR', async () => {
  let attempts = 0;
  const k = new FakeKernel((req, reply) => {
    attempts++;
    const intr = attempts === 1 ? NLM_F_DUMP_INTR : 0;
    reply(Buffer.concat([part(req, RTM_NEWROUTE, body(attempts), intr), done(req)]));
  });
  const nl = RtnlClient.open({ socketFactory: k.factory });
  const msgs = await nl.dump('route list', RTM_GETROUTE, body(0));
  assert.equal(attempts, 2);
  assert.deepEqual(msgs.map((m) => m.payload[0]), [2]);

  const always = new FakeKernel((req, reply) => reply(Buffer.concat([part(req, RTM_NEWROUTE, body(0), NLM_F_DUMP_INTR), done(req)])));
  const nl2 = RtnlClient.open({ socketFactory: always.factory, dumpRetries: 2 });
  await assert.rejects(nl2.dump('route list', RTM_GETROUTE, body(0)), (e: unknown) => e instanceof KernelError && e.errno === 'EINTR');
  assert.equal(always.sent.length, 3);
  nl.close();
  nl2.close();
});

test('a dump that ends with an error in NLMSG_DONE rejects', async () => {
  const k = new FakeKernel((req, reply) => reply(done(req, 22)));
  const nl = RtnlClient.open({ socketFactory: k.factory });
  await assert.rejects(nl.dump('nexthop list', RTM_GETROUTE, body(0)), (e: unknown) => e instanceof KernelError && e.errno === 'EINVAL');
  nl.close();
});

test('at most maxInflight requests, and one dump, are outstanding at any time', async () => {
  const held: [NlMessage, (...d: Buffer[]) => void][] = [];
  let maxOutstanding = 0;
  let maxDumps = 0;
  const k = new FakeKernel((req, reply) => {
    held.push([req, reply]);
    maxOutstanding = Math.max(maxOutstanding, held.length);
    maxDumps = Math.max(maxDumps, held.filter(([m]) => m.flags & NLM_F_DUMP).length);
  });
  const nl = RtnlClient.open({ socketFactory: k.factory, maxInflight: 2 });
  const all = Promise.all([
    ...[1, 2, 3].map((i) => nl.dump(`d${i}`, RTM_GETROUTE, body(i))),
    ...[4, 5, 6, 7].map((i) => nl.request(`r${i}`, RTM_NEWROUTE, 0, body(i))),
  ]);
  // Answer the oldest outstanding message, one at a time, until all seven have been sent and answered.
  for (let i = 0; i < 100 && (k.sent.length < 7 || held.length); i++) {
    await new Promise((r) => setImmediate(r));
    const next = held.shift();
    if (next) next[1](next[0].flags & NLM_F_DUMP ? done(next[0]) : ack(next[0]));
  }
  await all;
  assert.equal(k.sent.length, 7);
  assert.equal(maxOutstanding, 2);
  assert.equal(maxDumps, 1);
  nl.close();
});

test('no answer within timeoutMs: WB_TIMEOUT; a late answer is ignored', async () => {
  let late: () => void = () => undefined;
  const k = new FakeKernel((req, reply) => (late = () => reply(ack(req))));
  const nl = RtnlClient.open({ socketFactory: k.factory, timeoutMs: 30 });
  await assert.rejects(nl.request('route add', RTM_NEWROUTE, 0, body(0)), (e: unknown) => e instanceof WanbraidError && e.code === 'WB_TIMEOUT' && /route add: no answer/.test(e.message));
  late();
  await new Promise((r) => setImmediate(r));
  nl.close();
});

test('ENOBUFS on the socket fails every outstanding request (their replies may be lost)', async () => {
  const k = new FakeKernel();
  const nl = RtnlClient.open({ socketFactory: k.factory });
  const p = [nl.request('a', RTM_NEWROUTE, 0, body(0)), nl.dump('b', RTM_GETROUTE, body(0))];
  await new Promise((r) => setImmediate(r));
  k.fail('ENOBUFS');
  for (const x of p) await assert.rejects(x, (e: unknown) => e instanceof KernelError && e.errno === 'ENOBUFS');
  nl.close();
});

test('close rejects what is outstanding and everything after', async () => {
  const k = new FakeKernel();
  const nl = RtnlClient.open({ socketFactory: k.factory });
  const p = nl.request('a', RTM_NEWROUTE, 0, body(0));
  await new Promise((r) => setImmediate(r));
  nl.close();
  await assert.rejects(p, /socket closed/);
  await assert.rejects(nl.request('b', RTM_NEWROUTE, 0, body(0)), /socket is closed/);
  assert.ok(k.closed);
});

test('a failed send becomes a KernelError with the socket errno', async () => {
  const k = new FakeKernel();
  const nl = RtnlClient.open({
    socketFactory: (h, o) => {
      const s = k.factory(h, o);
      return { ...s, send: () => Promise.reject(Object.assign(new Error('sendmsg failed'), { code: 'EPERM' })) };
    },
  });
  await assert.rejects(nl.request('route add', RTM_NEWROUTE, 0, body(0)), (e: unknown) => e instanceof KernelError && e.errno === 'EPERM');
  nl.close();
});
