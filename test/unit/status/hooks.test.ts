/**
 * The hook runner with real tiny scripts in a temporary directory: the environment, name order and
 * per-link order, a failing hook logged and not fatal, a hanging hook (and its child) killed after
 * the timeout, non-hooks ignored.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HookRunner, type HookEvent, type HookOutcome } from '../../../src/status/hooks.js';
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

test('hooks run in name order, and one link’s changes in the order they happened', async () => {
  await withDir(async (dir) => {
    const out = join(dir, 'order.out');
    await script(dir, '20-second', `echo "$WANBRAID_STATE second" >> "${out}"`);
    // The first hook of the first change is slow: the second change must still wait for it.
    await script(dir, '10-first', `[ "$WANBRAID_STATE" = offline ] && sleep 0.3; echo "$WANBRAID_STATE first" >> "${out}"`);
    await writeFile(join(dir, 'README'), 'not executable');
    await script(dir, '.hidden', `echo hidden >> "${out}"`);
    await script(dir, '30-backup~', `echo backup >> "${out}"`);
    const { logger } = captureLogger();
    const r = new HookRunner({ dir, timeoutMs: 5000, logger });
    void r.run(ev({ state: 'offline' }));
    void r.run(ev({ state: 'probing', prev: 'offline' }));
    await r.idle();
    assert.deepEqual((await readFile(out, 'utf8')).trim().split('\n'), ['offline first', 'offline second', 'probing first', 'probing second']);
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
