/*
 * IcmpSocket: a raw ICMP (IPv4) or ICMPv6 socket bound to one source address, read by libuv.
 *
 *   new IcmpSocket(family: 4 | 6, source: string, onDatagram: (err, bytes, from) => void)
 *   socket.send(packet: Buffer, address: string): void      throws {code: errno name}
 *   socket.close(): void                                     idempotent
 *
 * Contract:
 * - The socket is non-blocking and close-on-exec, bound to `source` so that the kernel picks the
 *   route with that source (the daemon's `from <address> lookup <table>` rule) and delivers only
 *   datagrams addressed to it. A kernel filter passes only echo replies: ICMP_FILTER (SOL_RAW) for
 *   IPv4, ICMP6_FILTER for IPv6.
 * - Datagrams are passed up as the kernel delivers them, and JS parses them: IPv4 raw sockets
 *   include the IP header, IPv6 raw sockets do not. `send` writes the ICMP message as given; for
 *   ICMPv6 the kernel fills in the checksum (it is mandatory there), for ICMP the caller must.
 * - A uv_poll_t watches the fd; each readable event reads up to WB_READ_BURST datagrams (libuv
 *   polls level-triggered, so a longer queue is read on the next turn without starving the loop).
 *   A read error other than EAGAIN/EINTR is reported as onDatagram(err).
 * - An open socket holds a strong reference to its own JS object, so it is never collected while
 *   open; close() releases it. Memory is freed once both the JS object is finalized and libuv has
 *   closed the poll handle, whichever comes last, so no callback can see freed memory.
 * - Needs CAP_NET_RAW (the daemon runs as root).
 */
#include "icmp_socket.h"

#include <errno.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "util.h"

/* Datagrams read per readable event at most. */
#define WB_READ_BURST 64
/* Largest datagram read whole; longer ones are truncated (echo replies to our small requests never are). */
#define WB_READ_MAX 2048

typedef struct {
  napi_env env;
  int fd;                  /* -1 once closed */
  int af;                  /* AF_INET or AF_INET6 */
  uv_poll_t *poll;         /* NULL when not (or no longer) polling */
  bool poll_live;          /* a poll handle exists and libuv has not yet called its close callback */
  bool finalized;          /* the JS object has been collected */
  bool cleanup_hook;       /* registered with napi_add_env_cleanup_hook */
  napi_ref self;           /* strong while open */
  napi_ref callback;       /* onDatagram */
  napi_async_context async;
} icmp_socket;

static void env_cleanup(void *arg);

static void maybe_free(icmp_socket *s) {
  if (s->finalized && !s->poll_live) free(s);
}

static void on_poll_closed(uv_handle_t *handle) {
  icmp_socket *s = handle->data;
  free(handle);
  s->poll_live = false;
  maybe_free(s);
}

/* Stop reading, close the fd and drop the references. Safe to call more than once. */
static void release(icmp_socket *s) {
  if (s->poll != NULL) {
    uv_poll_stop(s->poll); /* cannot fail for a poll handle */
    uv_close((uv_handle_t *)s->poll, on_poll_closed);
    s->poll = NULL;
  }
  if (s->fd >= 0) {
    close(s->fd); /* nothing useful to do on a close error of a socket we never wrote to after */
    s->fd = -1;
  }
  if (s->callback != NULL) {
    napi_delete_reference(s->env, s->callback);
    s->callback = NULL;
  }
  if (s->async != NULL) {
    napi_async_destroy(s->env, s->async);
    s->async = NULL;
  }
  if (s->self != NULL) {
    napi_delete_reference(s->env, s->self);
    s->self = NULL;
  }
  if (s->cleanup_hook) {
    napi_remove_env_cleanup_hook(s->env, env_cleanup, s);
    s->cleanup_hook = false;
  }
}

static void env_cleanup(void *arg) {
  icmp_socket *s = arg;
  s->cleanup_hook = false; /* being run: it must not be removed from inside itself */
  release(s);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  icmp_socket *s = data;
  release(s);
  s->finalized = true;
  maybe_free(s);
}

/* Call onDatagram(argv...) in the socket's async context; an exception becomes an uncaught one. */
static void call_back(icmp_socket *s, size_t argc, napi_value *argv) {
  napi_env env = s->env;
  napi_value fn, recv, result;
  if (s->callback == NULL || napi_get_reference_value(env, s->callback, &fn) != napi_ok || fn == NULL) return;
  /* napi_make_callback converts the receiver to an object, so it cannot be undefined. */
  if (napi_get_global(env, &recv) != napi_ok) return;
  if (napi_make_callback(env, s->async, recv, fn, argc, argv, &result) != napi_ok) {
    napi_value exception;
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending &&
        napi_get_and_clear_last_exception(env, &exception) == napi_ok)
      napi_fatal_exception(env, exception);
  }
}

static void report_error(icmp_socket *s, const char *op, int err) {
  napi_value argv[1];
  argv[0] = wb_errno_error(s->env, op, err);
  if (argv[0] != NULL) call_back(s, 1, argv);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  icmp_socket *s = handle->data;
  napi_handle_scope scope;
  if (napi_open_handle_scope(s->env, &scope) != napi_ok) return;
  if (status < 0) {
    /* The poll itself failed (e.g. EBADF): stop, or libuv would report it on every turn. */
    uv_poll_stop(handle);
    report_error(s, "poll", -status);
  } else {
    unsigned char buf[WB_READ_MAX];
    for (int i = 0; i < WB_READ_BURST && s->fd >= 0; i++) {
      struct sockaddr_storage from;
      socklen_t fromlen = sizeof from;
      ssize_t n = recvfrom(s->fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fromlen);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) report_error(s, "recvfrom", errno);
        break;
      }
      if (from.ss_family != s->af) continue; /* cannot happen on a raw socket of one family */
      napi_value argv[3];
      if (napi_get_null(s->env, &argv[0]) != napi_ok) break;
      if (napi_create_buffer_copy(s->env, (size_t)n, buf, NULL, &argv[1]) != napi_ok) break;
      argv[2] = wb_address_string(s->env, (struct sockaddr *)&from);
      if (argv[2] == NULL) break;
      /* The callback may close the socket: the loop condition re-reads s->fd, and `s` stays
         allocated until the poll handle's close callback, which runs on a later loop turn. */
      call_back(s, 3, argv);
    }
  }
  napi_close_handle_scope(s->env, scope);
}

/* Open, filter and bind the socket; returns the fd, or -1 with an exception thrown. */
static int open_socket(napi_env env, int af, const struct sockaddr_storage *src, socklen_t srclen) {
  int fd = socket(af, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, af == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
  if (fd < 0) {
    wb_throw_errno(env, "socket", errno);
    return -1;
  }
  int rc;
  if (af == AF_INET) {
    /* ICMP_FILTER: a set bit drops that type; keep only echo replies. */
    struct icmp_filter filter = { .data = ~(1U << ICMP_ECHOREPLY) };
    rc = setsockopt(fd, SOL_RAW, ICMP_FILTER, &filter, sizeof filter);
  } else {
    struct icmp6_filter filter;
    ICMP6_FILTER_SETBLOCKALL(&filter);
    ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filter);
    rc = setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter);
  }
  if (rc != 0) {
    int err = errno;
    close(fd);
    wb_throw_errno(env, af == AF_INET ? "setsockopt ICMP_FILTER" : "setsockopt ICMP6_FILTER", err);
    return -1;
  }
  if (bind(fd, (const struct sockaddr *)src, srclen) != 0) {
    int err = errno;
    close(fd);
    wb_throw_errno(env, "bind", err);
    return -1;
  }
  return fd;
}

static napi_value icmp_new(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], self, target;
  WB_NAPI(env, napi_get_cb_info(env, info, &argc, argv, &self, NULL), NULL);
  WB_NAPI(env, napi_get_new_target(env, info, &target), NULL);
  if (target == NULL) return wb_throw_arg(env, "IcmpSocket must be called with new");
  if (argc < 3) return wb_throw_arg(env, "IcmpSocket(family, source, onDatagram) needs 3 arguments");
  int af;
  if (wb_get_family(env, argv[0], &af) != 0) return NULL;
  struct sockaddr_storage src;
  socklen_t srclen = wb_get_sockaddr(env, argv[1], af, &src);
  if (srclen == 0) return NULL;
  napi_valuetype type;
  WB_NAPI(env, napi_typeof(env, argv[2], &type), NULL);
  if (type != napi_function) return wb_throw_arg(env, "onDatagram must be a function");
  uv_loop_t *loop;
  WB_NAPI(env, napi_get_uv_event_loop(env, &loop), NULL);

  int fd = open_socket(env, af, &src, srclen);
  if (fd < 0) return NULL;
  icmp_socket *s = calloc(1, sizeof *s);
  if (s == NULL) {
    close(fd);
    return wb_throw_errno(env, "calloc", ENOMEM);
  }
  s->env = env;
  s->fd = fd;
  s->af = af;
  if (napi_wrap(env, self, s, finalize, NULL, NULL) != napi_ok) {
    close(fd);
    free(s);
    wb_throw_last_napi_error(env);
    return NULL;
  }
  /* From here on the finalizer owns `s`: on failure, release() and throw. */
  napi_value resource_name;
  int err = 0;
  const char *op = NULL;
  if (napi_create_reference(env, self, 1, &s->self) != napi_ok ||
      napi_create_reference(env, argv[2], 1, &s->callback) != napi_ok ||
      napi_create_string_utf8(env, "wanbraid.IcmpSocket", NAPI_AUTO_LENGTH, &resource_name) != napi_ok ||
      napi_async_init(env, NULL, resource_name, &s->async) != napi_ok ||
      napi_add_env_cleanup_hook(env, env_cleanup, s) != napi_ok) {
    release(s);
    wb_throw_last_napi_error(env);
    return NULL;
  }
  s->cleanup_hook = true;
  s->poll = malloc(sizeof *s->poll);
  if (s->poll == NULL) {
    err = ENOMEM;
    op = "malloc";
  } else if ((err = uv_poll_init_socket(loop, s->poll, fd)) != 0) {
    free(s->poll); /* init failed: libuv does not know the handle, so plain free is right */
    s->poll = NULL;
    err = -err;
    op = "uv_poll_init";
  } else {
    s->poll->data = s;
    s->poll_live = true;
    if ((err = uv_poll_start(s->poll, UV_READABLE, on_readable)) != 0) {
      err = -err;
      op = "uv_poll_start";
    }
  }
  if (op != NULL) {
    release(s); /* closes the poll handle through libuv if it was initialised */
    return wb_throw_errno(env, op, err);
  }
  return self;
}

static icmp_socket *unwrap(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv) {
  napi_value self;
  void *data = NULL;
  WB_NAPI(env, napi_get_cb_info(env, info, argc, argv, &self, NULL), NULL);
  WB_NAPI(env, napi_unwrap(env, self, &data), NULL);
  return data;
}

static napi_value icmp_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  icmp_socket *s = unwrap(env, info, &argc, argv);
  if (s == NULL) return NULL;
  if (argc < 2) return wb_throw_arg(env, "send(packet, address) needs 2 arguments");
  bool is_buffer = false;
  WB_NAPI(env, napi_is_buffer(env, argv[0], &is_buffer), NULL);
  if (!is_buffer) return wb_throw_arg(env, "packet must be a Buffer");
  void *data;
  size_t len;
  WB_NAPI(env, napi_get_buffer_info(env, argv[0], &data, &len), NULL);
  struct sockaddr_storage dst;
  socklen_t dstlen = wb_get_sockaddr(env, argv[1], s->af, &dst);
  if (dstlen == 0) return NULL;
  if (s->fd < 0) return wb_throw_errno(env, "send on a closed IcmpSocket", EBADF);
  ssize_t n;
  do {
    n = sendto(s->fd, data, len, 0, (struct sockaddr *)&dst, dstlen);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return wb_throw_errno(env, "sendto", errno);
  /* A raw datagram is sent whole or not at all, so n == len here. */
  napi_value undefined;
  WB_NAPI(env, napi_get_undefined(env, &undefined), NULL);
  return undefined;
}

static napi_value icmp_close(napi_env env, napi_callback_info info) {
  size_t argc = 0;
  icmp_socket *s = unwrap(env, info, &argc, NULL);
  if (s == NULL) return NULL;
  release(s);
  napi_value undefined;
  WB_NAPI(env, napi_get_undefined(env, &undefined), NULL);
  return undefined;
}

napi_value wb_icmp_socket_class(napi_env env) {
  napi_property_descriptor methods[] = {
    { "send", NULL, icmp_send, NULL, NULL, NULL, napi_default_method, NULL },
    { "close", NULL, icmp_close, NULL, NULL, NULL, napi_default_method, NULL },
  };
  napi_value cls;
  WB_NAPI(env, napi_define_class(env, "IcmpSocket", NAPI_AUTO_LENGTH, icmp_new, NULL,
                                 sizeof methods / sizeof methods[0], methods, &cls), NULL);
  return cls;
}
