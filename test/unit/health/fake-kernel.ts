/**
 * A fake rtnetlink source for unit tests: a mutable kernel state whose changes are delivered as
 * events, and dumped on request. Test helper, not a test file.
 */
import type { KernelAddress, KernelEvent, KernelLink, KernelRoute, KernelSnapshot, KernelSource } from '../../../src/health/kernel.js';

export class FakeKernel implements KernelSource {
  links = new Map<number, KernelLink>();
  addresses: KernelAddress[] = [];
  routes: KernelRoute[] = [];
  private onEvent: ((e: KernelEvent) => void) | undefined;
  onError: ((err: Error) => void) | undefined;
  /** Events to deliver while the next dump is in progress (a race the monitor must survive). */
  duringDump: (() => void) | undefined;
  closed = false;

  async subscribe(onEvent: (e: KernelEvent) => void, onError: (err: Error) => void): Promise<void> {
    this.onEvent = onEvent;
    this.onError = onError;
  }

  async dump(): Promise<KernelSnapshot> {
    const snap = { links: [...this.links.values()].map((l) => ({ ...l })), addresses: this.addresses.map((a) => ({ ...a })), routes: this.routes.map((r) => ({ ...r })) };
    const race = this.duringDump;
    this.duringDump = undefined;
    race?.();
    await Promise.resolve();
    return snap;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private emit(e: KernelEvent): void {
    this.onEvent?.(e);
  }

  /** Add or change a link: `up` sets IFF_UP and IFF_LOWER_UP unless given. */
  link(ifindex: number, name: string, over: Partial<KernelLink> = {}): void {
    const l: KernelLink = { ifindex, name, adminUp: true, lowerUp: true, pointToPoint: false, ...this.links.get(ifindex), ...over };
    this.links.set(ifindex, l);
    this.emit({ kind: 'link', op: 'new', link: { ...l } });
  }

  delLink(ifindex: number): void {
    const l = this.links.get(ifindex);
    if (!l) return;
    this.links.delete(ifindex);
    this.addresses = this.addresses.filter((a) => a.ifindex !== ifindex);
    this.routes = this.routes.filter((r) => r.oif !== ifindex);
    this.emit({ kind: 'link', op: 'del', link: l });
  }

  addr(ifindex: number, cidr: string, over: Partial<KernelAddress> = {}): KernelAddress {
    const [address, len] = cidr.split('/') as [string, string];
    const a: KernelAddress = {
      ifindex,
      family: address.includes(':') ? 6 : 4,
      address,
      prefixLen: Number(len),
      scope: 0,
      secondary: false,
      tentative: false,
      dadFailed: false,
      deprecated: false,
      temporary: false,
      ...over,
    };
    this.addresses = this.addresses.filter((x) => !(x.ifindex === ifindex && x.address === address));
    this.addresses.push(a);
    this.emit({ kind: 'address', op: 'new', address: { ...a } });
    return a;
  }

  delAddr(ifindex: number, address: string): void {
    const a = this.addresses.find((x) => x.ifindex === ifindex && x.address === address);
    if (!a) return;
    this.addresses = this.addresses.filter((x) => x !== a);
    this.emit({ kind: 'address', op: 'del', address: a });
  }

  route(r: Partial<KernelRoute> & { oif?: number }): KernelRoute {
    const full: KernelRoute = {
      family: r.gateway?.includes(':') ? 6 : 4,
      table: 254,
      dst: undefined,
      dstLen: 0,
      gateway: undefined,
      oif: undefined,
      priority: 0,
      protocol: 16,
      type: 'unicast',
      multipath: false,
      ...r,
    };
    this.routes.push(full);
    this.emit({ kind: 'route', op: 'new', route: { ...full } });
    return full;
  }

  delRoute(r: KernelRoute): void {
    this.routes = this.routes.filter((x) => x !== r);
    this.emit({ kind: 'route', op: 'del', route: { ...r } });
  }
}
