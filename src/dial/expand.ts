/**
 * From `dials:` to links. Pure.
 *
 * Each session of a dial is a link of its own, appended to `links` after the configured ones in
 * dial order: link `NAME<i>` on the session's interface (the macvlan for DHCP, the PPP interface
 * for PPPoE), with the dial's `link` template (weight, masquerade, initial state, degraded, probe)
 * and no gateway: the next hop is the one the session's client reports (the DHCP router option)
 * or the device itself (PPP is point-to-point). A dial's name in a policy's `links` stands for all
 * its sessions, at that entry's tier and weight. From here on health, the planner, status and the
 * relay treat a session like any link; only the dial supervisor knows it is dialled.
 *
 * {@link expandDials} is applied once by the config loader (config/load.ts), after every check, so
 * the typed configuration the daemon sees already holds the session links. It is idempotent.
 */
import type { Config, DialConfig, LinkConfig } from '../config/schema.js';
import { macvlanName, pppName, sessionLink, sessionMac } from './naming.js';

export interface SessionSpec {
  dial: string;
  /** 1-based. */
  index: number;
  /** The session's link name. */
  link: string;
  /** The macvlan on the parent. */
  macvlan: string;
  /** The link's interface: the macvlan (DHCP) or the PPP interface (PPPoE). */
  interface: string;
  mac: string;
}

export function sessionSpecs(d: Pick<DialConfig, 'name' | 'sessions' | 'method'>): SessionSpec[] {
  return Array.from({ length: d.sessions }, (_, k) => {
    const index = k + 1;
    const macvlan = macvlanName(d.name, index);
    return {
      dial: d.name,
      index,
      link: sessionLink(d.name, index),
      macvlan,
      interface: d.method === 'pppoe' ? pppName(d.name, index) : macvlan,
      mac: sessionMac(d.name, index),
    };
  });
}

export function sessionLinkConfig(d: DialConfig, s: SessionSpec): LinkConfig {
  const t = d.link;
  const l: LinkConfig = {
    name: s.link,
    interface: s.interface,
    weight: t.weight,
    masquerade: t.masquerade,
    initialState: t.initialState,
    degraded: t.degraded,
  };
  if (t.probe) l.probe = t.probe;
  return l;
}

export function expandDials(c: Config): Config {
  if (c.dials.length === 0) return c;
  const present = new Set(c.links.map((l) => l.name));
  const added: LinkConfig[] = [];
  for (const d of c.dials) for (const s of sessionSpecs(d)) if (!present.has(s.link)) added.push(sessionLinkConfig(d, s));
  const byDial = new Map(c.dials.map((d) => [d.name, sessionSpecs(d).map((s) => s.link)]));
  const policies: Config['policies'] = {};
  for (const [name, p] of Object.entries(c.policies)) {
    policies[name] = p.links ? { ...p, links: p.links.flatMap((pl) => (byDial.get(pl.link) ?? [pl.link]).map((link) => ({ ...pl, link }))) } : p;
  }
  return { ...c, links: [...c.links, ...added], policies };
}

/** The dial and session a link belongs to, if it is a dial session. */
export function sessionOfLink(c: Pick<Config, 'dials'>, link: string): SessionSpec | undefined {
  for (const d of c.dials) for (const s of sessionSpecs(d)) if (s.link === link) return s;
  return undefined;
}
