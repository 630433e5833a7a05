#ifndef WANBRAID_RAW_SEND_H
#define WANBRAID_RAW_SEND_H
#include <node_api.h>
napi_value wb_send_raw_ip(napi_env env, napi_callback_info info);
#endif
