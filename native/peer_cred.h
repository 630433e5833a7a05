/* peerCredentials: SO_PEERCRED and SO_PEERGROUPS of a connected unix socket. See peer_cred.c. */
#ifndef WANBRAID_PEER_CRED_H
#define WANBRAID_PEER_CRED_H

#include <node_api.h>

napi_value wb_peer_credentials(napi_env env, napi_callback_info info);

#endif
