/**
 * sd_notify(3) for Type=notify units: READY=1 once the first plan is applied, RELOADING=1 and
 * READY=1 around a reload, STOPPING=1 on shutdown, WATCHDOG=1 every half WatchdogSec. The
 * transport (a datagram to $NOTIFY_SOCKET, which Node cannot send itself) is injected so the
 * message logic is testable; the daemon uses the native addon's sender.
 */

export interface Notifier {
  ready(status?: string): void;
  reloading(): void;
  stopping(): void;
  watchdog(): void;
}

export const nullNotifier: Notifier = {
  ready: () => undefined,
  reloading: () => undefined,
  stopping: () => undefined,
  watchdog: () => undefined,
};

/** Sends `message` as one datagram to the unix socket `path` ("@…" = abstract namespace). */
export type NotifySend = (path: string, message: string) => void;

/** A notifier for $NOTIFY_SOCKET, or the null notifier when not run by systemd. */
export function systemdNotifier(env: NodeJS.ProcessEnv, send: NotifySend, onError: (err: unknown) => void): Notifier {
  const path = env.NOTIFY_SOCKET;
  if (!path) return nullNotifier;
  const say = (msg: string) => {
    try {
      send(path, msg);
    } catch (err) {
      onError(err);
    }
  };
  const clean = (s: string) => s.replace(/[\n\r]/g, ' ').slice(0, 200);
  return {
    ready: (status) => say(`READY=1\nMAINPID=${process.pid}${status ? `\nSTATUS=${clean(status)}` : ''}`),
    reloading: () => say(`RELOADING=1\nMONOTONIC_USEC=${monotonicUsec()}`),
    stopping: () => say('STOPPING=1'),
    watchdog: () => say('WATCHDOG=1'),
  };
}

function monotonicUsec(): string {
  return (process.hrtime.bigint() / 1000n).toString();
}
