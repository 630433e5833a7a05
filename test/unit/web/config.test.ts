/** The `web` section of the configuration. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../../src/config/load.js';
import { isLoopback } from '../../../src/config/validate.js';
import { issuesOf } from '../../helpers/config-issues.js';

test('web: off when absent; `web: {}` listens on 127.0.0.1:8787 without a token', () => {
  assert.equal(parseConfigText('log: { level: info }\n').web, undefined);
  assert.deepEqual(parseConfigText('web: {}\n').web, { listen: { host: '127.0.0.1', port: 8787, family: 4 } });
  assert.deepEqual(parseConfigText('web: { listen: "[::1]:9000" }\n').web?.listen, { host: '::1', port: 9000, family: 6 });
});

test('web: a non-loopback listen needs tokenFile; with one it is accepted', () => {
  for (const listen of ['198.18.100.1:8787', '0.0.0.0:8787', '"[::]:8787"', '"[2001:db8::1]:8787"'])
    assert.deepEqual(issuesOf(`web: { listen: ${listen} }\n`), [
      `web.tokenFile: required when web.listen is not a loopback address (${listen.replace(/"|\[|\]:8787/g, '').replace(/:8787$/, '')}): anyone who can reach it would see the router's state`,
    ]);
  assert.equal(parseConfigText('web: { listen: 198.18.100.1:8787, tokenFile: /etc/wanbraid/web.token }\n').web?.tokenFile, '/etc/wanbraid/web.token');
  assert.equal(parseConfigText('web: { listen: 127.0.0.2:8787 }\n').web?.tokenFile, undefined, 'all of 127/8 is loopback');
});

test('web: bad values and clashes are named', () => {
  assert.match(issuesOf('web: { listen: localhost:8787 }\n')[0]!, /^web\.listen: expected an address and port/);
  assert.deepEqual(issuesOf('web: { listen: 127.0.0.1:8787, token: x }\n'), ['web.token: unknown key']);
  assert.match(issuesOf('web: { listen: 127.0.0.1:8787, tokenFile: "" }\n')[0]!, /^web\.tokenFile: /);
  assert.deepEqual(issuesOf('metrics: { listen: 127.0.0.1:8787 }\nweb: {}\n'), ['web.listen: listen address is already used by metrics.listen']);
});

test('isLoopback', () => {
  for (const h of ['127.0.0.1', '127.255.0.9', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) assert.equal(isLoopback(h), true, h);
  for (const h of ['0.0.0.0', '::', '198.18.100.1', '128.0.0.1', '::ffff:198.18.0.1', '2001:db8::1']) assert.equal(isLoopback(h), false, h);
});
