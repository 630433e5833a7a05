/** The daemon's notifier: sd_notify over $NOTIFY_SOCKET through the native addon's datagram sender. */
import { createRequire } from 'node:module';
import { WanbraidError } from '../errors.js';
import { systemdNotifier, type Notifier } from './notify.js';

const require = createRequire(import.meta.url);

function nativeSend(path: string, message: string): void {
  let addon: { sdNotify?: (path: string, message: string) => void };
  try {
    addon = require('../../../build/Release/wanbraid.node') as typeof addon;
  } catch (err) {
    throw new WanbraidError('WB_NATIVE', 'sd_notify needs the native addon (npm run build)', { cause: err });
  }
  if (!addon.sdNotify) throw new WanbraidError('WB_NATIVE', 'the native addon has no sdNotify');
  addon.sdNotify(path, message);
}

export function defaultNotifier(onError: (err: unknown) => void, env: NodeJS.ProcessEnv = process.env): Notifier {
  return systemdNotifier(env, nativeSend, onError);
}
