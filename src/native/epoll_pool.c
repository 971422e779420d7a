// The epoll threads rackhand's native engines run their work on: hand-over from JS, wake-ups, completion reports.
//
// The main (JS) thread puts an item in the least loaded worker's inbox and writes its eventfd; the worker takes the
// inbox and from then on alone touches the item, except for atomics the engine shares (a cancel flag). A finished
// item goes through one thread-safe function to JS and is freed on the main thread after JS has seen it, so the
// worker never touches it once it is reported.

#define _GNU_SOURCE
#include "epoll_pool.h"

#include "addon.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static const char *start(napi_env env, ep_pool *pool, const char *name, napi_value threads, napi_value on_done,
                         size_t worker_size, napi_threadsafe_function_call_js call_js, void *(*worker_main)(void *)) {
  int32_t n = 1;
  if (napi_get_value_int32(env, threads, &n) != napi_ok || n < 1 || n > 64) return "threads: 1..64";
  pool->workers = calloc((size_t)n, worker_size);
  pool->stride = worker_size;
  pool->nworkers = n;
  napi_value vname;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &vname);
  if (napi_create_threadsafe_function(env, on_done, NULL, vname, 0, 1, NULL, NULL, pool, call_js, &pool->tsfn) != napi_ok) {
    return "cannot create the completion callback";
  }
  napi_unref_threadsafe_function(env, pool->tsfn);
  for (int i = 0; i < n; i++) {
    ep_worker *w = (ep_worker *)(pool->workers + (size_t)i * worker_size);
    w->tsfn = pool->tsfn;
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&w->lock, NULL);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (w->ep < 0 || w->efd < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, w->efd, &ev) != 0) return "cannot create an epoll set";
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) return "cannot start a worker thread";
    pthread_detach(w->thread);
  }
  return NULL;
}

napi_value ep_pool_init(napi_env env, napi_callback_info info, ep_pool **slot, const char *name, size_t worker_size,
                        napi_threadsafe_function_call_js call_js, void *(*worker_main)(void *)) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char msg[128];
  if (*slot) {
    snprintf(msg, sizeof msg, "%s already initialised", name);
    THROW(env, msg);
  }
  ep_pool *pool = calloc(1, sizeof *pool);
  const char *err = start(env, pool, name, argv[0], argv[1], worker_size, call_js, worker_main);
  if (err) {
    snprintf(msg, sizeof msg, "%s: %s", name, err);
    THROW(env, msg); /* the pool is left as it is: its threads, if any started, wait on their epoll sets */
  }
  *slot = pool;
  return NULL;
}

ep_worker *ep_pool_pick(napi_env env, ep_pool *pool) {
  /* Ties go round robin so a lone item does not always land on worker 0. */
  ep_worker *w = (ep_worker *)(pool->workers + (pool->rr++ % (uint32_t)pool->nworkers) * pool->stride);
  for (int i = 0; i < pool->nworkers; i++) {
    ep_worker *c = (ep_worker *)(pool->workers + (size_t)i * pool->stride);
    if (atomic_load(&c->load) < atomic_load(&w->load)) w = c;
  }
  atomic_fetch_add(&w->load, 1);
  if (pool->live++ == 0) napi_ref_threadsafe_function(env, pool->tsfn);
  return w;
}

void ep_worker_post(ep_worker *w, ep_item *item) {
  pthread_mutex_lock(&w->lock);
  item->queue_next = w->inbox;
  w->inbox = item;
  pthread_mutex_unlock(&w->lock);
  ep_worker_wake(w);
}

static void finalize_nothing(napi_env env, void *data, void *hint) {
  (void)env, (void)data, (void)hint;
}

napi_value ep_item_handle(napi_env env, ep_item *item) {
  napi_value handle;
  napi_create_external(env, item, finalize_nothing, NULL, &handle);
  return handle;
}

void ep_pool_reported(napi_env env, ep_pool *pool) {
  if (--pool->live == 0 && env) napi_unref_threadsafe_function(env, pool->tsfn);
}

void ep_worker_cancel(ep_worker *w) {
  atomic_fetch_add(&w->cancels, 1);
  ep_worker_wake(w);
}

void ep_worker_wake(ep_worker *w) {
  uint64_t one = 1;
  ssize_t r = write(w->efd, &one, sizeof one);
  (void)r; /* only fails when the counter is saturated, and then the worker is awake anyway */
}

uint64_t ep_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

ep_item *ep_worker_take_inbox(ep_worker *w) {
  uint64_t v;
  ssize_t r = read(w->efd, &v, sizeof v);
  (void)r;
  pthread_mutex_lock(&w->lock);
  ep_item *in = w->inbox;
  w->inbox = NULL;
  pthread_mutex_unlock(&w->lock);
  ep_item *oldest_first = NULL;
  while (in) {
    ep_item *nx = in->queue_next;
    in->queue_next = oldest_first;
    oldest_first = in;
    in = nx;
  }
  return oldest_first;
}

int ep_worker_take_cancels(ep_worker *w) {
  return atomic_exchange(&w->cancels, 0) > 0;
}

void ep_worker_finished(ep_worker *w, ep_item *item) {
  atomic_fetch_sub(&w->load, 1);
  item->queue_next = w->done;
  w->done = item;
}

void ep_worker_report(ep_worker *w) {
  while (w->done) {
    ep_item *item = w->done;
    w->done = item->queue_next;
    napi_call_threadsafe_function(w->tsfn, item, napi_tsfn_blocking);
  }
}
