/**
 * The dial supervisor's hands on this host: macvlans (through `ip`, argv only), the per-interface
 * ARP sysctls, and the client processes. Everything runs in the daemon's own network namespace.
 *
 * Ownership: a macvlan is wanbraid's when it has the session's name, is a macvlan on the dial's
 * parent and carries the session's MAC (./naming.ts). Only such an interface is ever deleted; an
 * interface of that name that is anything else is left alone and the session fails with words.
 *
 * Several macvlans on one parent usually get addresses in one subnet, and with the kernel's
 * default `arp_ignore=0` every one of them answers ARP for every address of the host: the ISP
 * would send a session's traffic to whichever MAC answered first. Each macvlan gets
 * `arp_ignore=1` (answer only for its own addresses) and `arp_announce=2` (use its own address as
 * the ARP source) before it goes up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { WanbraidError } from '../errors.js';
import { exec } from '../util/exec.js';

export interface IfaceInfo {
  ifindex: number;
  kind: string | undefined;
  /** The parent's name, for a macvlan. */
  parent: string | undefined;
  mac: string | undefined;
  adminUp: boolean;
}

export type MacvlanCheck = { kind: 'absent' } | { kind: 'ours'; info: IfaceInfo } | { kind: 'foreign'; why: string };

export async function ifaceInfo(name: string): Promise<IfaceInfo | undefined> {
  const r = await exec(['ip', '-d', '-j', 'link', 'show', 'dev', name], { allowFail: true, timeoutMs: 5000 });
  if (r.code !== 0) return undefined;
  const [l] = JSON.parse(r.stdout) as { ifindex: number; flags?: string[]; link?: string; address?: string; linkinfo?: { info_kind?: string } }[];
  if (!l) return undefined;
  return { ifindex: l.ifindex, kind: l.linkinfo?.info_kind, parent: l.link, mac: l.address?.toLowerCase(), adminUp: (l.flags ?? []).includes('UP') };
}

/** Whether `name` is absent, the session's own macvlan, or someone else's interface. */
export async function checkMacvlan(name: string, parent: string, mac: string): Promise<MacvlanCheck> {
  const i = await ifaceInfo(name);
  if (!i) return { kind: 'absent' };
  if (i.kind !== 'macvlan') return { kind: 'foreign', why: `interface ${name} exists and is not a macvlan (${i.kind ?? 'a device'}); wanbraid leaves it alone` };
  if (i.parent !== parent || i.mac !== mac) return { kind: 'foreign', why: `interface ${name} exists on ${i.parent ?? '?'} with MAC ${i.mac ?? '?'}, not wanbraid's (${parent}, ${mac}); wanbraid leaves it alone` };
  return { kind: 'ours', info: i };
}

export async function createMacvlan(name: string, parent: string, mac: string): Promise<IfaceInfo> {
  if (!(await ifaceInfo(parent))) throw new WanbraidError('WB_KERNEL', `the parent interface ${parent} does not exist`);
  await exec(['ip', 'link', 'add', name, 'link', parent, 'address', mac, 'type', 'macvlan', 'mode', 'private'], { timeoutMs: 5000 });
  try {
    for (const [key, value] of [['arp_ignore', '1'], ['arp_announce', '2']] as const) writeFileSync(`/proc/sys/net/ipv4/conf/${name}/${key}`, value);
    await exec(['ip', 'link', 'set', 'dev', name, 'up'], { timeoutMs: 5000 });
  } catch (err) {
    await exec(['ip', 'link', 'del', 'dev', name], { allowFail: true, timeoutMs: 5000 });
    throw err;
  }
  const info = await ifaceInfo(name);
  if (!info) throw new WanbraidError('WB_KERNEL', `macvlan ${name} vanished right after it was created`);
  return info;
}

/** Delete the session's macvlan if (and only if) it is ours. */
export async function deleteMacvlan(name: string, parent: string, mac: string): Promise<void> {
  const c = await checkMacvlan(name, parent, mac);
  if (c.kind !== 'ours') return;
  await exec(['ip', 'link', 'del', 'dev', name], { allowFail: true, timeoutMs: 5000 });
}

export interface ClientHandle {
  readonly pid: number | undefined;
  readonly child: ChildProcess;
  /** Resolves with the exit status once the process ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start a client; `secret` (a password) is written to its fd 3 once and the pipe closed. */
export function spawnClient(argv: readonly string[], secret?: string): ClientHandle {
  const [cmd, ...args] = argv;
  if (!cmd) throw new WanbraidError('WB_INTERNAL', 'spawnClient: empty argv');
  // A process group of its own: a client that signals its group (dhcpcd does on exit) must not
  // reach the daemon. It is still ended by its PID.
  const child = spawn(cmd, args, { stdio: secret !== undefined ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'], detached: true });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', () => resolve({ code: 127, signal: null }));
    // 'exit', not 'close': dhcpcd's privilege-separated helpers inherit its pipes and may hold
    // them open a moment after the client itself died.
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  // Once the client itself is gone its pipes are of no use; helpers holding them must not keep
  // the daemon's event loop alive.
  void exited.then(() => {
    for (const st of child.stdio) st?.destroy();
  });
  if (secret !== undefined) {
    const fd3 = child.stdio[3] as NodeJS.WritableStream | null;
    fd3?.on('error', () => undefined);
    fd3?.end(`${secret}\n`);
  }
  return { pid: child.pid, child, exited };
}

/** A process still alive in this network namespace, named `comm`: a client left by an earlier run. */
export function liveClient(pid: number, comms: readonly string[]): boolean {
  try {
    const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    if (!comms.includes(comm)) return false;
    return readlinkSync(`/proc/${pid}/ns/net`) === readlinkSync('/proc/self/ns/net');
  } catch {
    return false;
  }
}

/**
 * Signal the client's process group: the client and the helpers it forked (dhcpcd's privilege
 * separation), which a client killed outright leaves behind. The group is the one the client was
 * started in ({@link spawnClient}: detached, so its id is the client's PID); nothing else is in it.
 */
export function signalClientGroup(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Whether any process of the client's group is still alive. */
export function clientGroupAlive(pid: number): boolean {
  return signalClientGroup(pid, 0 as unknown as NodeJS.Signals);
}
