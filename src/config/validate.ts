/**
 * Whole-document checks that a per-field schema cannot make.
 *
 * - {@link referenceCheck} runs on the raw parsed YAML, so that name clashes and dangling
 *   references (rule → policy, policy → link or relay entry, path → link, schedule → link,
 *   `@set` → sets) are reported together with field errors, even when the schema rejected the
 *   document. It reads the raw tree defensively and ignores anything malformed (the schema reports
 *   that).
 * - {@link semanticCheck} runs on the typed config once the schema accepted it: combinations that
 *   make no sense (ports without a port protocol, reliability above the number of targets).
 *
 * Both are pure and return every issue found, never only the first.
 */
import type { ConfigIssue } from '../errors.js';
import type { Config, ProbeConfig } from './schema.js';
import { expandDials } from '../dial/expand.js';
import { validate as cronValidate } from 'node-cron';
import { editDistance, parsePrefix } from './values.js';

type Add = (path: string, message: string) => void;

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Names and cross-references, on the raw document. */
export function referenceCheck(raw: unknown): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const add: Add = (path, message) => issues.push({ path, message });
  if (!isObj(raw)) return issues;

  const links = uniqueNames(arr(raw.links), 'links', 'link', add);
  // Dial sessions are links too (NAME1..NAMEn); a dial's name stands for them in policies.
  const dialNames = uniqueNames(arr(raw.dials), 'dials', 'dial', add);
  const sessions = new Map<string, number>();
  const lanIfNames = isObj(raw.lan) ? arr(raw.lan.interfaces).map(str) : [];
  arr(raw.dials).forEach((d, i) => {
    if (!isObj(d)) return;
    const name = str(d.name);
    const parent = str(d.parent);
    if (parent !== undefined && lanIfNames.includes(parent)) add(`dials[${i}].parent`, `"${parent}" is also a LAN interface`);
    if (name === undefined) return;
    if (links.has(name)) add(`dials[${i}].name`, `dial "${name}" has the name of links[${links.get(name)}]: a policy naming it would be ambiguous`);
    const n = typeof d.sessions === 'number' && Number.isInteger(d.sessions) && d.sessions >= 1 && d.sessions <= 64 ? d.sessions : 0;
    for (let k = 1; k <= n; k++) {
      const s = `${name}${k}`;
      if (links.has(s)) add(`dials[${i}].name`, `session ${k} of dial "${name}" is the link "${s}", which clashes with links[${links.get(s)}]`);
      else if (dialNames.has(s)) add(`dials[${i}].name`, `session ${k} of dial "${name}" is the link "${s}", which clashes with the dial dials[${dialNames.get(s)}]`);
      else if (sessions.has(s)) add(`dials[${i}].name`, `session ${k} of dial "${name}" is the link "${s}", which clashes with a session of dials[${sessions.get(s)}]`);
      else sessions.set(s, i);
    }
  });
  /** Every link name a reference may use: configured links and dial sessions. */
  const linkRefs = new Map<string, number>([...links, ...sessions]);
  const policyRefs = [...linkRefs.keys(), ...dialNames.keys()];
  const interfaces = new Map<string, number>();
  const lanIfs = isObj(raw.lan) ? arr(raw.lan.interfaces).map(str) : [];
  arr(raw.links).forEach((l, i) => {
    const itf = isObj(l) ? str(l.interface) : undefined;
    if (itf === undefined) return;
    const prev = interfaces.get(itf);
    if (prev !== undefined) add(`links[${i}].interface`, `interface "${itf}" is already used by links[${prev}]`);
    else interfaces.set(itf, i);
    if (lanIfs.includes(itf)) add(`links[${i}].interface`, `"${itf}" is also a LAN interface`);
  });

  const relay = isObj(raw.relay) ? raw.relay : {};
  const entries = uniqueNames(arr(relay.entries), 'relay.entries', 'relay entry', add);
  if (isObj(relay.exit)) uniqueNames(arr(relay.exit.keys), 'relay.exit.keys', 'key', add);
  const policies = isObj(raw.policies) ? raw.policies : {};
  const sets = isObj(raw.sets) ? raw.sets : {};

  for (const [name, pol] of Object.entries(policies)) {
    if (!isObj(pol)) continue;
    const base = `policies.${name}`;
    const seen = new Set<string>();
    arr(pol.links).forEach((pl, j) => {
      const link = typeof pl === 'string' ? pl : isObj(pl) ? str(pl.link) : undefined;
      if (link === undefined) return;
      if (!linkRefs.has(link) && !dialNames.has(link)) add(`${base}.links[${j}]`, `unknown link "${link}"${suggest(link, policyRefs)}`);
      if (seen.has(link)) add(`${base}.links[${j}]`, `link "${link}" is listed twice`);
      seen.add(link);
    });
    // `relay: NAME` or `relay: { entry: NAME, ... }`.
    const r = str(pol.relay) ?? (isObj(pol.relay) ? str(pol.relay.entry) : undefined);
    const at = isObj(pol.relay) ? `${base}.relay.entry` : `${base}.relay`;
    if (r !== undefined) {
      if (!entries.has(r)) add(at, `unknown relay entry "${r}"${suggest(r, [...entries.keys()])}`);
      else {
        const e = arr(relay.entries)[entries.get(r)!];
        if (isObj(e) && e.target !== undefined)
          add(at, `relay entry "${r}" has a fixed target; a policy needs a transparent entry (no target)`);
      }
    }
  }

  uniqueNames(arr(raw.rules), 'rules', 'rule', add);
  arr(raw.rules).forEach((r, i) => {
    if (!isObj(r)) return;
    const p = str(r.policy);
    if (p !== undefined && !Object.hasOwn(policies, p)) add(`rules[${i}].policy`, `unknown policy "${p}"${suggest(p, Object.keys(policies))}`);
    const m = isObj(r.match) ? r.match : {};
    for (const side of ['src', 'dst'] as const) {
      const list = typeof m[side] === 'string' ? [m[side]] : arr(m[side]);
      list.forEach((a, j) => {
        if (typeof a === 'string' && a.startsWith('@') && !Object.hasOwn(sets, a.slice(1)))
          add(`rules[${i}].match.${side}${Array.isArray(m[side]) ? `[${j}]` : ''}`, `unknown set "${a}"${suggest(a.slice(1), Object.keys(sets))}`);
      });
    }
  });

  const routing = isObj(raw.routing) ? raw.routing : {};
  const dp = str(routing.defaultPolicy);
  if (dp !== undefined && !Object.hasOwn(policies, dp)) add('routing.defaultPolicy', `unknown policy "${dp}"${suggest(dp, Object.keys(policies))}`);

  arr(raw.schedules).forEach((s, i) => {
    const l = isObj(s) ? str(s.link) : undefined;
    if (l !== undefined && !linkRefs.has(l)) add(`schedules[${i}].link`, `unknown link "${l}"${suggest(l, [...linkRefs.keys()])}`);
  });

  arr(relay.entries).forEach((e, i) => {
    if (!isObj(e)) return;
    arr(e.paths).forEach((p, j) => {
      const l = isObj(p) ? str(p.link) : undefined;
      if (l !== undefined && !linkRefs.has(l)) add(`relay.entries[${i}].paths[${j}].link`, `unknown link "${l}"${suggest(l, [...linkRefs.keys()])}`);
    });
  });
  return issues;
}

function uniqueNames(list: unknown[], path: string, what: string, add: Add): Map<string, number> {
  const names = new Map<string, number>();
  list.forEach((item, i) => {
    const n = isObj(item) ? str(item.name) : undefined;
    if (n === undefined) return;
    const prev = names.get(n);
    if (prev !== undefined) add(`${path}[${i}].name`, `duplicate ${what} name "${n}" (also ${path}[${prev}])`);
    else names.set(n, i);
  });
  return names;
}

/** Combinations within the typed config. */
export function semanticCheck(c: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const add: Add = (path, message) => issues.push({ path, message });

  c.links.forEach((l, i) => {
    if (l.probe) probeChecks(l.probe, `links[${i}].probe`, add);
    if (l.snat) {
      if (!l.masquerade) add(`links[${i}].snat`, 'needs masquerade: true (snat replaces the masquerade address)');
      const fams = l.snat.map((a) => parsePrefix(a)?.family);
      if (fams.length === 2 && fams[0] === fams[1]) add(`links[${i}].snat`, 'at most one address per family');
    }
  });
  c.dials.forEach((d, i) => {
    if (d.link.probe) probeChecks(d.link.probe, `dials[${i}].link.probe`, add);
    if (d.method === 'pppoe' && !d.pppoe) add(`dials[${i}].pppoe`, 'required for method "pppoe" (username, passwordFile)');
    if (d.method !== 'pppoe' && d.pppoe) add(`dials[${i}].pppoe`, `is only for method "pppoe" (this dial uses "${d.method}")`);
  });
  // Dial sessions are links from here on (appended after links[], in dial order).
  const all = expandDials(c).links;
  const where = (i: number): string => {
    if (i < c.links.length) return `links[${i}]`;
    let k = i - c.links.length;
    for (const [j, d] of c.dials.entries()) {
      if (k < d.sessions) return `dials[${j}] (session ${k + 1})`;
      k -= d.sessions;
    }
    return `links[${i}]`;
  };
  const tables = new Map<number, number>();
  all.forEach((l, i) => {
    const t = l.table ?? c.routing.tableBase + i + 1;
    const at = i < c.links.length ? `links[${i}].table` : where(i).replace(/ \(session \d+\)$/, '');
    const prev = tables.get(t);
    if (prev !== undefined) add(at, `table ${t} is already used by ${where(prev)}`);
    else tables.set(t, i);
    if (t === 253 || t === 254 || t === 255 || t === 0) add(at, `table ${t} is reserved by the kernel`);
    if (t === c.routing.tableBase) add(at, `table ${t} is routing.tableBase, the table of the default route`);
  });
  if (all.length > 64) add(c.dials.length > 0 ? 'dials' : 'links', `at most 64 links (dial sessions included), got ${all.length}`);
  const relayMarks = c.relay?.entries.length ?? 0;
  if (2 ** popcount(c.routing.markMask) - 1 < all.length + relayMarks + 1)
    add('routing.markMask', `0x${c.routing.markMask.toString(16)} has too few bits for ${all.length} links${relayMarks ? ` and ${relayMarks} relay entries` : ''}`);

  for (const [name, pol] of Object.entries(c.policies)) {
    if (!pol.links && !pol.relay) add(`policies.${name}`, 'needs "links" or "relay"');
    if (pol.links && pol.relay) add(`policies.${name}`, '"links" and "relay" exclude each other');
  }

  c.rules.forEach((r, i) => {
    const m = r.match;
    if ((m.srcPort || m.dstPort) && !['tcp', 'udp', 'sctp', 'udplite'].includes(m.proto ?? ''))
      add(`rules[${i}].match`, 'ports need proto tcp, udp, sctp or udplite');
    if ((Object.hasOwn(c.policies, r.policy) && c.policies[r.policy]!.relay) && m.proto !== 'tcp')
      add(`rules[${i}].match.proto`, `policy "${r.policy}" hands flows to a relay, which carries TCP only: add proto: tcp`);
    for (const side of ['src', 'dst'] as const) {
      m[side]?.forEach((a, j) => {
        if (!('set' in a) && m.family && (m.family === 'ipv4') !== (a.family === 4))
          add(`rules[${i}].match.${side}[${j}]`, `an ${a.family === 4 ? 'IPv4' : 'IPv6'} prefix in a rule for ${m.family}`);
      });
    }
    if (m.proto === 'icmp' && m.family === 'ipv6') add(`rules[${i}].match.proto`, 'icmp is IPv4; use icmpv6');
    if (m.proto === 'icmpv6' && m.family === 'ipv4') add(`rules[${i}].match.proto`, 'icmpv6 is IPv6; use icmp');
  });
  if (c.routing.defaultPolicy !== undefined && Object.hasOwn(c.policies, c.routing.defaultPolicy) && c.policies[c.routing.defaultPolicy]!.relay)
    add('routing.defaultPolicy', 'the default route needs a policy of links, not a relay');
  if (c.rules.length > 0 && c.links.length > 0 && !c.lan) add('lan', 'rules balance LAN traffic: name the LAN interfaces');

  c.schedules.forEach((s, i) => {
    if (!cronValidate(s.cron)) add(`schedules[${i}].cron`, `expected a cron expression like "0 2 * * *", got "${s.cron}"`);
    if (s.timezone !== undefined && !validTimeZone(s.timezone)) add(`schedules[${i}].timezone`, `unknown time zone "${s.timezone}"`);
  });

  c.relay?.entries.forEach((e, i) => {
    const pathNames = new Set<string>();
    e.paths.forEach((p, j) => {
      if (!p.link && !p.via) add(`relay.entries[${i}].paths[${j}]`, 'needs "link", "via" or both');
      const n = pathName(p, j);
      if (pathNames.has(n)) add(`relay.entries[${i}].paths[${j}]`, `duplicate path "${n}"; give it a name`);
      pathNames.add(n);
    });
  });
  const x = c.relay?.exit;
  if (x && x.keys && x.keyFile !== undefined) add('relay.exit', '"keys" and "keyFile" exclude each other: list every entry\'s key under "keys"');
  if (x && !x.keys && x.keyFile === undefined) add('relay.exit', 'needs "keys" (one key per entry: [{ name, keyFile }]) or "keyFile" (one key shared by every entry)');
  const t = c.relay?.tuning;
  if (t) {
    if (t.retryMin > t.retryMax) add('relay.tuning.retryMin', `expected at most retryMax (${t.retryMax}ms)`);
    if (t.chunkSize < 512 || t.chunkSize > 60 * 1024) add('relay.tuning.chunkSize', `expected 512 bytes to 60KiB, got ${t.chunkSize}`);
    if (t.reorderBuffer < 4 * t.chunkSize) add('relay.tuning.reorderBuffer', 'expected at least four chunks');
    if (t.pathQueue < t.chunkSize) add('relay.tuning.pathQueue', 'expected at least one chunk');
    if (t.sessionBuffer < t.reorderBuffer) add('relay.tuning.sessionBuffer', `expected at least reorderBuffer (${t.reorderBuffer} bytes)`);
    if (t.reorderBuffer > 0xffffffff) add('relay.tuning.reorderBuffer', 'expected at most 4GiB');
    if (t.maxHandshakesPerSource > t.maxHandshakes) add('relay.tuning.maxHandshakesPerSource', `expected at most maxHandshakes (${t.maxHandshakes})`);
  }

  const listens = new Map<string, string>();
  const claim = (path: string, ep: { host: string; port: number }) => {
    const key = `${ep.host}|${ep.port}`;
    const prev = listens.get(key);
    if (prev) add(path, `listen address is already used by ${prev}`);
    else listens.set(key, path);
  };
  c.relay?.entries.forEach((e, i) => claim(`relay.entries[${i}].listen`, e.listen));
  if (c.relay?.exit) claim('relay.exit.listen', c.relay.exit.listen);
  c.forwards.forEach((f, i) => claim(`forwards[${i}].listen`, f.listen));
  if (c.metrics) claim('metrics.listen', c.metrics.listen);
  if (c.web) {
    claim('web.listen', c.web.listen);
    if (!isLoopback(c.web.listen.host) && c.web.tokenFile === undefined)
      add('web.tokenFile', `required when web.listen is not a loopback address (${c.web.listen.host}): anyone who can reach it would see the router's state`);
  }
  return issues;
}

/** 127.0.0.0/8 and ::1 (also as ::ffff:127.x.y.z): only this host can connect. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^::ffff:(?=\d+\.)/, '');
  return /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::1' || h === '0:0:0:0:0:0:0:1';
}

function probeChecks(p: ProbeConfig, at: string, add: Add): void {
  if (p.reliability > p.targets.length) add(`${at}.reliability`, `expected at most the number of targets (${p.targets.length}), got ${p.reliability}`);
  if (p.timeout <= 0) add(`${at}.timeout`, 'expected a duration above 0');
  if (p.interval < 50) add(`${at}.interval`, `expected at least 50ms, got ${p.interval}ms`);
  if (p.window < p.interval) add(`${at}.window`, `expected at least one interval (${p.interval}ms), got ${p.window}ms`);
  const q = p.quality;
  if (q) {
    const pairs = [
      ['maxLossPct', 'recoverLossPct'],
      ['maxRttMs', 'recoverRttMs'],
      ['maxJitterMs', 'recoverJitterMs'],
    ] as const;
    for (const [max, rec] of pairs) {
      const mv = q[max];
      const rv = q[rec];
      if (rv !== undefined && mv === undefined) add(`${at}.quality.${rec}`, `needs ${max}`);
      if (rv !== undefined && mv !== undefined && rv > mv) add(`${at}.quality.${rec}`, `expected at most ${max} (${mv}), got ${rv}`);
    }
  }
  if (p.method === 'icmp' && p.port !== undefined) add(`${at}.port`, 'is not used by method "icmp"');
}

/** The name a relay path is known by in status: its own, its link, its hop, or its position. */
export function pathName(p: { name?: string | undefined; link?: string | undefined; via?: { host: string; port: number } | undefined }, index: number): string {
  if (p.name) return p.name;
  if (p.link && p.via) return `${p.link}+${p.via.host}:${p.via.port}`;
  if (p.link) return p.link;
  if (p.via) return `${p.via.host}:${p.via.port}`;
  return `path${index}`;
}

function popcount(n: number): number {
  let c = 0;
  for (let v = n >>> 0; v; v >>>= 1) c += v & 1;
  return c;
}

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** ` (did you mean "x"?)` when a known name is close, else empty. */
export function suggest(bad: string, known: string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(bad, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(bad.length / 3)) ? ` (did you mean "${best}"?)` : '';
}
