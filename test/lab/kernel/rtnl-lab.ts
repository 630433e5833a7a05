/**
 * The small lab the rtnetlink tests share: a namespace `r` where the adapter runs (through the
 * lab driver with rtnl-ops), and a namespace `p` holding the veth peers that give r's interfaces
 * their carrier.
 *
 *   r: v0 198.18.1.1/24 2001:db8:1::1/64 ── veth ── v1 (p)
 *      w0 198.18.2.1/24 2001:db8:2::1/64 ── veth ── w1 (p)
 */
import { NamespaceSet } from '../../../src/lab/netns.js';
import { Driver, opsModulePath } from '../harness/remote.js';
import { ipJson } from '../harness/ip.js';
import type { Link } from '../../../src/kernel/rtnl/index.js';

export interface RtnlLab {
  set: NamespaceSet;
  /** The driver in r, running test/lab/kernel/rtnl-ops. */
  d: Driver;
  /** Interface indexes in r. */
  v0: number;
  w0: number;
  /** `ip -j ARGS` in r. */
  ipj<T = Record<string, unknown>>(...args: string[]): Promise<T[]>;
  /** `ip ARGS` in r (or p), one command per call. */
  ip(...args: string[]): Promise<void>;
  ipPeer(...args: string[]): Promise<void>;
  destroy(): Promise<void>;
}

export async function startRtnlLab(): Promise<RtnlLab> {
  const set = await NamespaceSet.create(['r', 'p']);
  try {
    await set.ip('r', [
      'link add v0 type veth peer name v1',
      'link add w0 type veth peer name w1',
      `link set v1 netns ${set.ns('p')}`,
      `link set w1 netns ${set.ns('p')}`,
      'link set v0 up',
      'link set w0 up',
      'addr add 198.18.1.1/24 dev v0',
      'addr add 198.18.2.1/24 dev w0',
      'addr add 2001:db8:1::1/64 dev v0 nodad',
      'addr add 2001:db8:2::1/64 dev w0 nodad',
    ]);
    await set.ip('p', ['link set v1 up', 'link set w1 up']);
    const d = await Driver.start(set, 'r', opsModulePath(import.meta.url, './rtnl-ops.js'));
    const get = (which: string) => d.call<Link>('link.get', { which });
    const [v0, w0] = await Promise.all([get('v0'), get('w0')]);
    return {
      set,
      d,
      v0: v0.ifindex,
      w0: w0.ifindex,
      ipj: (...args) => ipJson(set, 'r', args),
      ip: async (...args) => void (await set.exec('r', ['ip', ...args])),
      ipPeer: async (...args) => void (await set.exec('p', ['ip', ...args])),
      destroy: async () => {
        await d.stop();
        await set.destroy();
      },
    };
  } catch (e) {
    await set.destroy();
    throw e;
  }
}
