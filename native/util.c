/* See util.h. */
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

void wb_throw_last_napi_error(napi_env env) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  const napi_extended_error_info *info = NULL;
  const char *msg = "N-API call failed";
  if (napi_get_last_error_info(env, &info) == napi_ok && info != NULL && info->error_message != NULL)
    msg = info->error_message;
  napi_throw_error(env, "WB_NATIVE", msg);
}

napi_value wb_errno_error(napi_env env, const char *op, int err) {
  char msg[256];
  /* uv_err_name() knows every errno name; libuv spells errno e as -e on Unix. */
  const char *name = uv_err_name(-err);
  snprintf(msg, sizeof msg, "%s: %s", op, strerror(err));
  napi_value code, text, error;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text) != napi_ok) return NULL;
  if (napi_create_error(env, code, text, &error) != napi_ok) return NULL;
  /* Keep the number too, like Node's own system errors do (negative, as libuv reports it). */
  napi_value errnum;
  if (napi_create_int32(env, -err, &errnum) == napi_ok) napi_set_named_property(env, error, "errno", errnum);
  return error;
}

napi_value wb_throw_errno(napi_env env, const char *op, int err) {
  napi_value error = wb_errno_error(env, op, err);
  if (error == NULL || napi_throw(env, error) != napi_ok) wb_throw_last_napi_error(env);
  return NULL;
}

napi_value wb_throw_arg(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", message);
  return NULL;
}

int wb_get_int(napi_env env, napi_value v, int32_t min, int32_t max, const char *what, int32_t *out) {
  napi_valuetype type;
  WB_NAPI(env, napi_typeof(env, v, &type), -1);
  double d = 0;
  if (type == napi_number) WB_NAPI(env, napi_get_value_double(env, v, &d), -1);
  if (type != napi_number || d != (double)(int32_t)d || d < min || d > max) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be an integer from %d to %d", what, (int)min, (int)max);
    wb_throw_arg(env, msg);
    return -1;
  }
  *out = (int32_t)d;
  return 0;
}

int wb_get_family(napi_env env, napi_value v, int *af) {
  int32_t family = 0;
  if (wb_get_int(env, v, 4, 6, "family", &family) != 0) return -1;
  if (family != 4 && family != 6) {
    wb_throw_arg(env, "family must be 4 or 6");
    return -1;
  }
  *af = family == 4 ? AF_INET : AF_INET6;
  return 0;
}

socklen_t wb_get_sockaddr(napi_env env, napi_value v, int af, struct sockaddr_storage *ss) {
  char text[INET6_ADDRSTRLEN + 1];
  size_t len = 0;
  napi_valuetype type;
  WB_NAPI(env, napi_typeof(env, v, &type), 0);
  if (type != napi_string) {
    wb_throw_arg(env, "address must be a string");
    return 0;
  }
  WB_NAPI(env, napi_get_value_string_utf8(env, v, text, sizeof text, &len), 0);
  memset(ss, 0, sizeof *ss);
  int ok;
  socklen_t sslen;
  if (af == AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    sin->sin_family = AF_INET;
    ok = inet_pton(AF_INET, text, &sin->sin_addr);
    sslen = sizeof *sin;
  } else {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    sin6->sin6_family = AF_INET6;
    ok = inet_pton(AF_INET6, text, &sin6->sin6_addr);
    sslen = sizeof *sin6;
  }
  /* A string that filled the buffer was longer than any address: reject it rather than parse a prefix. */
  if (ok != 1 || len >= sizeof text - 1) {
    char msg[96];
    snprintf(msg, sizeof msg, "not a numeric %s address: \"%.*s\"", af == AF_INET ? "IPv4" : "IPv6", 46, text);
    wb_throw_arg(env, msg);
    return 0;
  }
  return sslen;
}

napi_value wb_address_string(napi_env env, const struct sockaddr *sa) {
  char text[INET6_ADDRSTRLEN];
  const void *addr = sa->sa_family == AF_INET ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
                                              : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
  if (inet_ntop(sa->sa_family, addr, text, sizeof text) == NULL) return wb_throw_errno(env, "inet_ntop", errno);
  napi_value out;
  WB_NAPI(env, napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &out), NULL);
  return out;
}

uint16_t wb_sockaddr_port(const struct sockaddr *sa) {
  if (sa->sa_family == AF_INET) return ntohs(((const struct sockaddr_in *)sa)->sin_port);
  return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
}
