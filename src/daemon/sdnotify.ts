/** The daemon's notifier: sd_notify over $NOTIFY_SOCKET through the native addon's datagram sender. */
import { nativeAddon } from '../native/addon.js';
import { systemdNotifier, type Notifier } from './notify.js';

export function defaultNotifier(onError: (err: unknown) => void, env: NodeJS.ProcessEnv = process.env): Notifier {
  return systemdNotifier(env, (path, message) => nativeAddon().sdNotify(path, message), onError);
}
