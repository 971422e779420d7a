// The engines the rackhand_native addon carries; addon.c puts each one's functions on the module's exports.
#ifndef RACKHAND_ADDON_H
#define RACKHAND_ADDON_H
#include <node_api.h>

napi_value tftp_engine_exports(napi_env env);
napi_value file_sender_exports(napi_env env);

/* Throws a JS Error from a native function and returns from it. */
#define THROW(env, msg)                   \
  do {                                    \
    napi_throw_error((env), NULL, (msg)); \
    return NULL;                          \
  } while (0)

#endif
