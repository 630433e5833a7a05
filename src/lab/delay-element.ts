/**
 * The thin shell around a link's delay element (native/delay/wanbraid-delay.c; the pure part is
 * delay.ts): start it in the link's middle node, steer the link's traffic through it with tc,
 * change its settings, read its state, and take it away again.
 *
 * One element per link, found by its control socket `<lab dir>/delay-<link>.sock`, so any
 * process that can see the lab's directory (a test, a later `wanbraid lab fault`) can drive it.
 * The element runs detached (own session, output to `<lab dir>/delay-<link>.log`) and SCHED_FIFO
 * priority {@link DELAY_RT_PRIORITY}, so that a loaded machine does not make it late; it is ended
 * by {@link removeDelay} (after the packets it holds are out), by the lab's `down`, or by the
 * namespace going away. Not safe for concurrent calls on the same link.
 */
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NamespaceSet } from './netns.js';
import type { FaultTarget } from './faults.js';
import { delayTcLines, delayTcRemove, elementArgs, hasDelay, parseElementReply, setRequest, type DelayState, type LinkDelay } from './delay.js';
import { tcBatch } from './netns.js';
import { WanbraidError, errorMessage } from '../errors.js';

/** The element's program, from the compiled module's place (dist/src/lab/ → the package root). */
export const DELAY_BINARY = fileURLToPath(new URL('../../../build/Release/wanbraid-delay', import.meta.url));

/** SCHED_FIFO priority of the element (low: above ordinary work, below the kernel's own threads). */
export const DELAY_RT_PRIORITY = 10;

/** Longest wait for a started element to answer, and for a quitting one to go, in milliseconds. */
const START_TIMEOUT_MS = 5000;
const STOP_TIMEOUT_MS = 25_000;

function labError(message: string, cause?: unknown): WanbraidError {
  return new WanbraidError('WB_LAB', message, cause === undefined ? undefined : { cause });
}

export function controlPath(dir: string, link: string): string {
  const p = join(dir, `delay-${link}.sock`);
  // sockaddr_un holds 107 bytes and a NUL.
  if (Buffer.byteLength(p) > 107) throw labError(`delay element socket path too long for a unix socket (${p}); use a shorter lab directory`);
  return p;
}

/**
 * Send one request line and return the one-line answer, or `null` when no element listens at
 * `path` (no socket file, or one left by an element that is gone).
 */
export function request(path: string, line: string, timeoutMs = 3000): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(labError(`delay element at ${path}: no answer to "${line}" within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(line + '\n'));
    sock.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        sock.destroy();
        resolve(buf.slice(0, nl));
      }
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') resolve(null);
      else reject(labError(`delay element at ${path}: ${err.message}`, err));
    });
    sock.on('close', () => {
      clearTimeout(timer);
      if (!buf.includes('\n')) resolve(null);
    });
  });
}

/** The element's settings and counters, or `null` when the link has no element. */
export async function delayState(dir: string, t: FaultTarget): Promise<DelayState | null> {
  const answer = await request(controlPath(dir, t.link), 'get');
  return answer === null ? null : parseElementReply(answer);
}

function logTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ');
  } catch {
    return '';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether a process is still running (a zombie waiting for its parent to reap it is not). */
function processRunning(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

async function removeSteering(set: NamespaceSet, t: FaultTarget): Promise<void> {
  for (const argv of delayTcRemove(t)) await set.exec(t.node, ['tc', ...argv], { allowFail: true });
}

async function start(set: NamespaceSet, t: FaultTarget, dir: string, d: LinkDelay): Promise<DelayState> {
  if (!existsSync(DELAY_BINARY)) throw new WanbraidError('WB_NATIVE', `the lab's delay element ${DELAY_BINARY} is not built: run \`npm run build\``);
  const sock = controlPath(dir, t.link);
  rmSync(sock, { force: true }); // left by an element that was killed
  const log = join(dir, `delay-${t.link}.log`);
  const fd = openSync(log, 'a');
  let child;
  try {
    child = set.spawn(t.node, [DELAY_BINARY, ...elementArgs(d, sock, DELAY_RT_PRIORITY)], { detached: true, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  child.on('error', () => undefined);
  child.unref();
  const deadline = Date.now() + START_TIMEOUT_MS;
  let state: DelayState | null = null;
  while (state === null) {
    if (child.exitCode !== null || child.signalCode !== null) throw labError(`delay element for ${t.link} in ${t.node} exited at start: ${logTail(log) || 'no output'}`);
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new WanbraidError('WB_TIMEOUT', `delay element for ${t.link} in ${t.node} not answering after ${START_TIMEOUT_MS} ms: ${logTail(log) || 'no output'}`);
    }
    const answer = await request(sock, 'get').catch(() => null);
    if (answer === null) await sleep(10);
    else state = parseElementReply(answer);
  }
  try {
    await removeSteering(set, t);
    await tcBatch(set.ns(t.node), delayTcLines(t));
  } catch (err) {
    await removeSteering(set, t);
    await request(sock, 'quit').catch(() => null);
    throw labError(`delay for ${t.link}: could not steer its traffic through the element: ${errorMessage(err)}`, err);
  }
  return state;
}

/**
 * Give link `t` the delay `d`: start its element (and steer its traffic) if it has none, else
 * change the running element's settings, which apply to packets arriving from then on (packets
 * already held keep their time; none is reordered). No delay at all removes the element.
 * Returns the element's state, or `null` when the link is left without one.
 */
export async function applyDelay(set: NamespaceSet, t: FaultTarget, dir: string, d: LinkDelay): Promise<DelayState | null> {
  if (!hasDelay(d)) {
    await removeDelay(set, t, dir);
    return null;
  }
  const answer = await request(controlPath(dir, t.link), setRequest(d));
  if (answer !== null) return parseElementReply(answer);
  return start(set, t, dir, d);
}

/**
 * Take link `t`'s delay away: new packets bypass at once (tc steering removed); the element
 * releases what it holds on schedule, then exits, and its tun devices go with it. Returns once
 * it is gone. Harmless when the link has no element; after an element that was killed, removes
 * the steering it left.
 */
export async function removeDelay(set: NamespaceSet, t: FaultTarget, dir: string): Promise<void> {
  const sock = controlPath(dir, t.link);
  // The element removes its socket file only when it quits: no file, nothing to undo (the common
  // case of `clear` on a link that never had a delay costs no process).
  if (!existsSync(sock)) return;
  await removeSteering(set, t);
  const state = await request(sock, 'get').catch(() => null);
  const answer = state === null ? null : await request(sock, 'quit');
  if (state === null || answer === null) {
    rmSync(sock, { force: true });
    return;
  }
  const pid = parseElementReply(state).pid;
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  // The element removes its tun devices, then its socket file, then exits; wait for all of it.
  while ((await request(sock, 'get').catch(() => null)) !== null || processRunning(pid)) {
    if (Date.now() > deadline) throw new WanbraidError('WB_TIMEOUT', `delay element for ${t.link} (pid ${pid}) still running ${STOP_TIMEOUT_MS} ms after quit`);
    await sleep(20);
  }
  rmSync(sock, { force: true });
}
