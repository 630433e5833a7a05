/**
 * The thin shell under a {@link TopologyPlan}: runs its phases in the lab's namespaces (every node
 * of a phase in parallel, one `ip -batch`/`tc -batch`/`sysctl` process per node and phase), makes
 * the HTTPS certificate, starts the services and waits until they listen.
 *
 * Services run detached (own session, output to log files in the lab's directory), so a lab
 * brought up by `wanbraid lab up` outlives that command; their PIDs are what `down` ends.
 */
import { openSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { ipBatch, tcBatch, type NamespaceSet } from './netns.js';
import { LAB_PORTS } from './addressing.js';
import type { NodeSetup, TopologyPlan } from './plan.js';
import { exec } from '../util/exec.js';
import { WanbraidError, errorMessage } from '../errors.js';

/** One long-running process of the lab. */
export interface ServiceRecord {
  /** `services`, `iperf3-5201`, … */
  name: string;
  node: string;
  pid: number;
  /** Its stdout and stderr. */
  log: string;
}

function phaseError(node: string, phase: string, err: unknown): WanbraidError {
  return new WanbraidError('WB_LAB', `lab ${phase} on ${node}: ${errorMessage(err)}`, { cause: err });
}

async function eachNode(plan: TopologyPlan, phase: string, f: (n: NodeSetup) => Promise<unknown>): Promise<void> {
  const results = await Promise.allSettled(plan.nodes.map((n) => f(n).catch((err: unknown) => Promise.reject(phaseError(n.node, phase, err)))));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Build the plan's network in namespaces that already exist (one per plan node). */
export async function applyPlan(set: NamespaceSet, plan: TopologyPlan): Promise<void> {
  await eachNode(plan, 'sysctl', async (n) => {
    if (n.sysctl.length) await set.exec(n.node, ['sysctl', '-q', '-w', ...n.sysctl]);
  });
  await eachNode(plan, 'create', (n) => ipBatch(set.ns(n.node), n.create));
  await eachNode(plan, 'address', async (n) => {
    await ipBatch(set.ns(n.node), n.address);
    await tcBatch(set.ns(n.node), n.tc);
  });
  await eachNode(plan, 'route', (n) => ipBatch(set.ns(n.node), n.route));
}

export interface CertFiles {
  cert: string;
  key: string;
}

/** A self-signed P-256 certificate naming `ips`, written into `dir`. */
export async function makeCertificate(dir: string, ips: readonly string[]): Promise<CertFiles> {
  const files = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  const san = ['DNS:lab.wanbraid', ...ips.map((ip) => `IP:${ip}`)].join(',');
  await exec([
    'openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', files.key, '-out', files.cert, '-days', '30', '-subj', '/CN=lab.wanbraid', '-addext', `subjectAltName=${san}`,
  ]);
  return files;
}

/** The compiled services script next to this module (dist/src/lab/services.js). */
export const SERVICES_SCRIPT = fileURLToPath(new URL('./services.js', import.meta.url));
/** The compiled lab client (dist/src/lab/client.js), for `lab.exec(node, [process.execPath, CLIENT_SCRIPT, ...])`. */
export const CLIENT_SCRIPT = fileURLToPath(new URL('./client.js', import.meta.url));

interface ServiceSpec {
  name: string;
  argv: string[];
}

export function serviceSpecs(cert: CertFiles | undefined, dns: { a: string; aaaa: string }): ServiceSpec[] {
  const node = [process.execPath, SERVICES_SCRIPT, '--dns-a', dns.a, '--dns-aaaa', dns.aaaa, ...(cert ? ['--cert', cert.cert, '--key', cert.key] : [])];
  return [{ name: 'services', argv: node }, ...LAB_PORTS.iperf3.map((p) => ({ name: `iperf3-${p}`, argv: ['iperf3', '-s', '-p', String(p)] }))];
}

/** TCP and UDP ports the services listen on once ready. */
export function servicePorts(https: boolean): { tcp: number[]; udp: number[] } {
  const tcp = [LAB_PORTS.http, LAB_PORTS.echo, LAB_PORTS.hold, LAB_PORTS.sink, ...LAB_PORTS.iperf3, ...(https ? [LAB_PORTS.https] : [])];
  return { tcp, udp: [LAB_PORTS.dns, LAB_PORTS.echo] };
}

/** `ss -Hlntu` output → listening ports per protocol. */
export function parseListening(ssOutput: string): { tcp: Set<number>; udp: Set<number> } {
  const out = { tcp: new Set<number>(), udp: new Set<number>() };
  for (const line of ssOutput.split('\n')) {
    const cols = line.trim().split(/\s+/);
    const proto = cols[0];
    const local = cols[4];
    if (!local || (proto !== 'tcp' && proto !== 'udp')) continue;
    const port = Number(local.slice(local.lastIndexOf(':') + 1));
    if (Number.isInteger(port)) out[proto].add(port);
  }
  return out;
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-3).join(' | ');
  } catch {
    return '';
  }
}

/**
 * Start the services in `node` and wait (at most `timeoutMs`) until every port listens. On
 * failure the caller destroys the namespaces, which ends whatever did start.
 */
export async function startServices(set: NamespaceSet, node: string, dir: string, specs: readonly ServiceSpec[], ports: { tcp: number[]; udp: number[] }, timeoutMs = 10_000): Promise<ServiceRecord[]> {
  const started: { rec: ServiceRecord; child: ChildProcess }[] = [];
  for (const s of specs) {
    const log = join(dir, `${s.name}.log`);
    const fd = openSync(log, 'a');
    let child: ChildProcess;
    try {
      child = set.spawn(node, s.argv, { detached: true, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    if (child.pid === undefined) throw new WanbraidError('WB_LAB', `lab service ${s.name}: could not start ${s.argv[0]}`);
    child.on('error', () => undefined);
    started.push({ rec: { name: s.name, node, pid: child.pid, log }, child });
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dead = started.find((s) => s.child.exitCode !== null || s.child.signalCode !== null);
    if (dead) throw new WanbraidError('WB_LAB', `lab service ${dead.rec.name} in ${node} exited at start: ${tail(dead.rec.log) || 'no output'}`);
    const ss = await set.exec(node, ['ss', '-Hlntu'], { allowFail: true });
    const l = parseListening(ss.stdout);
    const missing = [...ports.tcp.filter((p) => !l.tcp.has(p)).map((p) => `tcp ${p}`), ...ports.udp.filter((p) => !l.udp.has(p)).map((p) => `udp ${p}`)];
    if (missing.length === 0) return started.map((s) => s.rec);
    if (Date.now() > deadline) throw new WanbraidError('WB_TIMEOUT', `lab services in ${node} not listening after ${timeoutMs} ms: ${missing.join(', ')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
