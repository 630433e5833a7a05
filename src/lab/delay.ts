/**
 * Latency and jitter for lab links, as pure data: parsing `30ms±5ms`-style text, the settings
 * one delay element takes, and the `tc` lines that steer a link's traffic through it. The element
 * itself is native/delay/wanbraid-delay.c; delay-element.ts runs and talks to it.
 *
 * Where the delay sits: in the link's middle node (the ISP, or the relay hop), on the wire. Every
 * IP packet entering that node from the near side (the router's or the entry's veth) is held for
 * the link's `up` delay, every packet entering from the far side (inet, or the exit) for its
 * `down` delay — whether the node forwards it or is its destination (a relay hop's forward
 * process is). So a ping through the link sees up + down; one to the middle node itself sees up
 * only, its reply leaving undelayed. IPv6 neighbour discovery (hop limit 255), multicast and
 * link-local destinations, and ARP bypass the element, so a delayed link keeps its neighbours.
 *
 * How: tc clsact ingress on both veths of the middle node, u32 filters, `mirred egress redirect`
 * to one tun device per direction (`dlyup`, `dlydown`); the element writes each packet back into
 * the same tun when it is due, and the kernel then routes it as if it had just arrived. This kernel
 * has mirred but no gact, so a bypass is a u32 match with a classid and no action (it ends the
 * filter walk and the packet goes on as usual). Rates stay with tbf, on egress after the delay.
 *
 * Units: milliseconds in this module's API (fractions allowed, microsecond resolution), whole
 * microseconds on the element's command line and control socket.
 */
import { WanbraidError } from '../errors.js';
import type { FaultTarget } from './faults.js';

/** One direction of a link. Milliseconds. */
export interface OneWayDelay {
  /** Mean one-way delay. */
  delayMs: number;
  /** The delay wanders within ±jitterMs of the mean (never below zero: jitter ≤ delay). */
  jitterMs: number;
  /** Stall length: the direction freezes this long (0: no stalls). */
  stallMs: number;
  /** Mean time between stalls (exponentially distributed; 0 with no stalls). */
  stallEveryMs: number;
}

/** Both directions, seen from the customer as rates are: `down` toward the router/entry, `up` away. `null`: no delay that way. */
export interface LinkDelay {
  down: OneWayDelay | null;
  up: OneWayDelay | null;
}

/**
 * How a caller gives a link's delay: `'30ms±5ms'` (both directions), `'10ms/20ms'` (down/up),
 * a {@link LinkDelay}, or `null`/`undefined`/`'none'`/`'-'` for none.
 */
export type DelaySpec = string | null | undefined | LinkDelay;

export const NO_DELAY: LinkDelay = { down: null, up: null };

/** Longest delay, jitter or stall the lab accepts (the element's own bound). */
export const MAX_DELAY_MS = 10_000;
/** Longest mean interval between stalls. */
export const MAX_STALL_EVERY_MS = 3_600_000;

/** The element's tun devices in the middle node. */
export const DELAY_DEVS = { up: 'dlyup', down: 'dlydown' } as const;

function labError(message: string): WanbraidError {
  return new WanbraidError('WB_LAB', message);
}

const TIME_UNITS: Record<string, number> = { us: 0.001, µs: 0.001, ms: 1, s: 1000 };

/** `30ms`, `1.5s`, `500us`, or a bare number of milliseconds → milliseconds (µs resolution). */
export function parseDuration(text: string, what: string, maxMs = MAX_DELAY_MS): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(us|µs|ms|s)?\s*$/.exec(text);
  if (!m) throw labError(`${what}: "${text}" is not a duration (like 30ms, 1.5s, 500us)`);
  const ms = Number(m[1]) * TIME_UNITS[m[2] ?? 'ms']!;
  if (!Number.isFinite(ms) || ms > maxMs) throw labError(`${what}: ${text} is more than ${maxMs / 1000} s`);
  return Math.round(ms * 1000) / 1000;
}

function checkOneWay(d: OneWayDelay, what: string): OneWayDelay {
  for (const [k, v] of Object.entries(d)) {
    const max = k === 'stallEveryMs' ? MAX_STALL_EVERY_MS : MAX_DELAY_MS;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > max) throw labError(`${what}: ${k} ${String(v)} is not a number of milliseconds from 0 to ${max}`);
  }
  if (d.jitterMs > d.delayMs) throw labError(`${what}: jitter ${d.jitterMs} ms is more than the delay ${d.delayMs} ms (a packet cannot leave before it arrived)`);
  if ((d.stallMs > 0) !== (d.stallEveryMs > 0)) throw labError(`${what}: a stall needs both its length and its mean interval`);
  const us = (ms: number) => Math.round(ms * 1000) / 1000;
  return { delayMs: us(d.delayMs), jitterMs: us(d.jitterMs), stallMs: us(d.stallMs), stallEveryMs: us(d.stallEveryMs) };
}

/** Whether a direction does anything. */
function active(d: OneWayDelay): boolean {
  return d.delayMs > 0 || d.stallMs > 0;
}

/**
 * One direction: `DELAY[±JITTER][:STALL@EVERY]`, `+-` accepted for `±`; `0`, `-` or `none` for
 * none. `30ms±5ms`, `300ms`, `30ms±10ms:200ms@10s` (stalls of 200 ms, one every 10 s on average).
 */
export function parseOneWay(text: string, what = 'delay'): OneWayDelay | null {
  const t = text.trim();
  if (t === '-' || t === 'none' || t === '0') return null;
  const m = /^([^±:@]+?)(?:(?:±|\+-)([^:@]+))?(?::([^@]+)@(.+))?$/.exec(t);
  if (!m) throw labError(`${what}: "${t}" is not DELAY[±JITTER][:STALL@EVERY] (like 30ms±5ms or 30ms±10ms:200ms@10s)`);
  const d = checkOneWay(
    {
      delayMs: parseDuration(m[1]!, what),
      jitterMs: m[2] === undefined ? 0 : parseDuration(m[2], `${what} jitter`),
      stallMs: m[3] === undefined ? 0 : parseDuration(m[3], `${what} stall`),
      stallEveryMs: m[4] === undefined ? 0 : parseDuration(m[4], `${what} stall interval`, MAX_STALL_EVERY_MS),
    },
    what,
  );
  return active(d) ? d : null;
}

/** A link: `ONEWAY` (both directions) or `DOWN/UP`. */
export function parseLinkDelay(text: string, what = 'delay'): LinkDelay {
  const parts = text.split('/');
  if (parts.length > 2) throw labError(`${what}: "${text}" has more than one "/" (use DOWN/UP)`);
  if (parts.length === 2) return { down: parseOneWay(parts[0]!, `${what} (down)`), up: parseOneWay(parts[1]!, `${what} (up)`) };
  const d = parseOneWay(parts[0]!, what);
  return { down: d, up: d };
}

export function resolveDelay(spec: DelaySpec, what = 'delay'): LinkDelay {
  if (spec === null || spec === undefined) return NO_DELAY;
  if (typeof spec === 'string') return parseLinkDelay(spec, what);
  const one = (d: OneWayDelay | null, dir: string) => {
    if (d === null) return null;
    const c = checkOneWay(d, `${what} (${dir})`);
    return active(c) ? c : null;
  };
  return { down: one(spec.down, 'down'), up: one(spec.up, 'up') };
}

/** Per-link delays for `count` links from an optional list (missing entries: none). */
export function resolveDelays(specs: readonly DelaySpec[] | undefined, count: number, what = 'delays'): LinkDelay[] {
  const list = specs ?? [];
  if (list.length > count) throw labError(`${what}: ${list.length} delays given for ${count} link${count === 1 ? '' : 's'}`);
  return Array.from({ length: count }, (_, k) => resolveDelay(list[k], `${what}[${k}]`));
}

/** The CLI's `--delay`: comma-separated per link, each `ONEWAY` or `DOWN/UP`, `-` for none. */
export function parseDelayList(text: string, what = '--delay'): LinkDelay[] {
  return text.split(',').map((item, k) => {
    const t = item.trim();
    if (!t) throw labError(`${what}: entry ${k + 1} is empty`);
    return parseLinkDelay(t, `${what} entry ${k + 1}`);
  });
}

export function hasDelay(d: LinkDelay): boolean {
  return d.down !== null || d.up !== null;
}

function fmtMs(ms: number): string {
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`;
  if (ms < 1 && ms > 0) return `${Math.round(ms * 1000)}us`;
  return `${ms}ms`;
}

export function formatOneWay(d: OneWayDelay | null): string {
  if (d === null) return '0';
  return `${fmtMs(d.delayMs)}${d.jitterMs ? `±${fmtMs(d.jitterMs)}` : ''}${d.stallMs ? `:${fmtMs(d.stallMs)}@${fmtMs(d.stallEveryMs)}` : ''}`;
}

function sameOneWay(a: OneWayDelay | null, b: OneWayDelay | null): boolean {
  return a === b || (a !== null && b !== null && a.delayMs === b.delayMs && a.jitterMs === b.jitterMs && a.stallMs === b.stallMs && a.stallEveryMs === b.stallEveryMs);
}

/** `none`, `30ms±5ms` (both ways alike) or `10ms/20ms` (down/up); parses back with {@link parseLinkDelay}. */
export function formatLinkDelay(d: LinkDelay): string {
  if (!hasDelay(d)) return 'none';
  return sameOneWay(d.down, d.up) ? formatOneWay(d.down) : `${formatOneWay(d.down)}/${formatOneWay(d.up)}`;
}

/** The element's `D,J,S,E` (whole microseconds) for one direction. */
export function elementParams(d: OneWayDelay | null): string {
  if (d === null) return '0,0,0,0';
  return [d.delayMs, d.jitterMs, d.stallMs, d.stallEveryMs].map((ms) => String(Math.round(ms * 1000))).join(',');
}

/** The control request that gives a running element these settings. */
export function setRequest(d: LinkDelay): string {
  return `set up=${elementParams(d.up)} down=${elementParams(d.down)}`;
}

/** The element's arguments (after the program's path). */
export function elementArgs(d: LinkDelay, control: string, rtPriority: number): string[] {
  return ['--up-dev', DELAY_DEVS.up, '--down-dev', DELAY_DEVS.down, '--control', control, '--up', elementParams(d.up), '--down', elementParams(d.down), '--rt', String(rtPriority)];
}

/** u32 filters on ingress of `dev` that hand every IP packet except ND, multicast and link-local to `tun`. */
function redirectLines(dev: string, tun: string): string[] {
  const pass = 'classid :1'; // a match without an action: ends the walk, the packet goes on as usual
  return [
    `qdisc add dev ${dev} clsact`,
    // Neighbour discovery is sent with hop limit 255 (RFC 4861); nothing else in the lab is.
    `filter add dev ${dev} ingress pref 1 protocol ipv6 u32 match u8 255 0xff at 7 ${pass}`,
    `filter add dev ${dev} ingress pref 2 protocol ipv6 u32 match ip6 dst ff00::/8 ${pass}`,
    `filter add dev ${dev} ingress pref 3 protocol ipv6 u32 match ip6 dst fe80::/10 ${pass}`,
    `filter add dev ${dev} ingress pref 4 protocol ipv6 u32 match u32 0 0 action mirred egress redirect dev ${tun}`,
    `filter add dev ${dev} ingress pref 5 protocol ip u32 match ip dst 224.0.0.0/3 ${pass}`,
    `filter add dev ${dev} ingress pref 6 protocol ip u32 match u32 0 0 action mirred egress redirect dev ${tun}`,
  ];
}

/** `tc -batch` lines (in the target's middle node) that steer both directions through the element. */
export function delayTcLines(t: FaultTarget): string[] {
  return [...redirectLines(t.carrierDev, DELAY_DEVS.up), ...redirectLines(t.farDev, DELAY_DEVS.down)];
}

/** `tc` argument lists that remove the steering (each may fail harmlessly when absent). */
export function delayTcRemove(t: FaultTarget): string[][] {
  return [t.carrierDev, t.farDev].map((dev) => ['qdisc', 'del', 'dev', dev, 'clsact']);
}

/** What a running element reports (`get`), one direction. Microseconds and counters. */
export interface ElementDirection {
  dev: string;
  delay_us: number;
  jitter_us: number;
  stall_us: number;
  stall_every_us: number;
  packets: number;
  bytes: number;
  /** Packets dropped because the ring was full. */
  drops: number;
  write_errors: number;
  queued: number;
  queued_max: number;
  /** Worst lateness of a release behind its due time. */
  late_max_us: number;
  late_over_1ms: number;
}

export interface ElementState {
  pid: number;
  up: ElementDirection;
  down: ElementDirection;
}

/** A link's delay as the element reports it, with its counters. */
export interface DelayState {
  delay: LinkDelay;
  pid: number;
  up: ElementDirection;
  down: ElementDirection;
}

function fromElement(d: ElementDirection): OneWayDelay | null {
  const o: OneWayDelay = { delayMs: d.delay_us / 1000, jitterMs: d.jitter_us / 1000, stallMs: d.stall_us / 1000, stallEveryMs: d.stall_every_us / 1000 };
  return active(o) ? o : null;
}

/** Parse the element's answer to `get` or `set`; throws with its error text when it refused. */
export function parseElementReply(line: string): DelayState {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw labError(`delay element: unreadable answer "${line.slice(0, 120)}"`);
  }
  const r = v as { ok?: boolean; error?: string } & Partial<ElementState>;
  if (r.ok !== true) throw labError(`delay element: ${r.error ?? 'request refused'}`);
  if (!r.up || !r.down || typeof r.pid !== 'number') throw labError('delay element: answer without its state');
  return { delay: { down: fromElement(r.down), up: fromElement(r.up) }, pid: r.pid, up: r.up, down: r.down };
}
