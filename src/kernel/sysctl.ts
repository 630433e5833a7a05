/**
 * Sysctls wanbraid changes while it runs, and their restoration.
 *
 * {@link SysctlGuard.ensure} sets each value, remembering the value it found the first time; a
 * copy of those originals is written to a state file before anything changes, so that after a
 * crash the next run restores the values from before the first run, not its predecessor's.
 * {@link SysctlGuard.restore} puts the originals back and removes the file. Values live under
 * /proc/sys of the caller's network namespace (net.* sysctls are per namespace).
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { WanbraidError } from '../errors.js';

/** Reads and writes one sysctl by its dotted name. */
export interface SysctlIO {
  read(key: string): Promise<string>;
  write(key: string, value: string): Promise<void>;
}

/** /proc/sys of the calling process's namespace. */
export const procSysctl: SysctlIO = {
  async read(key) {
    return readFileSync(procPath(key), 'utf8').trim();
  },
  async write(key, value) {
    try {
      writeFileSync(procPath(key), value);
    } catch (err) {
      throw new WanbraidError('WB_KERNEL', `sysctl ${key}=${value}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
    }
  },
};

function procPath(key: string): string {
  if (!/^[a-z0-9_.-]+$/i.test(key) || key.includes('..')) throw new WanbraidError('WB_INTERNAL', `bad sysctl name "${key}"`);
  return join('/proc/sys', ...key.split('.'));
}

export interface SysctlGuardOptions {
  io?: SysctlIO;
  /** File holding the originals across a crash (default none: originals live in memory only). */
  stateFile?: string;
}

export class SysctlGuard {
  private readonly io: SysctlIO;
  private readonly stateFile: string | undefined;
  private originals: Record<string, string>;

  constructor(opts: SysctlGuardOptions = {}) {
    this.io = opts.io ?? procSysctl;
    this.stateFile = opts.stateFile;
    this.originals = this.stateFile ? readState(this.stateFile) : {};
  }

  /** The values found before the first change (from the state file after a crash). */
  get saved(): Readonly<Record<string, string>> {
    return { ...this.originals };
  }

  /** Set every value; returns the keys that were changed now. */
  async ensure(values: readonly { key: string; value: string }[]): Promise<string[]> {
    const current = new Map<string, string>();
    for (const { key } of values) current.set(key, await this.io.read(key));
    let dirty = false;
    for (const { key } of values) {
      if (!Object.hasOwn(this.originals, key)) {
        this.originals[key] = current.get(key)!;
        dirty = true;
      }
    }
    if (dirty) this.persist();
    const changed: string[] = [];
    for (const { key, value } of values) {
      if (current.get(key) === value) continue;
      await this.io.write(key, value);
      changed.push(key);
    }
    return changed;
  }

  /** Put every original value back, then forget them. */
  async restore(): Promise<{ key: string; value: string; ok: boolean; detail?: string }[]> {
    const out: { key: string; value: string; ok: boolean; detail?: string }[] = [];
    for (const [key, value] of Object.entries(this.originals)) {
      try {
        if ((await this.io.read(key)) !== value) await this.io.write(key, value);
        out.push({ key, value, ok: true });
      } catch (err) {
        out.push({ key, value, ok: false, detail: err instanceof Error ? err.message : String(err) });
      }
    }
    if (out.every((r) => r.ok)) {
      this.originals = {};
      if (this.stateFile) rmSync(this.stateFile, { force: true });
    }
    return out;
  }

  private persist(): void {
    if (!this.stateFile) return;
    mkdirSync(dirname(this.stateFile), { recursive: true });
    const tmp = `${this.stateFile}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.originals) + '\n', { mode: 0o600 });
    renameSync(tmp, this.stateFile);
  }
}

function readState(file: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string')) return v as Record<string, string>;
  } catch {
    /* a torn file: fall through */
  }
  throw new WanbraidError('WB_INTERNAL', `${file}: unreadable sysctl state; remove it after checking the values it should restore`);
}
