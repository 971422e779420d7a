// rackhand's native addon: the module's exports, one object per engine (`tftp`: tftp_engine.c).
#include "addon.h"

static napi_value module_init(napi_env env, napi_value exports) {
  napi_set_named_property(env, exports, "tftp", tftp_engine_exports(env));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, module_init)
