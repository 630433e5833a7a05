/**
 * Who may read the dashboard. Pure. Without a token (loopback listeners only: validate.ts
 * refuses any other address without `web.tokenFile`) every request is allowed. With one, a
 * request must carry it in one of three places:
 * - `Authorization: Bearer TOKEN` (scripts, curl);
 * - the cookie {@link COOKIE} (the browser, after its first visit);
 * - `?token=TOKEN` in the URL: the browser's first visit. The server answers it with a redirect
 *   to the same path without the token, setting the cookie (HttpOnly, SameSite=Strict), so the
 *   token does not stay in the address bar, the history or a Referer.
 * Candidates are compared in constant time: SHA-256 digests of both (equal length whatever the
 * candidate's length) through crypto.timingSafeEqual.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export const COOKIE = 'wanbraid_token';

export type AuthDecision =
  /** Serve it. */
  | { kind: 'allow' }
  /** The token came in the query: set the cookie and redirect to `location` (the URL without it). */
  | { kind: 'login'; location: string; cookie: string }
  | { kind: 'deny' };

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** A token held as its digest; {@link matches} compares a candidate in constant time. */
export class Token {
  private readonly d: Buffer;
  constructor(token: string) {
    this.d = digest(token);
  }
  matches(candidate: string | undefined): boolean {
    if (candidate === undefined) return false;
    return timingSafeEqual(this.d, digest(candidate));
  }
}

/** `Authorization: Bearer X` → X. */
export function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer +([^\s]+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

/** The value of cookie `name` in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Decide for a request: `url` is the request target (path and query), the headers as node gives
 * them. `token` undefined: no token configured, everything is allowed.
 */
export function authorize(token: Token | undefined, url: string, headers: { authorization?: string | undefined; cookie?: string | undefined }): AuthDecision {
  if (!token) return { kind: 'allow' };
  if (token.matches(bearer(headers.authorization)) || token.matches(cookieValue(headers.cookie, COOKIE))) return { kind: 'allow' };
  const q = url.indexOf('?');
  if (q >= 0) {
    const params = new URLSearchParams(url.slice(q + 1));
    const t = params.get('token');
    if (t !== null && token.matches(t)) {
      params.delete('token');
      const rest = params.toString();
      return {
        kind: 'login',
        location: url.slice(0, q) + (rest ? `?${rest}` : ''),
        // The token's characters are URL-safe (token.ts), so it needs no quoting in the cookie.
        cookie: `${COOKIE}=${t}; Path=/; HttpOnly; SameSite=Strict`,
      };
    }
  }
  return { kind: 'deny' };
}
