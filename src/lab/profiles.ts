/**
 * Named link profiles: rate, delay (with jitter and stalls) and loss together, for links that
 * look like real access technologies. Pure data; docs/lab.md gives the basis of each figure.
 *
 * Delays are one way, per direction (delay.ts): a profile's round-trip time through the lab is
 * down + up. Loss is the lab's `loss` fault (both directions, each packet independently).
 */
import { WanbraidError } from '../errors.js';
import type { LinkDelay, OneWayDelay } from './delay.js';
import type { RateSpec } from './rate.js';

export interface LinkProfile {
  name: ProfileName;
  /** One line for `--help` and docs. */
  summary: string;
  rate: RateSpec;
  delay: LinkDelay;
  /** Random loss in percent, both directions (0: none). */
  lossPct: number;
}

export type ProfileName = 'fibre' | 'dsl' | 'lte' | 'geo-satellite';

const oneWay = (delayMs: number, jitterMs: number, stallMs = 0, stallEveryMs = 0): OneWayDelay => ({ delayMs, jitterMs, stallMs, stallEveryMs });
const both = (d: OneWayDelay): LinkDelay => ({ down: d, up: d });

export const PROFILES: Readonly<Record<ProfileName, LinkProfile>> = {
  fibre: {
    name: 'fibre',
    summary: 'FTTH: 200 Mbit/s both ways, RTT ~10 ms, ±0.5 ms jitter each way',
    rate: '200mbit',
    delay: both(oneWay(5, 0.5)),
    lossPct: 0,
  },
  dsl: {
    name: 'dsl',
    summary: 'ADSL2+ with interleaving: 16 Mbit/s down, 1 Mbit/s up, RTT ~24 ms, ±2 ms jitter each way',
    rate: { down: '16mbit', up: '1mbit' },
    delay: both(oneWay(12, 2)),
    lossPct: 0,
  },
  lte: {
    name: 'lte',
    summary: 'LTE: 30 Mbit/s down, 10 Mbit/s up, RTT 40-80 ms (30 ms ±10 ms each way), 200 ms stalls (one per 20 s on average each way), 2% loss each way',
    rate: { down: '30mbit', up: '10mbit' },
    delay: both(oneWay(30, 10, 200, 20_000)),
    lossPct: 2,
  },
  'geo-satellite': {
    name: 'geo-satellite',
    summary: 'geostationary satellite: 25 Mbit/s down, 3 Mbit/s up, RTT ~600 ms (300 ms ±10 ms each way)',
    rate: { down: '25mbit', up: '3mbit' },
    delay: both(oneWay(300, 10)),
    lossPct: 0,
  },
};

export const PROFILE_NAMES = Object.keys(PROFILES) as ProfileName[];

export function isProfileName(s: string): s is ProfileName {
  return Object.hasOwn(PROFILES, s);
}

export function profile(name: string, what = 'profile'): LinkProfile {
  if (!isProfileName(name)) throw new WanbraidError('WB_LAB', `${what}: unknown profile "${name}" (profiles: ${PROFILE_NAMES.join(', ')})`);
  return PROFILES[name];
}

/** The CLI's `--profiles`: comma-separated per link, a profile name or `-` for none. */
export function parseProfileList(text: string, what = '--profiles'): (ProfileName | null)[] {
  return text.split(',').map((item, k) => {
    const t = item.trim();
    if (!t) throw new WanbraidError('WB_LAB', `${what}: entry ${k + 1} is empty`);
    return t === '-' ? null : profile(t, `${what} entry ${k + 1}`).name;
  });
}

/**
 * Per link, the rate, delay and loss to build: a profile supplies all three; an explicit rate or
 * delay given for the same link replaces that part of the profile (`-` included: unlimited, no
 * delay), e.g. the lte profile's delay, stalls and loss at 40 Mbit/s. Entries past a list's end
 * are absent.
 */
export function combineProfiles<R, D>(
  count: number,
  profiles: readonly (string | null | undefined)[] | undefined,
  rates: readonly R[] | undefined,
  delays: readonly D[] | undefined,
): { profile: ProfileName | null; rate: R | RateSpec | undefined; delay: D | LinkDelay | undefined; lossPct: number }[] {
  const ps = profiles ?? [];
  if (ps.length > count) throw new WanbraidError('WB_LAB', `profiles: ${ps.length} profiles given for ${count} link${count === 1 ? '' : 's'}`);
  return Array.from({ length: count }, (_, k) => {
    const name = ps[k];
    const rate = rates?.[k];
    const delay = delays?.[k];
    if (name === null || name === undefined || name === '-') return { profile: null, rate, delay, lossPct: 0 };
    const p = profile(name, `profiles[${k}]`);
    return { profile: p.name, rate: rate !== undefined ? rate : p.rate, delay: delay !== undefined ? delay : p.delay, lossPct: p.lossPct };
  });
}
