/**
 * Who may do what on the control socket (pure). Two roles:
 *
 * - **read**: anyone who can connect. Connecting is the kernel's decision: the socket file is
 *   mode 0660, owned by root and `status.group`, so only root and members of that group get in.
 *   Read requests: `status`, `subscribe`, `ping`, `set … list`.
 * - **control**: requests that change the daemon's state: `link` overrides, `set` add/delete/
 *   flush, `reload`, and `speedtest` (it fills the links for tens of seconds). Allowed for uid 0, for the daemon's own uid, and for members (primary or
 *   supplementary) of `status.controlGroup` — decided on the peer's credentials as the kernel
 *   recorded them at connect (SO_PEERCRED + SO_PEERGROUPS through the native addon), so a
 *   client cannot claim to be someone else. Without `status.controlGroup`, root only.
 *
 * When the peer's credentials could not be read, control requests are refused (fail closed).
 */
import type { PeerCredentials } from '../native/addon.js';
import type { Request } from './protocol.js';

export interface ControlPolicy {
  /** The daemon's own uid (trusted like root: it could change the daemon anyway). */
  ownUid: number;
  /** gid of `status.controlGroup`, when configured. */
  controlGid: number | undefined;
  /** Its name, for messages. */
  controlGroup: string | undefined;
}

/** Requests that change the daemon's state. */
export function isControlRequest(req: Request): boolean {
  switch (req.cmd) {
    case 'link':
    case 'reload':
    case 'speedtest':
      return true;
    case 'set':
      return req.op !== 'list';
    case 'status':
    case 'subscribe':
    case 'ping':
      return false;
  }
}

/** What a request is called in a refusal. */
function describe(req: Request): string {
  if (req.cmd === 'set') return `"set ${req.op}"`;
  return `"${req.cmd}"`;
}

/**
 * Undefined when `peer` may make `req`; otherwise the refusal, in words. `peer` is the error
 * met reading the credentials when they could not be read.
 */
export function refusal(req: Request, peer: PeerCredentials | Error, policy: ControlPolicy): string | undefined {
  if (!isControlRequest(req)) return undefined;
  const who = policy.controlGroup !== undefined ? `root and members of status.controlGroup "${policy.controlGroup}"` : 'root (set status.controlGroup to allow a group)';
  if (peer instanceof Error) return `permission denied: ${describe(req)} changes the daemon's state and the client's credentials cannot be read (${peer.message}); allowed for ${who}`;
  if (peer.uid === 0 || peer.uid === policy.ownUid) return undefined;
  const g = policy.controlGid;
  if (g !== undefined && (peer.gid === g || peer.groups.includes(g))) return undefined;
  return `permission denied: ${describe(req)} changes the daemon's state; allowed for ${who}, this client is uid ${peer.uid} (read-only: status, events and set list work)`;
}
