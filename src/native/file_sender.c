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
// Threads: each worker owns an epoll set; the main thread queues a job on the least loaded worker's inbox and
// wakes it through an eventfd. The job's socket is watched level-triggered for EPOLLOUT only (Node's own epoll
// reads it), and each wakeup sends at most BURST bytes per job so one fast client cannot starve the others.
// A finished job is reported to JS through one thread-safe function and freed on the main thread.

#define _GNU_SOURCE
#include "addon.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#define MAX_EVENTS 64
#define BURST (2 * 1024 * 1024) /* bytes per job per wakeup, as nginx's sendfile_max_chunk */

enum result { RESULT_OK, RESULT_ABORTED, RESULT_FAILED };

typedef struct fs_worker fs_worker;
typedef struct job job;

struct job {
  job *prev, *next;  /* worker's active list */
  job *queue_next;   /* inbox, then the batch of finished jobs */
  fs_worker *w;
  uint32_t id;
  int sock;
  int file_fd;
  off_t offset;
  uint64_t remaining;
  uint64_t bytes;
  atomic_int cancel_flag;
  int finished;
  int result;
  char message[128];
};

struct fs_worker {
  pthread_t thread;
  int ep;
  int efd;
  pthread_mutex_t lock;
  job *inbox; /* under lock */
  atomic_int cancels;
  atomic_int load; /* jobs assigned and not yet finished */
  job *active;     /* worker-only */
  job *done;       /* worker-only: finished in this loop iteration, reported at its end */
  napi_threadsafe_function tsfn;
};

typedef struct {
  fs_worker *workers;
  int nworkers;
  napi_threadsafe_function tsfn;
  int live; /* jobs JS has not been told about yet: the tsfn keeps the event loop alive while > 0 */
  uint32_t rr;
} sender;

/* ------------------------------------------------------------------ worker side */

static void finish(job *j, int result, const char *message) {
  if (j->finished) return;
  j->finished = 1;
  j->result = result;
  snprintf(j->message, sizeof j->message, "%s", message);
  fs_worker *w = j->w;
  int off = 0; /* the last partial segment leaves now, and the connection's next response is not held back */
  setsockopt(j->sock, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
  epoll_ctl(w->ep, EPOLL_CTL_DEL, j->sock, NULL);
  close(j->sock);
  close(j->file_fd);
  j->sock = j->file_fd = -1;
  if (j->prev) j->prev->next = j->next;
  else w->active = j->next;
  if (j->next) j->next->prev = j->prev;
  atomic_fetch_sub(&w->load, 1);
  j->queue_next = w->done;
  w->done = j;
}

/* Sends until the socket is full (EAGAIN: epoll says when it drains), the range is done, or BURST is spent. */
static void pump(job *j) {
  uint64_t budget = BURST;
  while (!j->finished && budget > 0) {
    size_t want = (size_t)(j->remaining < budget ? j->remaining : budget);
    ssize_t n = sendfile(j->sock, j->file_fd, &j->offset, want);
    if (n > 0) {
      j->bytes += (uint64_t)n;
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
  /* Full segments only while the body flows (as nginx's tcp_nopush; Node's sockets are TCP_NODELAY), and a send
     buffer of 8 MiB (the kernel doubles the 4 asked, up to net.core.wmem_max twice) instead of autotuning's: each
     wakeup then moves more, with fewer wakeups of this thread and the client's. The queue holds references to
     page-cache pages, not copies. Measured by bench/deploy.ts: without either, 0.6-1.0x nginx; with both 1.07x+. */
  int on = 1;
  setsockopt(j->sock, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
  int sndbuf = 4 * 1024 * 1024;
  setsockopt(j->sock, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = j};
  if (epoll_ctl(w->ep, EPOLL_CTL_ADD, j->sock, &ev) != 0) {
    char reason[96];
    snprintf(reason, sizeof reason, "epoll: %s", strerror(errno));
    finish(j, RESULT_FAILED, reason);
    return;
  }
  pump(j);
}

static void take_inbox_and_cancels(fs_worker *w) {
  uint64_t v;
  ssize_t r = read(w->efd, &v, sizeof v);
  (void)r;
  pthread_mutex_lock(&w->lock);
  job *in = w->inbox;
  w->inbox = NULL;
  pthread_mutex_unlock(&w->lock);
  while (in) {
    job *nx = in->queue_next;
    in->queue_next = NULL;
    activate(w, in);
    in = nx;
  }
  if (atomic_exchange(&w->cancels, 0) > 0) {
    for (job *j = w->active, *nx; j; j = nx) {
      nx = j->next;
      if (atomic_load_explicit(&j->cancel_flag, memory_order_acquire)) finish(j, RESULT_ABORTED, "cancelled");
    }
  }
}

static void *worker_main(void *arg) {
  fs_worker *w = arg;
  struct epoll_event evs[MAX_EVENTS];
  for (;;) {
    int n = epoll_wait(w->ep, evs, MAX_EVENTS, -1);
    for (int i = 0; i < n; i++) {
      job *j = evs[i].data.ptr;
      if (!j) take_inbox_and_cancels(w);
      else if (!j->finished) pump(j); /* EPOLLERR/EPOLLHUP too: sendfile then says what happened */
    }
    /* Reported only now: once JS has a job it frees it, and the events above may still name it. */
    while (w->done) {
      job *j = w->done;
      w->done = j->queue_next;
      napi_call_threadsafe_function(w->tsfn, j, napi_tsfn_blocking);
    }
  }
  return NULL;
}

/* ------------------------------------------------------------------ main (JS) thread side */

static sender *the_sender; /* one per process: the threads live as long as it does */

static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  sender *s = context;
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
  if (--s->live == 0 && env) napi_unref_threadsafe_function(env, s->tsfn);
}

#define THROW(env, msg)                   \
  do {                                    \
    napi_throw_error((env), NULL, (msg)); \
    return NULL;                          \
  } while (0)

/* init(threads, onDone): starts the workers once per process; onDone(id, result, bytes, message) is called for
   every finished job, result 'ok' | 'aborted' (the client went, or cancel) | 'failed'. */
static napi_value js_init(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (the_sender) THROW(env, "file sender already initialised");
  int32_t threads = 1;
  if (napi_get_value_int32(env, argv[0], &threads) != napi_ok || threads < 1 || threads > 64) THROW(env, "threads: 1..64");
  sender *s = calloc(1, sizeof *s);
  s->workers = calloc((size_t)threads, sizeof(fs_worker));
  s->nworkers = threads;
  napi_value name;
  napi_create_string_utf8(env, "file-sender", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, NULL, NULL, s, call_js, &s->tsfn) != napi_ok) {
    THROW(env, "cannot create the completion callback");
  }
  napi_unref_threadsafe_function(env, s->tsfn);
  for (int i = 0; i < threads; i++) {
    fs_worker *w = &s->workers[i];
    w->tsfn = s->tsfn;
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init(&w->lock, NULL);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (w->ep < 0 || w->efd < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, w->efd, &ev) != 0) THROW(env, "cannot create an epoll set");
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) THROW(env, "cannot start a worker thread");
    pthread_detach(w->thread);
  }
  the_sender = s;
  return NULL;
}

static void finalize_nothing(napi_env env, void *data, void *hint) {
  (void)env, (void)data, (void)hint;
}

/* start(id, socketFd, fileFd, offset, length) → handle. Both descriptors are duplicated (the caller keeps and
   closes its own); the socket must be a connected, non-blocking stream socket. Throws when it cannot start, and
   then nothing was taken. */
static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  sender *s = the_sender;
  if (!s) THROW(env, "file sender not initialised");
  uint32_t id;
  int32_t sock_fd, file_fd;
  double offset, length;
  if (argc < 5 || napi_get_value_uint32(env, argv[0], &id) != napi_ok || napi_get_value_int32(env, argv[1], &sock_fd) != napi_ok ||
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
  job *j = calloc(1, sizeof *j);
  j->id = id;
  j->sock = sock;
  j->file_fd = file;
  j->offset = (off_t)offset;
  j->remaining = (uint64_t)length;
  /* The least loaded worker; ties go round robin. */
  fs_worker *w = &s->workers[s->rr++ % (uint32_t)s->nworkers];
  for (int i = 0; i < s->nworkers; i++) {
    if (atomic_load(&s->workers[i].load) < atomic_load(&w->load)) w = &s->workers[i];
  }
  j->w = w;
  atomic_fetch_add(&w->load, 1);
  if (s->live++ == 0) napi_ref_threadsafe_function(env, s->tsfn);
  pthread_mutex_lock(&w->lock);
  j->queue_next = w->inbox;
  w->inbox = j;
  pthread_mutex_unlock(&w->lock);
  uint64_t one = 1;
  ssize_t r = write(w->efd, &one, sizeof one);
  (void)r;
  napi_value handle;
  napi_create_external(env, j, finalize_nothing, NULL, &handle);
  return handle;
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
  atomic_fetch_add(&j->w->cancels, 1);
  uint64_t one = 1;
  ssize_t r = write(j->w->efd, &one, sizeof one);
  (void)r;
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
