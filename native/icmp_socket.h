/* IcmpSocket: raw ICMP/ICMPv6 echo sockets read through libuv. See icmp_socket.c. */
#ifndef WANBRAID_ICMP_SOCKET_H
#define WANBRAID_ICMP_SOCKET_H

#include <node_api.h>

/* The IcmpSocket constructor, or NULL with an exception pending. */
napi_value wb_icmp_socket_class(napi_env env);

#endif
