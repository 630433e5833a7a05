/**
 * The control socket protocol: newline-delimited JSON, one request per line, one reply line per
 * request (plus a stream of event lines after `subscribe`). This module is pure: it turns a line
 * into a typed request or an error reply, and frames replies and events.
 *
 * Requests: `{"cmd": "...", "id"?: any, ...}`; the optional `id` is echoed in the reply.
 * Replies:  `{"ok": true, "id"?, ...}` or `{"ok": false, "id"?, "error": {"code", "message"}}`.
 * Events:   `{"event": "...", "time": ISO-8601, ...}` (only on subscribed connections).
 */

import { MAX_SECONDS, MIN_SECONDS } from '../relay/speedtest-plan.js';

/** Longest accepted request line in bytes, newline excluded. */
export const MAX_LINE_BYTES = 64 * 1024;

export type Request =
  | { cmd: 'status' }
  | { cmd: 'subscribe' }
  | { cmd: 'ping' }
  | { cmd: 'reload' }
  | { cmd: 'link'; link: string; action: 'down' | 'up' | 'auto' }
  | { cmd: 'set'; set: string; op: 'add' | 'delete' | 'flush' | 'list'; elements: string[] }
  /** Run `wanbraid speedtest` (progress as `speedtest` events to subscribers; the reply carries the result). */
  | { cmd: 'speedtest'; entry?: string; seconds?: number };

export type RequestId = string | number | null;

export interface ErrorBody {
  code: string;
  message: string;
}

export type ParseResult = { ok: true; id: RequestId | undefined; request: Request } | { ok: false; id: RequestId | undefined; error: ErrorBody };

const COMMANDS = ['status', 'subscribe', 'ping', 'reload', 'link', 'set', 'speedtest'] as const;

function invalid(id: RequestId | undefined, message: string): ParseResult {
  return { ok: false, id, error: { code: 'WB_REQUEST_INVALID', message } };
}

export function parseRequest(line: string): ParseResult {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    return invalid(undefined, `bad JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return invalid(undefined, 'expected a JSON object like {"cmd":"status"}');
  const o = v as Record<string, unknown>;
  const rawId = o.id;
  const id = typeof rawId === 'string' || typeof rawId === 'number' || rawId === null ? rawId : undefined;
  if (rawId !== undefined && id === undefined) return invalid(undefined, '"id" must be a string, a number or null');
  const cmd = o.cmd;
  if (typeof cmd !== 'string') return invalid(id, 'missing "cmd" (one of ' + COMMANDS.join(', ') + ')');
  const allowed = (keys: string[]): string | undefined => {
    const extra = Object.keys(o).filter((k) => k !== 'cmd' && k !== 'id' && !keys.includes(k));
    return extra.length > 0 ? `unknown field${extra.length > 1 ? 's' : ''} ${extra.map((k) => `"${k}"`).join(', ')} for "${cmd}"` : undefined;
  };
  switch (cmd) {
    case 'status':
    case 'subscribe':
    case 'ping':
    case 'reload': {
      const e = allowed([]);
      return e ? invalid(id, e) : { ok: true, id, request: { cmd } };
    }
    case 'link': {
      const e = allowed(['link', 'action']);
      if (e) return invalid(id, e);
      if (typeof o.link !== 'string' || o.link === '') return invalid(id, '"link" must name a link');
      if (o.action !== 'down' && o.action !== 'up' && o.action !== 'auto') return invalid(id, '"action" must be "down", "up" or "auto"');
      return { ok: true, id, request: { cmd, link: o.link, action: o.action } };
    }
    case 'set': {
      const e = allowed(['set', 'op', 'elements']);
      if (e) return invalid(id, e);
      if (typeof o.set !== 'string' || o.set === '') return invalid(id, '"set" must name a set ("bypass" or one of the config\'s sets)');
      if (o.op !== 'add' && o.op !== 'delete' && o.op !== 'flush' && o.op !== 'list') return invalid(id, '"op" must be "add", "delete", "flush" or "list"');
      const elements = o.elements ?? [];
      if (!Array.isArray(elements) || !elements.every((x) => typeof x === 'string')) return invalid(id, '"elements" must be a list of prefixes');
      if ((o.op === 'add' || o.op === 'delete') && elements.length === 0) return invalid(id, `"${o.op}" needs at least one element`);
      return { ok: true, id, request: { cmd, set: o.set, op: o.op, elements: elements } };
    }
    case 'speedtest': {
      const e = allowed(['entry', 'seconds']);
      if (e) return invalid(id, e);
      if (o.entry !== undefined && (typeof o.entry !== 'string' || o.entry === '')) return invalid(id, '"entry" must name a relay entry');
      if (o.seconds !== undefined && (typeof o.seconds !== 'number' || !Number.isFinite(o.seconds) || o.seconds < MIN_SECONDS || o.seconds > MAX_SECONDS)) return invalid(id, `"seconds" must be a number from ${MIN_SECONDS} to ${MAX_SECONDS}`);
      const request: Request = { cmd };
      if (o.entry !== undefined) request.entry = o.entry;
      if (o.seconds !== undefined) request.seconds = o.seconds;
      return { ok: true, id, request };
    }
    default:
      return invalid(id, `unknown command "${cmd}" (one of ${COMMANDS.join(', ')})`);
  }
}

export function okReply(id: RequestId | undefined, body: Record<string, unknown> = {}): string {
  return JSON.stringify(id === undefined ? { ok: true, ...body } : { ok: true, id, ...body }) + '\n';
}

export function errorReply(id: RequestId | undefined, error: ErrorBody): string {
  return JSON.stringify(id === undefined ? { ok: false, error } : { ok: false, id, error }) + '\n';
}

export function eventLine(event: string, body: Record<string, unknown>, now: Date = new Date()): string {
  return JSON.stringify({ event, time: now.toISOString(), ...body }) + '\n';
}

/**
 * Splits a byte stream into lines, bounded: a line longer than {@link MAX_LINE_BYTES} is reported
 * once as oversized and its remaining bytes are skipped up to the next newline.
 */
export class LineSplitter {
  private buf: Buffer[] = [];
  private len = 0;
  private skipping = false;
  constructor(private readonly max = MAX_LINE_BYTES) {}

  /** Feed bytes; returns complete lines (utf-8) and `null` entries for oversized lines. */
  push(chunk: Buffer): (string | null)[] {
    const out: (string | null)[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      const piece = chunk.subarray(start, end);
      if (!this.skipping) {
        if (this.len + piece.length > this.max) {
          this.skipping = true;
          this.buf = [];
          this.len = 0;
          out.push(null);
        } else if (piece.length > 0) {
          this.buf.push(piece);
          this.len += piece.length;
        }
      }
      if (nl < 0) break;
      if (!this.skipping) {
        const line = Buffer.concat(this.buf, this.len).toString('utf8').replace(/\r$/, '');
        if (line.trim() !== '') out.push(line);
      }
      this.skipping = false;
      this.buf = [];
      this.len = 0;
      start = nl + 1;
    }
    return out;
  }
}
