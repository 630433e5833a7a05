/*
 * A kept libnftables context: nftables transactions without a process per change.
 *
 *   nftOpen(library: string): handle
 *       dlopen()s `library` (libnftables.so.1, which Debian's nftables package depends on) and
 *       makes one context with buffered output and errors and JSON output (so JSON input too:
 *       the same `{"nftables": [...]}` documents `nft -j -f` reads). The context's netlink socket
 *       belongs to the process's network namespace. Throws {code: "WB_NFT_LIBRARY"} when the
 *       library or one of its functions is missing, or the context cannot be made.
 *   nftRun(handle, text: string, dryRun: boolean): Promise<{rc, output, error}>
 *       One nft_run_cmd_from_buffer() on the libuv thread pool, so the event loop never waits on
 *       the kernel. rc 0 is success; `error` holds nft's messages. A dry run is `nft --check`.
 *       One run at a time per handle: a second call while one runs throws (the TypeScript side
 *       queues them).
 *   nftClose(handle): void
 *       Frees the context (after the running call, if one runs). Later calls throw.
 *
 * No libnftables headers are needed at build time: the few functions are declared here with the
 * signatures of libnftables' stable API (libnftables.h, unchanged since nftables 0.9).
 */
#include "nft_ctx.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define NFT_CTX_DEFAULT 0
#define NFT_CTX_OUTPUT_JSON (1u << 4)
/* Far above any batch wanbraid writes (a full table is tens of KiB); refuses runaway input. */
#define MAX_TEXT (64u * 1024u * 1024u)

struct nft_ctx;

typedef struct {
  void *dl;
  struct nft_ctx *ctx;
  struct nft_ctx *(*ctx_new)(uint32_t flags);
  void (*ctx_free)(struct nft_ctx *ctx);
  int (*buffer_output)(struct nft_ctx *ctx);
  int (*buffer_error)(struct nft_ctx *ctx);
  const char *(*get_output)(struct nft_ctx *ctx);
  const char *(*get_error)(struct nft_ctx *ctx);
  void (*output_set_flags)(struct nft_ctx *ctx, unsigned int flags);
  void (*set_dry_run)(struct nft_ctx *ctx, bool dry);
  int (*run)(struct nft_ctx *ctx, const char *buf);
  bool busy;
  bool closed;
} wb_nft;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref handle_ref;
  wb_nft *n;
  char *text;
  bool dry;
  int rc;
  char *output;
  char *error;
} wb_nft_job;

static void nft_release(wb_nft *n) {
  if (n->ctx != NULL) n->ctx_free(n->ctx);
  n->ctx = NULL;
  if (n->dl != NULL) dlclose(n->dl);
  n->dl = NULL;
}

static void nft_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  wb_nft *n = data;
  /* A running job holds a reference to the handle, so it never runs while busy. */
  nft_release(n);
  free(n);
}

static napi_value throw_lib(napi_env env, const char *msg) {
  napi_throw_error(env, "WB_NFT_LIBRARY", msg);
  return NULL;
}

#define LOAD(field, name)                                                        \
  do {                                                                           \
    *(void **)(&n->field) = dlsym(n->dl, name);                                  \
    if (n->field == NULL) {                                                      \
      snprintf(msg, sizeof msg, "%s has no %s: not libnftables", path, name);    \
      nft_release(n);                                                            \
      free(n);                                                                   \
      return throw_lib(env, msg);                                                \
    }                                                                            \
  } while (0)

napi_value wb_nft_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  WB_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL), NULL);
  if (argc < 1) return wb_throw_arg(env, "nftOpen(library) needs 1 argument");
  char path[512];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || len == 0 || len >= sizeof path - 1)
    return wb_throw_arg(env, "nftOpen: library must be a non-empty string");
  char msg[768];
  wb_nft *n = calloc(1, sizeof *n);
  if (n == NULL) return wb_throw_errno(env, "nftOpen", ENOMEM);
  n->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (n->dl == NULL) {
    const char *why = dlerror();
    snprintf(msg, sizeof msg, "cannot load %s: %s", path, why ? why : "unknown error");
    free(n);
    return throw_lib(env, msg);
  }
  LOAD(ctx_new, "nft_ctx_new");
  LOAD(ctx_free, "nft_ctx_free");
  LOAD(buffer_output, "nft_ctx_buffer_output");
  LOAD(buffer_error, "nft_ctx_buffer_error");
  LOAD(get_output, "nft_ctx_get_output_buffer");
  LOAD(get_error, "nft_ctx_get_error_buffer");
  LOAD(output_set_flags, "nft_ctx_output_set_flags");
  LOAD(set_dry_run, "nft_ctx_set_dry_run");
  LOAD(run, "nft_run_cmd_from_buffer");
  n->ctx = n->ctx_new(NFT_CTX_DEFAULT);
  if (n->ctx == NULL || n->buffer_output(n->ctx) != 0 || n->buffer_error(n->ctx) != 0) {
    snprintf(msg, sizeof msg, "%s: cannot make an nftables context", path);
    nft_release(n);
    free(n);
    return throw_lib(env, msg);
  }
  n->output_set_flags(n->ctx, NFT_CTX_OUTPUT_JSON);
  napi_value handle;
  if (napi_create_external(env, n, nft_finalize, NULL, &handle) != napi_ok) {
    nft_release(n);
    free(n);
    wb_throw_last_napi_error(env);
    return NULL;
  }
  return handle;
}

static wb_nft *get_handle(napi_env env, napi_value v) {
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_external) {
    wb_throw_arg(env, "nft: handle must come from nftOpen");
    return NULL;
  }
  void *data = NULL;
  WB_NAPI(env, napi_get_value_external(env, v, &data), NULL);
  wb_nft *n = data;
  if (n->closed || n->ctx == NULL) {
    napi_throw_error(env, "WB_NFT_LIBRARY", "nft: the context is closed");
    return NULL;
  }
  return n;
}

static char *dup_or_empty(const char *s) {
  return strdup(s != NULL ? s : "");
}

static void job_execute(napi_env env, void *data) {
  (void)env;
  wb_nft_job *j = data;
  wb_nft *n = j->n;
  n->set_dry_run(n->ctx, j->dry);
  j->rc = n->run(n->ctx, j->text);
  n->set_dry_run(n->ctx, false);
  /* Reading a buffer also rewinds it for the next run. */
  j->output = dup_or_empty(n->get_output(n->ctx));
  j->error = dup_or_empty(n->get_error(n->ctx));
}

static void job_free(napi_env env, wb_nft_job *j) {
  if (j->handle_ref != NULL) napi_delete_reference(env, j->handle_ref);
  if (j->work != NULL) napi_delete_async_work(env, j->work);
  free(j->text);
  free(j->output);
  free(j->error);
  free(j);
}

static void job_complete(napi_env env, napi_status status, void *data) {
  wb_nft_job *j = data;
  wb_nft *n = j->n;
  n->busy = false;
  if (n->closed) nft_release(n);
  napi_value result = NULL, v;
  bool ok = status == napi_ok && j->output != NULL && j->error != NULL && napi_create_object(env, &result) == napi_ok &&
            napi_create_int32(env, j->rc, &v) == napi_ok && napi_set_named_property(env, result, "rc", v) == napi_ok &&
            napi_create_string_utf8(env, j->output, NAPI_AUTO_LENGTH, &v) == napi_ok && napi_set_named_property(env, result, "output", v) == napi_ok &&
            napi_create_string_utf8(env, j->error, NAPI_AUTO_LENGTH, &v) == napi_ok && napi_set_named_property(env, result, "error", v) == napi_ok;
  if (ok) {
    napi_resolve_deferred(env, j->deferred, result);
  } else {
    napi_value code, text, err;
    napi_create_string_utf8(env, "WB_NFT_LIBRARY", NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, status == napi_cancelled ? "nft: run cancelled" : "nft: out of memory reading the result", NAPI_AUTO_LENGTH, &text);
    napi_create_error(env, code, text, &err);
    napi_reject_deferred(env, j->deferred, err);
  }
  job_free(env, j);
}

napi_value wb_nft_run(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  WB_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL), NULL);
  if (argc < 3) return wb_throw_arg(env, "nftRun(handle, text, dryRun) needs 3 arguments");
  wb_nft *n = get_handle(env, argv[0]);
  if (n == NULL) return NULL;
  if (n->busy) {
    napi_throw_error(env, "WB_NFT_LIBRARY", "nft: a run is already in progress on this context");
    return NULL;
  }
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[1], NULL, 0, &len) != napi_ok) return wb_throw_arg(env, "nftRun: text must be a string");
  if (len == 0 || len > MAX_TEXT) return wb_throw_arg(env, "nftRun: text is empty or larger than 64 MiB");
  bool dry = false;
  if (napi_get_value_bool(env, argv[2], &dry) != napi_ok) return wb_throw_arg(env, "nftRun: dryRun must be a boolean");

  wb_nft_job *j = calloc(1, sizeof *j);
  if (j == NULL) return wb_throw_errno(env, "nftRun", ENOMEM);
  j->n = n;
  j->dry = dry;
  j->text = malloc(len + 1);
  if (j->text == NULL) {
    job_free(env, j);
    return wb_throw_errno(env, "nftRun", ENOMEM);
  }
  size_t got = 0;
  napi_value promise, name;
  if (napi_get_value_string_utf8(env, argv[1], j->text, len + 1, &got) != napi_ok ||
      napi_create_reference(env, argv[0], 1, &j->handle_ref) != napi_ok ||
      napi_create_promise(env, &j->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "wanbraid:nft", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, job_execute, job_complete, j, &j->work) != napi_ok) {
    /* A created deferred that is never settled is only garbage; nothing else was started. */
    job_free(env, j);
    wb_throw_last_napi_error(env);
    return NULL;
  }
  if (napi_queue_async_work(env, j->work) != napi_ok) {
    job_free(env, j);
    wb_throw_last_napi_error(env);
    return NULL;
  }
  n->busy = true;
  return promise;
}

napi_value wb_nft_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  WB_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL), NULL);
  if (argc < 1) return wb_throw_arg(env, "nftClose(handle) needs 1 argument");
  napi_valuetype type;
  WB_NAPI(env, napi_typeof(env, argv[0], &type), NULL);
  if (type != napi_external) return wb_throw_arg(env, "nft: handle must come from nftOpen");
  void *data = NULL;
  WB_NAPI(env, napi_get_value_external(env, argv[0], &data), NULL);
  wb_nft *n = data;
  if (!n->closed) {
    n->closed = true;
    if (!n->busy) nft_release(n);
  }
  napi_value undef;
  napi_get_undefined(env, &undef);
  return undef;
}
