// rackhand's native addon: the module's exports, one object per engine (`tftp`: tftp_engine.c, `fileSender`: file_sender.c).
#include "addon.h"

static napi_value module_init(napi_env env, napi_value exports) {
  napi_set_named_property(env, exports, "tftp", tftp_engine_exports(env));
  napi_set_named_property(env, exports, "fileSender", file_sender_exports(env));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, module_init)
