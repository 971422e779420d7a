// The epoll threads rackhand's native engines run their work on: hand-over from JS, wake-ups, completion reports.
#ifndef RACKHAND_EPOLL_POOL_H
#define RACKHAND_EPOLL_POOL_H

#include <node_api.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* How an item ended, as JS is told: 'ok', 'aborted' (the peer went, or a cancel), 'failed'. */
enum result { RESULT_OK, RESULT_ABORTED, RESULT_FAILED };

/* The first member of every engine's work item (a TFTP transfer, a file send). */
typedef struct ep_item {
  struct ep_item *queue_next; /* the worker's inbox, then its batch of finished items */
} ep_item;

/* The first member of every engine's worker: the engine adds what its own loop needs after it. */
typedef struct ep_worker {
  pthread_t thread;
  int ep;  /* the worker's epoll set; the eventfd is in it with data.ptr NULL */
  int efd; /* written by the main thread: new items in the inbox, or a cancel */
  pthread_mutex_t lock;
  ep_item *inbox; /* under lock, newest first */
  atomic_int cancels;
  atomic_int load; /* items assigned and not yet finished: where the next one goes */
  ep_item *done;   /* worker-only: finished in this loop iteration, reported at its end */
  napi_threadsafe_function tsfn;
} ep_worker;

typedef struct {
  char *workers; /* nworkers engine workers of `stride` bytes, each starting with its ep_worker */
  size_t stride;
  int nworkers;
  napi_threadsafe_function tsfn;
  int live; /* items JS has not been told about yet: the tsfn keeps the event loop alive while > 0 */
  uint32_t rr;
} ep_pool;

/* Main thread: an engine's init(threads, onDone). Starts the pool in *slot once per process: `threads` (1..64)
   workers of worker_size bytes running worker_main(worker); call_js gives each finished item to onDone. Throws
   (and returns NULL, as on success) when it cannot. */
napi_value ep_pool_init(napi_env env, napi_callback_info info, ep_pool **slot, const char *name, size_t worker_size,
                        napi_threadsafe_function_call_js call_js, void *(*worker_main)(void *));
/* Main thread: the least loaded worker (ties round robin), its load and the pool's liveness counted for one item. */
ep_worker *ep_pool_pick(napi_env env, ep_pool *pool);
/* Main thread: hands the item to the worker ep_pool_pick chose for it. */
void ep_worker_post(ep_worker *w, ep_item *item);
/* Main thread: the item's handle for JS (owns nothing: the item is freed once reported, and the engine's functions
   take the handle only before that). */
napi_value ep_item_handle(napi_env env, ep_item *item);
/* Main thread, from call_js once an item is reported and freed. */
void ep_pool_reported(napi_env env, ep_pool *pool);
/* Main thread, after setting an item's cancel flag: the worker looks at its items' flags. */
void ep_worker_cancel(ep_worker *w);
/* Either thread: the worker's loop turns around now (to look at its inbox and cancels). */
void ep_worker_wake(ep_worker *w);

/* Either thread: milliseconds on the monotonic clock, for the engines' deadlines. */
uint64_t ep_now_ms(void);

/* Worker thread: the items posted since the last call, oldest first, linked by queue_next. */
ep_item *ep_worker_take_inbox(ep_worker *w);
/* Worker thread: whether any cancel was asked since the last call. */
int ep_worker_take_cancels(ep_worker *w);
/* Worker thread: the item is finished; it is reported at ep_worker_report. */
void ep_worker_finished(ep_worker *w, ep_item *item);
/* Worker thread, at the end of each loop iteration (events may still name an item until then). */
void ep_worker_report(ep_worker *w);

#endif
