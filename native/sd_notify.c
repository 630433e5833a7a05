/*
 * sdNotify(path: string, message: string): void
 *
 * Sends `message` as one datagram to the unix socket `path` — systemd's $NOTIFY_SOCKET, which Node
 * cannot reach because it has no unix datagram sockets. A leading "@" names an abstract socket.
 * The socket is opened, used and closed in the call (a few notifications per minute at most).
 * It must be sent by the daemon's own process: systemd's NotifyAccess=main checks the sender's
 * credentials, which is why this cannot be a spawned `systemd-notify`. Throws {code: errno name}
 * on failure; the caller logs it (a lost notification must not stop the daemon).
 */
#include "sd_notify.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

#define MAX_MESSAGE 4096

napi_value wb_sd_notify(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  WB_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL), NULL);
  if (argc < 2) return wb_throw_arg(env, "sdNotify(path, message) needs 2 arguments");

  struct sockaddr_un sun;
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  size_t path_len = 0;
  /* Room for the path plus a terminating NUL that napi always writes. */
  if (napi_get_value_string_utf8(env, argv[0], sun.sun_path, sizeof sun.sun_path, &path_len) != napi_ok)
    return wb_throw_arg(env, "sdNotify: path must be a string");
  if (path_len == 0 || path_len >= sizeof sun.sun_path - 1) return wb_throw_arg(env, "sdNotify: path is empty or too long");
  if (sun.sun_path[0] != '/' && sun.sun_path[0] != '@') return wb_throw_arg(env, "sdNotify: path must be absolute or start with @");
  socklen_t addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_len);
  if (sun.sun_path[0] == '@') sun.sun_path[0] = '\0';
  else addr_len += 1;

  char msg[MAX_MESSAGE];
  size_t msg_len = 0;
  if (napi_get_value_string_utf8(env, argv[1], msg, sizeof msg, &msg_len) != napi_ok)
    return wb_throw_arg(env, "sdNotify: message must be a string");
  if (msg_len == 0 || msg_len >= sizeof msg - 1) return wb_throw_arg(env, "sdNotify: message is empty or too long");

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return wb_throw_errno(env, "sd_notify socket", errno);
  ssize_t sent = sendto(fd, msg, msg_len, MSG_NOSIGNAL, (struct sockaddr *)&sun, addr_len);
  int err = errno;
  close(fd);
  if (sent < 0) return wb_throw_errno(env, "sd_notify sendto", err);
  if ((size_t)sent != msg_len) return wb_throw_errno(env, "sd_notify sendto (short)", EMSGSIZE);
  return NULL;
}
