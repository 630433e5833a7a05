/**
 * The state file of the lab that `wanbraid lab up` leaves running: `<dir>/lab.json`, where dir
 * is /run/wanbraid-lab or `$WANBRAID_LAB_DIR`. One lab per state directory.
 *
 * `lab up` first claims the file atomically (`O_EXCL`, a `starting` placeholder with its PID), so
 * two `lab up` cannot both build a lab; then it replaces the placeholder with the lab's
 * {@link LabRecord}. A record is checked before anything acts on it: its namespace names must be
 * its run's (`wanbraid-<runId>-<node>`) and its directory `<dir>/wanbraid-lab-<runId>`, so a
 * damaged or foreign file cannot make `lab down` delete anything else.
 */
import { mkdirSync, openSync, writeSync, closeSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { LabRecord } from './testbed.js';
import { nsName } from './netns.js';
import { LAB_DIR_PREFIX } from './lab.js';
import { WanbraidError } from '../errors.js';

export const DEFAULT_LAB_STATE_DIR = '/run/wanbraid-lab';

export function labStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.WANBRAID_LAB_DIR || DEFAULT_LAB_STATE_DIR;
}

export function stateFile(dir: string): string {
  return join(dir, 'lab.json');
}

interface Placeholder {
  status: 'starting';
  pid: number;
}

export type StateContent = { status: 'none' } | { status: 'starting'; pid: number } | { status: 'up'; record: LabRecord };

function labError(message: string, cause?: unknown): WanbraidError {
  return new WanbraidError('WB_LAB', message, cause === undefined ? undefined : { cause });
}

/** Check a parsed state file; returns the record or throws naming the problem. */
export function validateRecord(v: unknown, file: string, dir: string): LabRecord {
  const bad = (what: string) => labError(`${file}: not a lab record (${what}); remove it if no lab is up`);
  if (!v || typeof v !== 'object') throw bad('not an object');
  const r = v as Partial<LabRecord>;
  if (r.version !== 1) throw bad('version is not 1');
  if (r.kind !== 'wan' && r.kind !== 'relay') throw bad('kind');
  if (typeof r.runId !== 'string' || !/^[0-9a-f]{6}$/.test(r.runId)) throw bad('runId');
  if (typeof r.count !== 'number' || !Array.isArray(r.rates)) throw bad('count/rates');
  if (r.profiles !== undefined && (!Array.isArray(r.profiles) || r.profiles.length !== r.count || !r.profiles.every((p) => p === null || typeof p === 'string'))) throw bad('profiles');
  if (typeof r.createdAt !== 'string') throw bad('createdAt');
  if (typeof r.dir !== 'string' || r.dir !== join(dir, `${LAB_DIR_PREFIX}${r.runId}`) || basename(r.dir) !== `${LAB_DIR_PREFIX}${r.runId}`) throw bad('dir');
  if (!r.namespaces || typeof r.namespaces !== 'object') throw bad('namespaces');
  for (const [node, name] of Object.entries(r.namespaces)) if (name !== nsName(r.runId, node)) throw bad(`namespace ${String(name)}`);
  if (!Array.isArray(r.services)) throw bad('services');
  for (const s of r.services) {
    if (!s || typeof s.name !== 'string' || typeof s.node !== 'string' || !Number.isInteger(s.pid) || s.pid <= 1 || !Object.hasOwn(r.namespaces, s.node)) throw bad('services');
  }
  return r as LabRecord;
}

export function readState(dir: string): StateContent {
  const file = stateFile(dir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { status: 'none' };
    throw labError(`${file}: ${(err as Error).message}`, err);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw labError(`${file}: not JSON (${(err as Error).message}); remove it if no lab is up`, err);
  }
  const p = v as Partial<Placeholder>;
  if (p && p.status === 'starting' && typeof p.pid === 'number') return { status: 'starting', pid: p.pid };
  return { status: 'up', record: validateRecord(v, file, dir) };
}

/**
 * Claim the state file for a new lab. Throws if one is claimed by a live `lab up` or holds a
 * record; `isStale(content)` decides whether the file describes a lab that is gone (then it is
 * replaced, and the gone lab's directory removed).
 */
export async function claimState(dir: string, isStale: (content: StateContent) => boolean | Promise<boolean>): Promise<void> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = stateFile(dir);
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw labError(`${file}: ${(err as Error).message}`, err);
      const content = readState(dir);
      if (content.status !== 'none' && !(await isStale(content))) {
        if (content.status === 'starting') throw labError(`a lab is being brought up by process ${content.pid} (${file})`);
        throw labError(`a lab is already up (run ${content.record.runId}, ${content.record.kind}, since ${content.record.createdAt}): run \`wanbraid lab down\` first`);
      }
      if (content.status === 'up') rmSync(content.record.dir, { recursive: true, force: true });
      rmSync(file, { force: true });
      continue;
    }
    const placeholder: Placeholder = { status: 'starting', pid: process.pid };
    writeSync(fd, JSON.stringify(placeholder) + '\n');
    closeSync(fd);
    // Holding the claim, no lab of this directory is alive: a lab directory still here was left
    // by a `lab up` that was interrupted.
    for (const name of readdirSync(dir)) {
      if (new RegExp(`^${LAB_DIR_PREFIX}[0-9a-f]{6}$`).test(name)) rmSync(join(dir, name), { recursive: true, force: true });
    }
    return;
  }
  throw labError(`${file}: could not claim the state file`);
}

/** Replace the state file's content atomically (write aside, rename). */
export function writeState(dir: string, record: LabRecord): void {
  const file = stateFile(dir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(record, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}

export function removeState(dir: string): void {
  rmSync(stateFile(dir), { force: true });
}
