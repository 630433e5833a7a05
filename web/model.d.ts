// Types of model.js, for the unit tests that import it (the page itself has no build step).
export const WINDOW_S: number;
export const COLORS: string[];
export function fmtRate(bps: number | null | undefined): string;
export function fmtMs(ms: number | null | undefined): string;
export function fmtPct(p: number | null | undefined): string;
export function fmtShare(s: number | null | undefined): string;
export function fmtClock(t: number | string): string;
export interface PageSample {
  t: number;
  links: Record<string, Record<string, unknown>>;
}
export function inWindow<T extends { t: number }>(samples: T[], nowMs: number): T[];
export function column(samples: PageSample[], link: string, key: string): (number | null)[];
export function stack(cols: (number | null)[][]): (number | null)[][];
export function describeEvent(e: Record<string, unknown>): { kind: string; text: string; bad: boolean };
export function marks(events: { event: string; time: string; [k: string]: unknown }[], fromS: number): { t: number; kind: 'online' | 'offline' | 'other' | 'plan'; label: string }[];
