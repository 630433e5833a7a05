/*
 * Shared helpers for the wanbraid addon: N-API status checks, errno → JS errors, and address
 * conversion between text and sockaddr.
 *
 * Error convention: a failed system call throws an Error whose `code` is the errno name
 * ("EADDRNOTAVAIL", from libuv's table) and whose message names the operation, e.g.
 * "bind 198.18.1.2: Cannot assign requested address". Every helper that throws returns -1 (or
 * NULL); the caller then returns NULL to JS at once.
 */
#ifndef WANBRAID_UTIL_H
#define WANBRAID_UTIL_H

#include <node_api.h>
#include <stdint.h>
#include <sys/socket.h>

/* Evaluate an N-API call; on failure make sure an exception is pending and return `ret`. */
#define WB_NAPI(env, call, ret)                       \
  do {                                                \
    if ((call) != napi_ok) {                          \
      wb_throw_last_napi_error(env);                  \
      return ret;                                     \
    }                                                 \
  } while (0)

/* Throw (if nothing is pending yet) an Error describing the last failed N-API call. */
void wb_throw_last_napi_error(napi_env env);

/* Make an Error {code: errno name, message: "<op>: <strerror>"} (NULL if even that failed). */
napi_value wb_errno_error(napi_env env, const char *op, int err);

/* Throw wb_errno_error(); always returns NULL so callers can `return wb_throw_errno(...)`. */
napi_value wb_throw_errno(napi_env env, const char *op, int err);

/* Throw a TypeError with code ERR_INVALID_ARG_VALUE; returns NULL. */
napi_value wb_throw_arg(napi_env env, const char *message);

/* Read argument `v` as an int32 in [min, max]; -1 (exception thrown) if it is not. */
int wb_get_int(napi_env env, napi_value v, int32_t min, int32_t max, const char *what, int32_t *out);

/* Map the JS family number (4 or 6) to AF_INET / AF_INET6; -1 (exception thrown) otherwise. */
int wb_get_family(napi_env env, napi_value v, int *af);

/*
 * Parse a numeric address of family `af` (no names, no scope ids) from a JS string into `ss`
 * with port 0. Returns the sockaddr length, or 0 with an exception thrown.
 */
socklen_t wb_get_sockaddr(napi_env env, napi_value v, int af, struct sockaddr_storage *ss);

/* Text form of the address in `sa` (inet_ntop); NULL with an exception thrown on failure. */
napi_value wb_address_string(napi_env env, const struct sockaddr *sa);

/* Port of `sa` in host byte order. */
uint16_t wb_sockaddr_port(const struct sockaddr *sa);

#endif
