import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COOKIE, Token, authorize, bearer, cookieValue } from '../../../src/web/auth.js';

const T = 'f3a9c2e1b7d84a6e9c0b5d2f1a8e7c64';

test('auth: without a token everything is allowed', () => {
  assert.deepEqual(authorize(undefined, '/', {}), { kind: 'allow' });
  assert.deepEqual(authorize(undefined, '/api/events?token=x', { authorization: 'Bearer nope' }), { kind: 'allow' });
});

test('auth: the token as a bearer header or the cookie is allowed; anything else is denied', () => {
  const tok = new Token(T);
  assert.deepEqual(authorize(tok, '/api/snapshot', { authorization: `Bearer ${T}` }), { kind: 'allow' });
  assert.deepEqual(authorize(tok, '/api/snapshot', { authorization: `bearer  ${T} ` }), { kind: 'allow' });
  assert.deepEqual(authorize(tok, '/', { cookie: `a=b; ${COOKIE}=${T}; c=d` }), { kind: 'allow' });
  for (const headers of [
    {},
    { authorization: `Bearer ${T.slice(0, -1)}` },
    { authorization: `Bearer ${T}x` },
    { authorization: `Basic ${T}` },
    { authorization: T },
    { authorization: 'Bearer ' },
    { cookie: `${COOKIE}=${T.toUpperCase()}` },
    { cookie: `x${COOKIE}=${T}` },
    { cookie: '' },
  ])
    assert.deepEqual(authorize(tok, '/api/snapshot', headers), { kind: 'deny' }, JSON.stringify(headers));
});

test('auth: ?token= logs in: redirect to the same URL without it, with an HttpOnly SameSite=Strict cookie', () => {
  const tok = new Token(T);
  assert.deepEqual(authorize(tok, `/?token=${T}`, {}), { kind: 'login', location: '/', cookie: `${COOKIE}=${T}; Path=/; HttpOnly; SameSite=Strict` });
  const d = authorize(tok, `/index.html?a=1&token=${T}&b=2`, {});
  assert.equal(d.kind, 'login');
  assert.equal(d.kind === 'login' && d.location, '/index.html?a=1&b=2');
  assert.deepEqual(authorize(tok, '/?token=wrong-token-of-some-length', {}), { kind: 'deny' });
  assert.deepEqual(authorize(tok, '/?token=', {}), { kind: 'deny' });
  assert.deepEqual(authorize(tok, '/?tok=' + T, {}), { kind: 'deny' });
});

test('auth: candidates of any length compare (digests of equal length), only the token matches', () => {
  const tok = new Token(T);
  for (const c of ['', 'a', T.slice(0, 16), 'x'.repeat(10_000), T + T]) assert.equal(tok.matches(c), false, `${c.length} chars`);
  assert.equal(tok.matches(undefined), false);
  assert.equal(tok.matches(T), true);
});

test('auth: header parsing', () => {
  assert.equal(bearer('Bearer abc'), 'abc');
  assert.equal(bearer('Bearer a b'), undefined);
  assert.equal(bearer(undefined), undefined);
  assert.equal(cookieValue('a=1; b = 2 ;c=3', 'b'), '2');
  assert.equal(cookieValue('a=1', 'b'), undefined);
  assert.equal(cookieValue('novalue; b=2', 'b'), '2');
});
