#ifndef WANBRAID_SD_NOTIFY_H
#define WANBRAID_SD_NOTIFY_H
#include <node_api.h>
napi_value wb_sd_notify(napi_env env, napi_callback_info info);
#endif
