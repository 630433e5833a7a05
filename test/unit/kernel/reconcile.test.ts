import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diff, type ObjectKind } from '../../../src/kernel/reconcile.js';
import { reconcileRouting, type KindIO } from '../../../src/kernel/reconcile-run.js';
import { LatestRunner } from '../../../src/kernel/latest.js';

/** A toy object: key `k`, payload `v`, owner by protocol, replaceable when `r` is equal. */
interface Obj {
  k: string;
  v: string;
  proto: number;
  r?: string;
  rank?: number;
}

const kind = (name: string, coexist = false): ObjectKind<Obj> => ({
  name,
  key: (o) => o.k,
  equals: (a, b) => a.k === b.k && a.v === b.v && a.proto === b.proto && a.r === b.r,
  canReplace: (a, b) => a.k === b.k && a.r === b.r,
  describe: (o) => `${o.k}=${o.v}`,
  owner: (o) => (o.proto === 87 ? 'ours' : o.proto === 2 ? 'kernel' : 'foreign'),
  coexist,
  rank: (o) => o.rank ?? 0,
});

const ours = (k: string, v: string, extra: Partial<Obj> = {}): Obj => ({ k, v, proto: 87, ...extra });

test('diff: equal objects stay, changed ones are replaced, stale ones deleted, foreign ones never touched', () => {
  const actual = [ours('a', '1'), ours('b', '1'), ours('c', '1'), { k: 'f', v: 'x', proto: 4 }, { k: 'g', v: 'x', proto: 2 }];
  const desired = [ours('a', '1'), ours('b', '2'), ours('d', '1')];
  const d = diff(kind('t'), actual, desired);
  assert.equal(d.unchanged, 1);
  assert.deepEqual(
    d.create.map((s) => `${s.op}:${s.obj.k}`),
    ['replace:b', 'add:d'],
  );
  assert.deepEqual(d.remove.map((s) => `${s.op}:${s.obj.k}`), ['delete:c']);
});

test('diff: a desired key held by a foreign object is a conflict; an owned one that cannot be replaced is recreated', () => {
  const actual = [{ k: 'a', v: 'theirs', proto: 4 }, ours('b', '1', { r: 'x' })];
  const desired = [ours('a', '1'), ours('b', '2', { r: 'y' })];
  const d = diff(kind('t'), actual, desired);
  assert.deepEqual(d.create.map((s) => `${s.op}:${s.obj.k}`), ['conflict:a', 'recreate:b']);
  assert.deepEqual(d.remove, []);
  // Coexisting kinds (rules) add beside a foreign equal-keyed object.
  const r = diff(kind('rule', true), actual, desired);
  assert.deepEqual(r.create.map((s) => `${s.op}:${s.obj.k}`), ['add:a', 'add:b']);
  assert.deepEqual(r.remove.map((s) => `${s.op}:${s.obj.k}`), ['delete:b']);
});

test('diff: creation follows rank, deletion runs in reverse rank', () => {
  const d = diff(kind('nh'), [ours('g0', '1', { rank: 1 }), ours('s0', '1', { rank: 0 })], [ours('g', '1', { rank: 1 }), ours('s', '1', { rank: 0 })]);
  assert.deepEqual(d.create.map((s) => s.obj.k), ['s', 'g']);
  assert.deepEqual(d.remove.map((s) => s.obj.k), ['g0', 's0']);
});

/** An in-memory kernel for one kind, with a log of calls and optional failures. */
class FakeIO implements KindIO<Obj> {
  readonly log: string[];
  constructor(
    public objs: Obj[],
    log: string[],
    private readonly name: string,
    private readonly fail: Set<string> = new Set(),
  ) {
    this.log = log;
  }
  async list() {
    return this.objs.map((o) => ({ ...o }));
  }
  async add(o: Obj) {
    this.log.push(`${this.name} add ${o.k}`);
    if (this.fail.has(o.k)) throw Object.assign(new Error(`add ${o.k}: ENETUNREACH`), { errno: 'ENETUNREACH' });
    if (this.objs.some((x) => x.k === o.k) && this.name !== 'rule') throw Object.assign(new Error('EEXIST'), { errno: 'EEXIST' });
    this.objs.push({ ...o });
  }
  async replace(o: Obj) {
    this.log.push(`${this.name} replace ${o.k}`);
    this.objs = this.objs.filter((x) => x.k !== o.k).concat({ ...o });
  }
  async remove(o: Obj) {
    this.log.push(`${this.name} del ${o.k}`);
    const before = this.objs.length;
    this.objs = this.objs.filter((x) => !(x.k === o.k && x.v === o.v));
    if (this.objs.length === before) throw Object.assign(new Error('ENOENT'), { errno: 'ENOENT' });
  }
}

test('reconcileRouting orders creation and deletion across kinds and reports per object', async () => {
  const log: string[] = [];
  const nh = new FakeIO([ours('nh-old', '1')], log, 'nh');
  const rt = new FakeIO([ours('r-old', '1'), { k: 'r-foreign', v: '1', proto: 4 }], log, 'route', new Set(['r-bad']));
  const ru = new FakeIO([ours('u-old', '1')], log, 'rule');
  const report = await reconcileRouting({
    nexthops: { kind: kind('nexthop'), io: nh, desired: [ours('nh-grp', '1', { rank: 1 }), ours('nh-1', '1')] },
    routes: { kind: kind('route'), io: rt, desired: [ours('r-1', '1'), ours('r-bad', '1'), ours('r-foreign', '1')] },
    rules: { kind: kind('rule', true), io: ru, desired: [ours('u-1', '1')] },
  });
  assert.deepEqual(log, ['nh add nh-1', 'nh add nh-grp', 'route add r-1', 'route add r-bad', 'rule add u-1', 'rule del u-old', 'route del r-old', 'nh del nh-old']);
  const failed = report.results.filter((r) => !r.ok).map((r) => `${r.kind}:${r.op}:${r.object}`);
  assert.deepEqual(failed, ['route:add:r-bad=1', 'route:conflict:r-foreign=1']);
  assert.match(report.results.find((r) => r.op === 'conflict')!.detail!, /foreign route .*left alone/);
  assert.equal(report.superseded, false);
  assert.deepEqual(rt.objs.map((o) => o.k).sort(), ['r-1', 'r-foreign']);
  // A second run only retries what failed.
  log.length = 0;
  const again = await reconcileRouting({
    nexthops: { kind: kind('nexthop'), io: nh, desired: [ours('nh-grp', '1', { rank: 1 }), ours('nh-1', '1')] },
    routes: { kind: kind('route'), io: rt, desired: [ours('r-1', '1'), ours('r-bad', '1'), ours('r-foreign', '1')] },
    rules: { kind: kind('rule', true), io: ru, desired: [ours('u-1', '1')] },
  });
  assert.deepEqual(log, ['route add r-bad']);
  assert.equal(again.unchanged, 4);
});

test('a delete of something already gone counts as done; a recreated group makes routes be read again', async () => {
  const log: string[] = [];
  const nh = new FakeIO([ours('grp', '1', { r: 'buckets-128' })], log, 'nh');
  const rt = new FakeIO([ours('default', 'via-grp')], log, 'route');
  // Deleting the group takes the route with it, as the kernel does.
  const origRemove = nh.remove.bind(nh);
  nh.remove = async (o) => {
    await origRemove(o);
    rt.objs = rt.objs.filter((r) => r.k !== 'default');
  };
  const report = await reconcileRouting({
    nexthops: { kind: kind('nexthop'), io: nh, desired: [ours('grp', '1', { r: 'buckets-64' })] },
    routes: { kind: kind('route'), io: rt, desired: [ours('default', 'via-grp')] },
    rules: { kind: kind('rule', true), io: new FakeIO([], log, 'rule'), desired: [] },
  });
  assert.deepEqual(log, ['nh del grp', 'nh add grp', 'route add default']);
  assert.ok(report.results.every((r) => r.ok));
});

test('a run stops between steps when a newer state is waiting', async () => {
  const log: string[] = [];
  let calls = 0;
  const report = await reconcileRouting(
    {
      nexthops: { kind: kind('nexthop'), io: new FakeIO([], log, 'nh'), desired: [ours('a', '1'), ours('b', '1'), ours('c', '1')] },
      routes: { kind: kind('route'), io: new FakeIO([], log, 'route'), desired: [ours('r', '1')] },
      rules: { kind: kind('rule', true), io: new FakeIO([], log, 'rule'), desired: [] },
    },
    () => ++calls > 1,
  );
  assert.deepEqual(log, ['nh add a']);
  assert.equal(report.superseded, true);
  assert.equal(report.skipped, 3);
});

test('LatestRunner runs one job at a time and keeps only the newest waiting input', async () => {
  const started: number[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const runner = new LatestRunner<number, string>(async (n, hasNewer) => {
    started.push(n);
    if (n === 1) {
      await gate;
      return `1 newer=${hasNewer()}`;
    }
    return String(n);
  });
  const p1 = runner.submit(1);
  const p2 = runner.submit(2);
  const p3 = runner.submit(3);
  assert.deepEqual(await p2, { superseded: true });
  release();
  assert.deepEqual(await p1, { superseded: false, result: '1 newer=true' });
  assert.deepEqual(await p3, { superseded: false, result: '3' });
  assert.deepEqual(started, [1, 3]);
  await runner.idle();
  await assert.rejects(new LatestRunner<number, void>(async () => Promise.reject(new Error('boom'))).submit(1), /boom/);
});
