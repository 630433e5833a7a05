#ifndef WANBRAID_NFT_CTX_H
#define WANBRAID_NFT_CTX_H
#include <node_api.h>
napi_value wb_nft_open(napi_env env, napi_callback_info info);
napi_value wb_nft_run(napi_env env, napi_callback_info info);
napi_value wb_nft_close(napi_env env, napi_callback_info info);
#endif
