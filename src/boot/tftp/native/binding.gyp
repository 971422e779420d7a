# node-gyp build of the native TFTP transfer engine (tftp_engine.c); `npm run build` runs it.
{
  "targets": [
    {
      "target_name": "tftp_engine",
      "sources": ["tftp_engine.c"],
      "cflags": ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
