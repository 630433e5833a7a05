/**
 * What the dashboard answers before it looks at anything else, pure: the method (GET and HEAD
 * only: nothing the server offers changes state, so every other method is 405), the size of the
 * request target ({@link MAX_URL_BYTES}, else 414) and the absence of a body (a GET with a body is
 * 413: the server never reads one). Then the route: the page's static files, the snapshot, the
 * event stream, or 404. Header size and time limits are node:http's (server.ts).
 */

/** Longest request target (path and query) in bytes. */
export const MAX_URL_BYTES = 2048;

export type Route = { kind: 'static'; name: string } | { kind: 'snapshot' } | { kind: 'events' };

export type Verdict = { ok: true; route: Route; head: boolean } | { ok: false; status: 404 | 405 | 413 | 414; message: string };

/** The request's checks and its route; `staticNames` are the files the server holds (by URL path). */
export function checkRequest(
  req: { method?: string | undefined; url?: string | undefined; headers: { 'content-length'?: string | undefined; 'transfer-encoding'?: string | undefined } },
  staticNames: ReadonlySet<string>,
): Verdict {
  if (req.method !== 'GET' && req.method !== 'HEAD') return { ok: false, status: 405, message: 'method not allowed: the dashboard is read-only (GET and HEAD)' };
  const url = req.url ?? '/';
  if (Buffer.byteLength(url) > MAX_URL_BYTES) return { ok: false, status: 414, message: `request target longer than ${MAX_URL_BYTES} bytes` };
  const cl = req.headers['content-length'];
  if ((cl !== undefined && cl !== '0') || req.headers['transfer-encoding'] !== undefined) return { ok: false, status: 413, message: 'a request to the dashboard carries no body' };
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const head = req.method === 'HEAD';
  if (path === '/api/snapshot') return { ok: true, route: { kind: 'snapshot' }, head };
  if (path === '/api/events') return { ok: true, route: { kind: 'events' }, head };
  const name = path === '/' ? '/index.html' : path;
  if (staticNames.has(name)) return { ok: true, route: { kind: 'static', name }, head };
  return { ok: false, status: 404, message: 'not found' };
}

/**
 * Without a token, only names of this host are accepted in the Host header (127.x.y.z,
 * `localhost`, `[::1]`, any port: an SSH tunnel may map another one): a web page elsewhere cannot
 * read the dashboard through a DNS name it rebinds to 127.0.0.1. With a token any Host is fine
 * (a reverse proxy, the router's own name); the token is what protects it then.
 */
export function loopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  const h = host.toLowerCase();
  const name = h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.replace(/:\d+$/, '');
  return name === 'localhost' || name === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}
