/** The issues a config text is rejected with, as `path: message` lines (tests of the config loader). */
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.js';
import { parseConfigText } from '../../src/config/load.js';

export function issuesOf(text: string): string[] {
  try {
    parseConfigText(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
  }
  assert.fail('expected the config to be rejected');
}
