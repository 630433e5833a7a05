/**
 * The hook runner with real tiny scripts in a temporary directory: the environment, name order and
 * per-link order, a failing hook logged and not fatal, a hanging hook (and its child) killed after
 * the timeout, non-hooks ignored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HookRunner, auditHooks, untrusted, type HookEvent, type HookOutcome } from '../../../src/status/hooks.js';
import { captureLogger } from '../health/capture-log.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'wanbraid-hooks-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function script(dir: string, name: string, body: string, mode = 0o755): Promise<void> {
  await writeFile(join(dir, name), `#!/bin/sh\n${body}\n`);
  await chmod(join(dir, name), mode);
}

const ev = (over: Partial<HookEvent> = {}): HookEvent => ({
  link: 'wan1',
  device: 'eth1',
  state: 'offline',
  prev: 'online',
  reason: 'probes-failed',
  reasonText: '3 probe rounds failed (down after 3)',
  since: Date.UTC(2024, 0, 1, 0, 0, 0),
  ...over,
});

async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Running (a zombie waiting for whoever adopted it to reap it counts as dead). */
function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

test('a hook sees the change in its environment', async () => {
  await withDir(async (dir) => {
    const out = join(dir, 'env.out');
    await script(dir, '10-env', `env | grep ^WANBRAID_ | sort > "${out}"`);
    const { logger } = captureLogger();
    await new HookRunner({ dir, timeoutMs: 5000, logger }).run(ev());
    assert.deepEqual((await readFile(out, 'utf8')).trim().split('\n'), [
      'WANBRAID_DEVICE=eth1',
      'WANBRAID_LINK=wan1',
      'WANBRAID_PREV=online',
      'WANBRAID_REASON=probes-failed',
      'WANBRAID_REASON_TEXT=3 probe rounds failed (down after 3)',
      'WANBRAID_SINCE=2024-01-01T00:00:00.000Z',
      'WANBRAID_STATE=offline',
    ]);
  });
});

test('hooks run in name order; a change waits for the link’s run in flight, and only the newest waiting change runs', async () => {
  await withDir(async (dir) => {
    const out = join(dir, 'order.out');
    const started = join(dir, 'started');
    await script(dir, '20-second', `echo "$WANBRAID_STATE second" >> "${out}"`);
    // The first hook of the first change is slow: later changes must wait for it.
    await script(dir, '10-first', `touch "${started}"; [ "$WANBRAID_STATE" = offline ] && sleep 0.3; echo "$WANBRAID_STATE first" >> "${out}"`);
    await writeFile(join(dir, 'README'), 'not executable');
    await script(dir, '.hidden', `echo hidden >> "${out}"`);
    await script(dir, '30-backup~', `echo backup >> "${out}"`);
    const { logger } = captureLogger();
    const r = new HookRunner({ dir, timeoutMs: 5000, logger });
    void r.run(ev({ state: 'offline' }));
    await waitFor('the first run to start', () => existsSync(started));
    void r.run(ev({ state: 'probing', prev: 'offline' }));
    void r.run(ev({ state: 'online', prev: 'probing' }));
    await r.idle();
    assert.deepEqual((await readFile(out, 'utf8')).trim().split('\n'), ['offline first', 'offline second', 'online first', 'online second']);
    assert.equal(r.skippedChanges, 1, 'probing was replaced by online while it waited');
  });
});

test('100 quick flaps: one run in flight, one waiting; the last run sees the newest state, right after the first', async () => {
  await withDir(async (dir) => {
    const out = join(dir, 'runs.out');
    await script(dir, '10-log', `echo "start $WANBRAID_STATE $WANBRAID_SINCE" >> "${out}"; sleep 0.2; echo "end $WANBRAID_STATE" >> "${out}"`);
    const { logger } = captureLogger();
    const r = new HookRunner({ dir, timeoutMs: 5000, logger });
    const t0 = Date.UTC(2024, 0, 1);
    void r.run(ev({ state: 'offline', prev: 'online', since: t0 }));
    await waitFor('the first run to start', () => existsSync(out));
    const done: Promise<void>[] = [];
    for (let i = 1; i <= 100; i++) {
      const state = i % 2 === 0 ? 'offline' : 'online';
      done.push(r.run(ev({ state, prev: state === 'online' ? 'offline' : 'online', since: t0 + i })));
    }
    await Promise.all(done);
    await r.idle();
    const lines = (await readFile(out, 'utf8')).trim().split('\n');
    assert.deepEqual(lines, [
      `start offline ${new Date(t0).toISOString()}`,
      'end offline',
      // The 100th change (even: offline) is the newest; the 99 before it never ran.
      `start offline ${new Date(t0 + 100).toISOString()}`,
      'end offline',
    ]);
    assert.equal(r.skippedChanges, 99);
  });
});

test('a failing hook is logged with its exit code and stderr, and the next hook still runs', async () => {
  await withDir(async (dir) => {
    const out = join(dir, 'ran.out');
    await script(dir, '10-fail', 'echo "no route to nowhere" >&2; exit 3');
    await script(dir, '20-ok', `echo ok > "${out}"`);
    const log = captureLogger();
    const outcomes: HookOutcome[] = [];
    await new HookRunner({ dir, timeoutMs: 5000, logger: log.logger, onOutcome: (_e, o) => outcomes.push(o) }).run(ev());
    assert.equal((await readFile(out, 'utf8')).trim(), 'ok');
    assert.deepEqual(outcomes.map((o) => o.code), [3, 0]);
    const warn = log.find((l) => l.level === 'warn' && l.op === 'hook');
    assert.ok(warn, 'a warning was logged');
    assert.equal(warn.link, 'wan1');
    assert.equal(warn.code, 3);
    assert.match(String(warn.err), /exit 3: no route to nowhere/);
  });
});

test('a hanging hook and what it started are killed after the timeout; the runner goes on', async () => {
  await withDir(async (dir) => {
    const pidFile = join(dir, 'child.pid');
    await script(dir, '10-hang', `sleep 60 & echo $! > "${pidFile}"; wait`);
    await script(dir, '20-after', `echo after > "${join(dir, 'after.out')}"`);
    const log = captureLogger();
    const outcomes: HookOutcome[] = [];
    await new HookRunner({ dir, timeoutMs: 300, logger: log.logger, onOutcome: (_e, o) => outcomes.push(o) }).run(ev());
    assert.equal(outcomes[0]!.timedOut, true);
    assert.match(outcomes[0]!.error!, /killed after 300ms/);
    assert.equal((await readFile(join(dir, 'after.out'), 'utf8')).trim(), 'after');
    const childPid = Number((await readFile(pidFile, 'utf8')).trim());
    // The group got SIGTERM, then SIGKILL on the hook's exit: give the kernel a moment to reap it.
    for (let i = 0; i < 100 && alive(childPid); i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(alive(childPid), false, 'the hook’s child was killed too');
    assert.ok(log.find((l) => l.level === 'warn' && String(l.msg).includes('timed out')));
  });
});

test('a missing directory runs nothing; a hook that cannot start is logged', async () => {
  const { logger } = captureLogger();
  await new HookRunner({ dir: '/nonexistent/wanbraid-hooks', timeoutMs: 100, logger }).run(ev());
  await withDir(async (dir) => {
    await writeFile(join(dir, '10-noshebang'), '\x7fELFgarbage');
    await chmod(join(dir, '10-noshebang'), 0o755);
    const log = captureLogger();
    const outcomes: HookOutcome[] = [];
    await new HookRunner({ dir, timeoutMs: 2000, logger: log.logger, onOutcome: (_e, o) => outcomes.push(o) }).run(ev());
    assert.equal(outcomes.length, 1);
    assert.notEqual(outcomes[0]!.error, undefined);
  });
});

test('what a hook leaves running in its process group is killed when it exits; a new session escapes (control)', async () => {
  await withDir(async (dir) => {
    const bgPid = join(dir, 'bg.pid');
    const escapedPid = join(dir, 'escaped.pid');
    // Exits at once, leaving a background sleep in its group, and one in a session of its own.
    // The escaped one writes its pid only once in its own session; the hook waits for that.
    await script(dir, '10-bg', `sleep 60 & echo $! > "${bgPid}"; setsid sh -c 'echo $$ > "${escapedPid}"; exec sleep 60' & while [ ! -s "${escapedPid}" ]; do sleep 0.01; done; exit 0`);
    const log = captureLogger();
    const outcomes: HookOutcome[] = [];
    await new HookRunner({ dir, timeoutMs: 5000, logger: log.logger, onOutcome: (_e, o) => outcomes.push(o) }).run(ev());
    assert.equal(outcomes[0]!.code, 0);
    assert.equal(outcomes[0]!.timedOut, false);
    const bg = Number((await readFile(bgPid, 'utf8')).trim());
    const escaped = Number((await readFile(escapedPid, 'utf8')).trim());
    try {
      await waitFor('the background child to die', () => !alive(bg), 5000);
      // Positive control: the check sees a live process (one the group kill cannot reach).
      assert.equal(alive(escaped), true, 'a process in another session is still running');
    } finally {
      try {
        process.kill(escaped, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
});

test('untrusted hooks are refused: a directory or hook writable by group or others, or owned by another user', async () => {
  await withDir(async (dir) => {
    const out = join(dir, 'ran.out');
    await script(dir, '10-ok', `echo ok >> "${out}"`);
    await script(dir, '20-group-writable', `echo group >> "${out}"`, 0o775);
    await script(dir, '30-world-writable', `echo world >> "${out}"`, 0o757);
    const asRoot = process.getuid!() === 0;
    if (asRoot) {
      await script(dir, '40-other-owner', `echo other >> "${out}"`);
      await chown(join(dir, '40-other-owner'), 65534, 65534);
    }
    const log = captureLogger();
    const r = new HookRunner({ dir, timeoutMs: 5000, logger: log.logger });
    await r.run(ev());
    await r.run(ev({ state: 'online', prev: 'offline' }));
    assert.deepEqual((await readFile(out, 'utf8')).trim().split('\n'), ['ok', 'ok'], 'only the trusted hook ran');
    const refused = log.find((l) => l.level === 'error' && String(l.msg).includes('20-group-writable'));
    assert.ok(refused, 'the refusal is logged');
    assert.equal(refused.reason, 'writable by its group (mode 0775): not run');
    assert.equal(log.lines.filter((l) => l.level === 'error' && String(l.msg).includes('20-group-writable')).length, 1, 'once, not once per change');
    const { hooks, problems } = await auditHooks(dir);
    assert.deepEqual(hooks, [join(dir, '10-ok')]);
    assert.deepEqual(problems, [
      { path: join(dir, '20-group-writable'), reason: 'writable by its group (mode 0775): not run' },
      { path: join(dir, '30-world-writable'), reason: 'writable by others (mode 0757): not run' },
      ...(asRoot ? [{ path: join(dir, '40-other-owner'), reason: 'owned by uid 65534, not root: not run' }] : []),
    ]);
    // A world-writable directory: nothing in it runs.
    await chmod(dir, 0o777);
    const log2 = captureLogger();
    await new HookRunner({ dir, timeoutMs: 5000, logger: log2.logger }).run(ev());
    assert.deepEqual((await readFile(out, 'utf8')).trim().split('\n'), ['ok', 'ok']);
    assert.ok(log2.find((l) => l.level === 'error' && l.reason === 'writable by its group and others (mode 0777): no hook in it runs'));
    assert.deepEqual((await auditHooks(dir)).hooks, []);
    await chmod(dir, 0o700);
  });
});

test('the trust rule on owner and mode', () => {
  assert.equal(untrusted({ uid: 0, mode: 0o100755 }, 1000), undefined);
  assert.equal(untrusted({ uid: 1000, mode: 0o100700 }, 1000), undefined, 'the daemon\'s own uid');
  assert.equal(untrusted({ uid: 1000, mode: 0o100755 }, 0), 'owned by uid 1000, not root');
  assert.equal(untrusted({ uid: 0, mode: 0o100775 }, 0), 'writable by its group (mode 0775)');
  assert.equal(untrusted({ uid: 0, mode: 0o40777 }, 0), 'writable by its group and others (mode 0777)');
  assert.equal(untrusted({ uid: 0, mode: 0o100757 }, 0), 'writable by others (mode 0757)');
});
