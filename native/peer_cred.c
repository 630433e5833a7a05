/*
 * peerCredentials(fd: number): { pid: number, uid: number, gid: number, groups: number[] }
 *
 * The credentials of the process at the other end of a connected unix stream socket, as the
 * kernel recorded them when it connected: SO_PEERCRED (pid, uid, primary gid) and SO_PEERGROUPS
 * (its supplementary groups, Linux 4.13+). The control socket uses them to tell a read-only
 * client from one allowed to change links, sets and reload (docs/architecture.md). Throws
 * {code: errno name} for a bad fd or a socket that is not AF_UNIX.
 */
#include "peer_cred.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "util.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

/* A process has at most NGROUPS_MAX (65536) supplementary groups. */
#define WB_MAX_GROUPS 65536

napi_value wb_peer_credentials(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  WB_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL), NULL);
  if (argc < 1) return wb_throw_arg(env, "peerCredentials(fd) needs 1 argument");
  int32_t fd;
  if (wb_get_int(env, argv[0], 0, INT32_MAX, "fd", &fd) != 0) return NULL;

  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return wb_throw_errno(env, "getsockopt SO_PEERCRED", errno);

  /* Ask with a small buffer; the kernel says how much it needs (ERANGE) and we ask once more. */
  gid_t small[64];
  gid_t *groups = small;
  socklen_t glen = sizeof small;
  int rc = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen);
  if (rc != 0 && errno == ERANGE && glen <= WB_MAX_GROUPS * sizeof(gid_t)) {
    groups = malloc(glen);
    if (groups == NULL) return wb_throw_errno(env, "peerCredentials", ENOMEM);
    rc = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen);
  }
  if (rc != 0) {
    int err = errno;
    if (groups != small) free(groups);
    return wb_throw_errno(env, "getsockopt SO_PEERGROUPS", err);
  }
  size_t n = glen / sizeof(gid_t);

  napi_value out, v, list;
  napi_status st = napi_create_object(env, &out);
  if (st == napi_ok) st = napi_create_array_with_length(env, n, &list);
  for (size_t i = 0; st == napi_ok && i < n; i++) {
    st = napi_create_uint32(env, groups[i], &v);
    if (st == napi_ok) st = napi_set_element(env, list, (uint32_t)i, v);
  }
  if (groups != small) free(groups);
  WB_NAPI(env, st, NULL);
  WB_NAPI(env, napi_set_named_property(env, out, "groups", list), NULL);
  WB_NAPI(env, napi_create_int32(env, cred.pid, &v), NULL);
  WB_NAPI(env, napi_set_named_property(env, out, "pid", v), NULL);
  WB_NAPI(env, napi_create_uint32(env, cred.uid, &v), NULL);
  WB_NAPI(env, napi_set_named_property(env, out, "uid", v), NULL);
  WB_NAPI(env, napi_create_uint32(env, cred.gid, &v), NULL);
  WB_NAPI(env, napi_set_named_property(env, out, "gid", v), NULL);
  return out;
}
