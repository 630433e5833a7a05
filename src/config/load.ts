/**
 * Reading a configuration: YAML text → {@link Config}, or a {@link ConfigError} that lists every
 * problem with its field path (`links[1].gateway: expected an IPv4 or IPv6 address, got
 * "198.18.2"`). Nothing here touches the system beyond reading the file.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import type * as z from 'zod';
import { ConfigError, WanbraidError, type ConfigIssue } from '../errors.js';
import { ConfigSchema, type Config } from './schema.js';
import { referenceCheck, semanticCheck, suggest } from './validate.js';
import { describeValue } from './values.js';
import { expandDials } from '../dial/expand.js';

export const DEFAULT_CONFIG_PATH = '/etc/wanbraid/wanbraid.yaml';

export function loadConfigFile(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new WanbraidError('WB_CONFIG_READ', `${file}: cannot read (${code})`, { cause: err });
  }
  return parseConfigText(text, file);
}

export function parseConfigText(text: string, file?: string): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return { path: '', message: `YAML line ${pos.line} column ${pos.col}: ${e.message.split('\n')[0]}` };
      }),
      file,
    );
  }
  const data: unknown = doc.toJS() ?? {};
  return validateConfig(data, file);
}

/** Validate an already-parsed document (used by reload and by tests). */
export function validateConfig(data: unknown, file?: string): Config {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError([{ path: '', message: `expected a mapping at the top level, got ${describeValue(data)}` }], file);
  }
  const r = ConfigSchema.safeParse(data, { reportInput: true });
  const issues = r.success ? [] : r.error.issues.flatMap((i) => toIssues(i));
  issues.push(...referenceCheck(data));
  if (r.success) issues.push(...semanticCheck(r.data));
  if (issues.length > 0) throw new ConfigError(sortIssues(issues), file);
  // Dial sessions become links (NAME1..NAMEn) and dial names in policies their sessions.
  return expandDials(r.data!);
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

function toIssues(i: z.core.$ZodIssue): ConfigIssue[] {
  const path = formatPath(i.path);
  const input = (i as { input?: unknown }).input;
  switch (i.code) {
    case 'unrecognized_keys': {
      const known = knownKeys(i.path);
      return i.keys.map((k) => ({ path: path ? `${path}.${k}` : k, message: `unknown key${suggest(k, known)}` }));
    }
    case 'invalid_type':
      if (input === undefined) return [{ path, message: `required (expected ${article(i.expected)})` }];
      return [{ path, message: `expected ${article(i.expected)}, got ${describeValue(input)}` }];
    case 'invalid_value':
      return [{ path, message: `expected one of ${i.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(input)}` }];
    case 'too_small':
      if (i.origin === 'array') return [{ path, message: `expected at least ${String(i.minimum)} item${Number(i.minimum) === 1 ? '' : 's'}` }];
      if (i.origin === 'string') return [{ path, message: 'expected a non-empty string' }];
      return [{ path, message: `expected a number >= ${String(i.minimum)}, got ${describeValue(input)}` }];
    case 'too_big':
      if (i.origin === 'array') return [{ path, message: `expected at most ${String(i.maximum)} items` }];
      return [{ path, message: `expected a number <= ${String(i.maximum)}, got ${describeValue(input)}` }];
    case 'invalid_union':
      return [{ path, message: `unexpected value ${describeValue(input)}` }];
    case 'invalid_format':
      return [{ path, message: `expected ${i.format === 'starts_with' ? 'a value starting with "/"' : `a ${i.format}`}, got ${describeValue(input)}` }];
    case 'invalid_key':
      return [{ path, message: `bad key: ${i.issues.map((x) => x.message).join('; ')}` }];
    case 'custom':
      return [{ path, message: i.message }];
    case 'not_multiple_of':
    case 'invalid_element':
      return [{ path, message: i.message }];
  }
}

function article(expected: string): string {
  const names: Record<string, string> = {
    string: 'a string',
    number: 'a number',
    int: 'an integer',
    boolean: 'true or false',
    object: 'a mapping',
    array: 'a list',
    record: 'a mapping',
  };
  return names[expected] ?? expected;
}

/** Keys the schema allows at `path`, for "did you mean" hints. Walks zod's definitions defensively. */
function knownKeys(path: readonly PropertyKey[]): string[] {
  let node: unknown = ConfigSchema;
  for (const seg of path) {
    node = unwrap(node);
    const def = defOf(node);
    if (!def) return [];
    if (def.type === 'object' && typeof seg === 'string') node = (def.shape as Record<string, unknown>)[seg];
    else if (def.type === 'array' && typeof seg === 'number') node = def.element;
    else if (def.type === 'record' && typeof seg === 'string') node = def.valueType;
    else return [];
  }
  const def = defOf(unwrap(node));
  return def?.type === 'object' ? Object.keys(def.shape as object) : [];
}

function defOf(node: unknown): Record<string, unknown> | undefined {
  const zod = (node as { _zod?: { def?: Record<string, unknown> } } | undefined)?._zod;
  return zod?.def;
}

function unwrap(node: unknown): unknown {
  for (let i = 0; i < 10; i++) {
    const def = defOf(node);
    if (!def) return node;
    if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'prefault') node = def.innerType;
    else if (def.type === 'pipe') node = def.out;
    else return node;
  }
  return node;
}

/** Document order is not known after parsing; sort by path so related problems sit together. */
function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues
    .filter((i) => {
      const k = `${i.path}\u0000${i.message}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    })
    .sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
}
