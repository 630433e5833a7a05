/**
 * The two daemons of the relay-through-the-daemon lab tests: the router's (the example's links, a
 * transparent relay entry `lanrelay` with one path per WAN link) and an exit-only daemon in inet.
 * Not a test file: relay.test.ts and relay-quic.test.ts import it.
 */
import assert from 'node:assert/strict';
import type { Lab } from '../../../src/lab/lab.js';
import type { RelayStatus } from '../../../src/relay/relay.js';
import { statusOf, type DaemonProcess } from '../harness/daemon.js';
import { stateLine } from '../harness/router-view.js';

/** The router's `relay:` section: entry `lanrelay` on :30010 toward the exit, paths over wan1 and wan2. */
export function lanRelayEntry(lab: Lab, keyFile: string): string {
  return `relay:\n  entries:\n    - name: lanrelay\n      listen: "[::]:30010"\n      exit: ${lab.addr.inet.relayExit4}:7000\n      keyFile: ${keyFile}\n      paths: [{ link: wan1 }, { link: wan2 }]\n`;
}

/** An exit-only daemon config (no links) that may connect to `allow`. */
export function exitOnlyConfig(lab: Lab, keyFile: string, allow: readonly string[]): string {
  return `status:\n  socket: "@SOCKET@"\nrelay:\n  exit:\n    listen: ${lab.addr.inet.relayExit4}:7000\n    keyFile: ${keyFile}\n    allow: [${allow.map((a) => `"${a}"`).join(', ')}]\n`;
}

/** Wait until wan2 is online and both of the entry's link paths are up (they connect once their link is). */
export async function waitBothPathsUp(entry: DaemonProcess): Promise<void> {
  const up = async () => ((statusOf(await entry.request({ cmd: 'status' })).relay as RelayStatus).entries[0]!.paths.filter((p) => p.state === 'up').length);
  await entry.waitForLog(stateLine('wan2', 'online'), 15_000);
  for (let i = 0; i < 100 && (await up()) < 2; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await up(), 2, 'both link paths up');
}
