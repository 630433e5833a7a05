import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_URL_BYTES, checkRequest, loopbackHost } from '../../../src/web/request.js';

const NAMES = new Set(['/index.html', '/app.js', '/vendor/uplot.js']);
const get = (url: string, headers: Record<string, string> = {}) => checkRequest({ method: 'GET', url, headers }, NAMES);

test('request: only GET and HEAD; every other method is 405 whatever the path', () => {
  for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT', 'PROPFIND', undefined]) {
    for (const url of ['/', '/api/snapshot', '/api/events', '/nope']) {
      const v = checkRequest({ method, url, headers: {} }, NAMES);
      assert.deepEqual(v.ok ? 'ok' : v.status, 405, `${method} ${url}`);
    }
  }
  assert.deepEqual(checkRequest({ method: 'HEAD', url: '/', headers: {} }, NAMES), { ok: true, route: { kind: 'static', name: '/index.html' }, head: true });
});

test('request: routes', () => {
  assert.deepEqual(get('/'), { ok: true, route: { kind: 'static', name: '/index.html' }, head: false });
  assert.deepEqual(get('/?token=x'), { ok: true, route: { kind: 'static', name: '/index.html' }, head: false });
  assert.deepEqual(get('/vendor/uplot.js'), { ok: true, route: { kind: 'static', name: '/vendor/uplot.js' }, head: false });
  assert.deepEqual(get('/api/snapshot'), { ok: true, route: { kind: 'snapshot' }, head: false });
  assert.deepEqual(get('/api/events?x=1'), { ok: true, route: { kind: 'events' }, head: false });
  for (const url of ['/../etc/passwd', '/vendor/../app.js', '/app.js/', '/APP.JS', '/api', '/api/snapshot/', '//app.js', '/%2e%2e/x'])
    assert.deepEqual(get(url).ok ? 'ok' : (get(url) as { status: number }).status, 404, url);
});

test('request: limits on the target and on bodies', () => {
  const long = '/' + 'a'.repeat(MAX_URL_BYTES);
  assert.equal((get(long) as { status: number }).status, 414);
  assert.equal(get('/?' + 'a'.repeat(MAX_URL_BYTES - 2)).ok, true, 'exactly at the limit');
  assert.equal((get('/', { 'content-length': '10' }) as { status: number }).status, 413);
  assert.equal((get('/', { 'transfer-encoding': 'chunked' }) as { status: number }).status, 413);
  assert.equal(get('/', { 'content-length': '0' }).ok, true);
});

test('request: loopback Host names only (any port), for listeners without a token', () => {
  for (const h of ['127.0.0.1:8787', '127.0.0.1', 'localhost:8787', 'LOCALHOST:9000', '[::1]:8787', '[::1]', '127.1.2.3:80']) assert.equal(loopbackHost(h), true, h);
  for (const h of [undefined, '', 'evil.example:8787', 'localhost.evil.example', '127.0.0.1.evil.example', '198.18.100.1:8787', '[2001:db8::1]:8787', '0.0.0.0:8787', 'router.lan'])
    assert.equal(loopbackHost(h), false, String(h));
});
