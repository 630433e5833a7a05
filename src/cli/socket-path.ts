/** Which control socket a client command talks to: -s, else the config's status.socket, else the default. */
import { loadConfigFile } from '../config/load.js';
import { DEFAULT_SOCKET } from '../status/client.js';

export function socketFrom(values: { socket?: string | undefined; config?: string | undefined }): string {
  if (values.socket) return values.socket;
  if (values.config) return loadConfigFile(values.config).status.socket;
  return DEFAULT_SOCKET;
}
