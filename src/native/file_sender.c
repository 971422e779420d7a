// rackhand's file sender: moves a byte range of a file to a connected TCP socket with sendfile(2) on epoll threads.
//
// Why native: Node has no sendfile. Streaming an image through JavaScript reads the page cache into a buffer on
// the libuv thread pool and writes it back into the socket: two copies, a thread hop per read and garbage for the
// collector, where nginx hands the kernel the file's pages (bench/deploy.ts measures both).
// The HTTP side stays in JavaScript (src/boot/http/image-response.ts): it answers, writes the response head,
// and hands the body over here only once Node has no byte of its own left queued on the socket.
//
// Signals: sendfile to a closed connection raises SIGPIPE, which Node ignores process-wide (EPIPE is returned).
// Ownership: start() dup()s the socket and the file, so the job owns its own descriptors; whatever Node does with
// its socket (close it when the client goes), the job's descriptor numbers never name another file, and the job
// closes both itself. Node never writes to the socket during a job: the response stays open until onDone.
// Threads: the jobs run on an epoll pool (epoll_pool.c, as the TFTP engine's transfers). The job's socket is watched
// level-triggered for EPOLLOUT only (Node's own epoll reads it), and each wakeup sends at most BURST bytes per job
// so one fast client cannot starve the others.

#define _GNU_SOURCE
#include "addon.h"
#include "epoll_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#define MAX_EVENTS 64
#define BURST (2 * 1024 * 1024) /* bytes per job per wakeup, as nginx's sendfile_max_chunk */
#define SCAN_MS 1000          /* how often a worker with jobs looks for clients that stopped reading */

typedef struct fs_worker fs_worker;
typedef struct job job;

struct job {
  ep_item item;     /* first: the pool's inbox and report queue */
  job *prev, *next; /* worker's active list */
  fs_worker *w;
  uint32_t id;
  int sock;
  int file_fd;
  off_t offset;
  uint64_t remaining;
  uint64_t bytes;
  uint64_t stall_ms;      /* a client that takes nothing for this long is let go */
  uint64_t last_progress; /* ep_now_ms() of the last byte the socket took */
  atomic_int cancel_flag;
  int finished;
  int result;
  char message[128];
};

struct fs_worker {
  ep_worker base;   /* first: the pool's part */
  job *active;      /* worker-only */
  int active_count; /* worker-only */
};

/* ------------------------------------------------------------------ worker side */

static void finish(job *j, int result, const char *message) {
  if (j->finished) return;
  j->finished = 1;
  j->result = result;
  snprintf(j->message, sizeof j->message, "%s", message);
  fs_worker *w = j->w;
  int off = 0; /* the last partial segment leaves now, and the connection's next response is not held back */
  setsockopt(j->sock, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
  epoll_ctl(w->base.ep, EPOLL_CTL_DEL, j->sock, NULL);
  close(j->sock);
  close(j->file_fd);
  j->sock = j->file_fd = -1;
  if (j->prev) j->prev->next = j->next;
  else w->active = j->next;
  if (j->next) j->next->prev = j->prev;
  w->active_count--;
  ep_worker_finished(&w->base, &j->item);
}

/* Sends until the socket is full (EAGAIN: epoll says when it drains), the range is done, or BURST is spent. */
static void pump(job *j) {
  uint64_t budget = BURST;
  while (!j->finished && budget > 0) {
    size_t want = (size_t)(j->remaining < budget ? j->remaining : budget);
    ssize_t n = sendfile(j->sock, j->file_fd, &j->offset, want);
    if (n > 0) {
      j->bytes += (uint64_t)n;
      j->last_progress = ep_now_ms();
      j->remaining -= (uint64_t)n;
      budget -= (uint64_t)n;
      if (j->remaining == 0) finish(j, RESULT_OK, "");
      continue;
    }
    if (n == 0) {
      /* The file is shorter than the range the response announced: the client must not get a short body that
         looks complete, so the caller drops the connection. */
      finish(j, RESULT_FAILED, "the file ended before the range did");
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN || errno == ETIMEDOUT) {
      finish(j, RESULT_ABORTED, "the client closed the connection");
      return;
    }
    char reason[96];
    snprintf(reason, sizeof reason, "sendfile: %s", strerror(errno));
    finish(j, RESULT_FAILED, reason);
    return;
  }
}

static void activate(fs_worker *w, job *j) {
  j->next = w->active;
  j->prev = NULL;
  if (w->active) w->active->prev = j;
  w->active = j;
  w->active_count++;
  j->last_progress = ep_now_ms();
  /* Full segments only while the body flows (as nginx's tcp_nopush; Node's sockets are TCP_NODELAY), and a send
     buffer of 8 MiB (the kernel doubles the 4 asked, up to net.core.wmem_max twice) instead of autotuning's: each
     wakeup moves more. The queue holds references to page-cache pages, not copies. On this 2-core machine the
     server's CPU for the same downloads was 1.12-1.16x nginx's with both, 1.27-1.87x without (perf stat, alternated
     runs of bench/deploy.ts); under others' load throughput hid the difference. */
  int on = 1;
  setsockopt(j->sock, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
  int sndbuf = 4 * 1024 * 1024;
  setsockopt(j->sock, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = j};
  if (epoll_ctl(w->base.ep, EPOLL_CTL_ADD, j->sock, &ev) != 0) {
    char reason[96];
    snprintf(reason, sizeof reason, "epoll: %s", strerror(errno));
    finish(j, RESULT_FAILED, reason);
    return;
  }
  pump(j);
}

static void take_inbox_and_cancels(fs_worker *w) {
  for (ep_item *in = ep_worker_take_inbox(&w->base), *nx; in; in = nx) {
    nx = in->queue_next; /* activate() may finish the job, and a finished job's queue_next is the report queue */
    in->queue_next = NULL;
    activate(w, (job *)in);
  }
  if (ep_worker_take_cancels(&w->base)) {
    for (job *j = w->active, *nx; j; j = nx) {
      nx = j->next;
      if (atomic_load_explicit(&j->cancel_flag, memory_order_acquire)) finish(j, RESULT_ABORTED, "cancelled");
    }
  }
}

static void *worker_main(void *arg) {
  fs_worker *w = arg;
  struct epoll_event evs[MAX_EVENTS];
  uint64_t next_scan = ep_now_ms() + SCAN_MS;
  for (;;) {
    int n = epoll_wait(w->base.ep, evs, MAX_EVENTS, w->active_count ? SCAN_MS : -1);
    for (int i = 0; i < n; i++) {
      job *j = evs[i].data.ptr;
      if (!j) take_inbox_and_cancels(w);
      else if (!j->finished) pump(j); /* EPOLLERR/EPOLLHUP too: sendfile then says what happened */
    }
    /* A client that stopped reading (a hung installer) keeps its connection open and its window shut: TCP never
       times that out, so the job does, as nginx's send_timeout. */
    uint64_t now = ep_now_ms();
    if (now >= next_scan) {
      for (job *j = w->active, *nx; j; j = nx) {
        nx = j->next;
        if (now - j->last_progress >= j->stall_ms) finish(j, RESULT_ABORTED, "the client stopped reading");
      }
      next_scan = now + SCAN_MS;
    }
    ep_worker_report(&w->base);
  }
  return NULL;
}

/* ------------------------------------------------------------------ main (JS) thread side */

static ep_pool *the_pool; /* one per process: the threads live as long as it does */

static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  job *j = data;
  if (env && cb) {
    static const char *names[] = {"ok", "aborted", "failed"};
    napi_value argv[4], undefined;
    napi_create_uint32(env, j->id, &argv[0]);
    napi_create_string_utf8(env, names[j->result], NAPI_AUTO_LENGTH, &argv[1]);
    napi_create_double(env, (double)j->bytes, &argv[2]);
    napi_create_string_utf8(env, j->message, NAPI_AUTO_LENGTH, &argv[3]);
    napi_get_undefined(env, &undefined);
    napi_call_function(env, undefined, cb, 4, argv, NULL);
  }
  free(j);
  ep_pool_reported(env, context);
}

/* init(threads, onDone): starts the workers once per process; onDone(id, result, bytes, message) is called for
   every finished job, result 'ok' | 'aborted' (the client went, or cancel) | 'failed'. */
static napi_value js_init(napi_env env, napi_callback_info info) {
  return ep_pool_init(env, info, &the_pool, "file sender", sizeof(fs_worker), call_js, worker_main);
}

/* start(id, socketFd, fileFd, offset, length, stallMs, congestion) → handle. Both descriptors are duplicated (the
   caller keeps and closes its own); the socket must be a connected, non-blocking stream socket. A client that takes
   no byte for stallMs (checked every SCAN_MS) ends the job 'aborted'. `congestion`: the TCP congestion control for
   the body ('' keeps the system's; one the kernel does not offer keeps it too: the caller checks at start-up and
   says so). Throws when it cannot start, and then nothing was taken. */
static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  ep_pool *pool = the_pool;
  if (!pool) THROW(env, "file sender not initialised");
  uint32_t id;
  int32_t sock_fd, file_fd;
  double offset, length;
  uint32_t stall_ms;
  char congestion[16] /* the kernel's TCP_CA_NAME_MAX */ = "";
  size_t congestion_len = 0;
  if (argc < 7 || napi_get_value_string_utf8(env, argv[6], congestion, sizeof congestion, &congestion_len) != napi_ok ||
      napi_get_value_uint32(env, argv[5], &stall_ms) != napi_ok || stall_ms < 1 || napi_get_value_uint32(env, argv[0], &id) != napi_ok || napi_get_value_int32(env, argv[1], &sock_fd) != napi_ok ||
      napi_get_value_int32(env, argv[2], &file_fd) != napi_ok || napi_get_value_double(env, argv[3], &offset) != napi_ok ||
      napi_get_value_double(env, argv[4], &length) != napi_ok || sock_fd < 0 || file_fd < 0 || !(offset >= 0) ||
      !(length > 0) || offset > 9007199254740991.0 || length > 9007199254740991.0) {
    THROW(env, "start: bad parameters");
  }
  int type = 0;
  socklen_t type_len = sizeof type;
  int flags = fcntl(sock_fd, F_GETFL);
  if (getsockopt(sock_fd, SOL_SOCKET, SO_TYPE, &type, &type_len) != 0 || type != SOCK_STREAM) THROW(env, "start: not a stream socket");
  /* A blocking socket would stall a worker and every job on it: Node's sockets are non-blocking, check anyway. */
  if (flags < 0 || !(flags & O_NONBLOCK)) THROW(env, "start: the socket is blocking");
  int sock = fcntl(sock_fd, F_DUPFD_CLOEXEC, 0);
  if (sock < 0) THROW(env, "start: cannot duplicate the socket");
  int file = fcntl(file_fd, F_DUPFD_CLOEXEC, 0);
  if (file < 0) {
    close(sock);
    THROW(env, "start: cannot duplicate the file");
  }
  if (congestion_len > 0) setsockopt(sock, IPPROTO_TCP, TCP_CONGESTION, congestion, (socklen_t)congestion_len);
  job *j = calloc(1, sizeof *j);
  j->id = id;
  j->sock = sock;
  j->file_fd = file;
  j->offset = (off_t)offset;
  j->remaining = (uint64_t)length;
  j->stall_ms = stall_ms;
  j->w = (fs_worker *)ep_pool_pick(env, pool);
  ep_worker_post(&j->w->base, &j->item);
  return ep_item_handle(env, &j->item);
}

/* cancel(handle): the worker ends the job ('aborted', "cancelled") and closes its descriptors. Only before onDone. */
static napi_value js_cancel(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *p = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], &p) != napi_ok || !p) THROW(env, "cancel: bad handle");
  job *j = p;
  if (atomic_exchange_explicit(&j->cancel_flag, 1, memory_order_release)) return NULL;
  ep_worker_cancel(&j->w->base);
  return NULL;
}

napi_value file_sender_exports(napi_env env) {
  napi_value exports;
  napi_create_object(env, &exports);
  napi_property_descriptor props[] = {
      {"init", NULL, js_init, NULL, NULL, NULL, napi_default, NULL},
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
      {"cancel", NULL, js_cancel, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
