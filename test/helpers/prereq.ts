/**
 * Tests that need something outside the project (a system tool, the built native addon) go
 * through here, so that a missing prerequisite can never pass quietly in CI.
 *
 * Outside CI a missing prerequisite skips the test with a reason that says what is missing and
 * how to get it. With `CI=true` (or `CI=1`) — CI installs everything with scripts/install.sh —
 * the same test runs as a failure with that message instead: a skip there would hide a broken
 * install. scripts/run-tests.mjs also fails a CI run with any skipped test, so a skip that
 * bypasses this helper is caught too.
 *
 * ```ts
 * import { systemdAnalyze } from '../../helpers/prereq.js';
 * const needs = systemdAnalyze();
 * needs.test('the unit verifies cleanly', () => { ... });
 * ```
 * or, for a prerequisite of your own: `requirePrereq({ name, available, install }).test(...)`.
 * The decision itself is {@link decidePrereq}, a pure function (unit-tested).
 */
import { test, type TestContext } from 'node:test';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { DEFAULT_ADDON_PATH } from '../../src/native/addon.js';

export interface Prereq {
  /** What is needed, e.g. "systemd-analyze". */
  name: string;
  /** Whether it is there (probed once, when the test file loads). */
  available: boolean;
  /** How to get it, e.g. "apt-get install systemd (scripts/install.sh installs it)". */
  install: string;
}

export type PrereqDecision = { action: 'run' } | { action: 'skip'; reason: string } | { action: 'fail'; reason: string };

/** Whether this environment is CI: `CI=true` or `CI=1` (what .ci/run and common CI services set). */
export function isCi(env: Readonly<Record<string, string | undefined>>): boolean {
  return env.CI === 'true' || env.CI === '1';
}

/** Run when available; otherwise skip, or fail in CI. */
export function decidePrereq(p: Prereq, env: Readonly<Record<string, string | undefined>> = process.env): PrereqDecision {
  if (p.available) return { action: 'run' };
  const missing = `${p.name} is not available: ${p.install}`;
  return isCi(env) ? { action: 'fail', reason: `${missing} (CI=${env.CI}: a missing prerequisite fails instead of skipping)` } : { action: 'skip', reason: missing };
}

type TestBody = (t: TestContext) => void | Promise<void>;

export interface Gate {
  readonly decision: PrereqDecision;
  /** `node:test`'s test(), run, skipped or failed according to {@link decision}. */
  test(name: string, fn: TestBody): void;
}

export function requirePrereq(p: Prereq, env: Readonly<Record<string, string | undefined>> = process.env): Gate {
  const decision = decidePrereq(p, env);
  return {
    decision,
    test(name, fn) {
      switch (decision.action) {
        case 'run':
          test(name, fn);
          return;
        case 'skip':
          test(name, { skip: decision.reason }, fn);
          return;
        case 'fail':
          test(name, () => {
            throw new Error(decision.reason);
          });
          return;
      }
    },
  };
}

/** `command args` can be started and exits 0. */
export function commandWorks(command: string, args: readonly string[]): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
}

/** systemd-analyze (the unit file check). */
export function systemdAnalyze(env?: Readonly<Record<string, string | undefined>>): Gate {
  return requirePrereq({ name: 'systemd-analyze', available: commandWorks('systemd-analyze', ['--version']), install: 'apt-get install systemd (scripts/install.sh installs it)' }, env);
}

/** The project's N-API addon, built by `npm run build` (build/Release/wanbraid_native.node). */
export function nativeAddonBuilt(env?: Readonly<Record<string, string | undefined>>): Gate {
  return requirePrereq({ name: `the native addon (${DEFAULT_ADDON_PATH})`, available: existsSync(DEFAULT_ADDON_PATH), install: 'build it with npm run build (needs make and g++)' }, env);
}
