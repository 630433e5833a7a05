/* getOriginalDst: the pre-NAT destination of a redirected TCP connection. See original_dst.c. */
#ifndef WANBRAID_ORIGINAL_DST_H
#define WANBRAID_ORIGINAL_DST_H

#include <node_api.h>

napi_value wb_get_original_dst(napi_env env, napi_callback_info info);

#endif
