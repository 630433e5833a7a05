/**
 * Checks the encoders run before anything reaches the kernel: an object the planner built wrong is
 * a bug in wanbraid, reported as WB_INTERNAL with the object's description and the field at fault,
 * instead of an EINVAL from the kernel that names neither. Pure.
 */
import { isIP } from 'node:net';
import { WanbraidError } from '../../errors.js';
import type { Family } from '../../model.js';

export function invalid(what: string, detail: string): WanbraidError {
  return new WanbraidError('WB_INTERNAL', `rtnl: invalid ${what}: ${detail}`);
}

/** `v` is an integer in [min, max]; `field` names it in the error. */
export function checkInt(what: string, field: string, v: number | undefined, min: number, max: number): void {
  if (v === undefined) return;
  if (!Number.isInteger(v) || v < min || v > max) throw invalid(what, `${field} must be an integer in ${min}..${max}, got ${v}`);
}

/** `addr` is an address of `family`. */
export function checkAddress(what: string, field: string, addr: string | undefined, family: Family): void {
  if (addr === undefined) return;
  if (isIP(addr) !== family) throw invalid(what, `${field} must be an IPv${family} address, got "${addr}"`);
}

/** A prefix length fits the family. */
export function checkPrefixLen(what: string, field: string, len: number | undefined, family: Family): void {
  checkInt(what, field, len, 0, family === 4 ? 32 : 128);
}
