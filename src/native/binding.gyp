# node-gyp build of rackhand's native addon (addon.c: the exports; epoll_pool.c: the engines' threads; tftp_engine.c: TFTP transfers; file_sender.c: sendfile to sockets); `npm run build` runs it.
{
  "targets": [
    {
      "target_name": "rackhand_native",
      "sources": ["addon.c", "epoll_pool.c", "tftp_engine.c", "file_sender.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
