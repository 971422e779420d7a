// rackhand's TFTP transfer engine: sends DATA, takes ACKs and retransmits for many transfers on a few epoll threads.
//
// Why native: in lockstep every block is one ACK in and one DATA out, and Node's UDP path costs more per
// datagram (a 64 KiB receive buffer, an rinfo object with its address string, a callback into JS, the JS
// send path) than tftpd-hpa spends on the whole block. bench/tftp.mjs prints both engines against it.
// The TypeScript server keeps everything else: request vetting, paths, options, files, limits, logs.
//
// Threads: the transfers run on an epoll pool (epoll_pool.c), each worker's set holding connected, non-blocking
// transfer sockets. The main (JS) thread creates a transfer's socket, then posts it to a worker. The worker
// alone touches the transfer's protocol state; the main thread only sets its cancel flag and reads its
// acknowledged flag (atomics).
// Timers: no per-block timer; each transfer has a deadline, checked by one coarse scan per TICK_MS.

#define _GNU_SOURCE
#include "addon.h"
#include "epoll_pool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS 10
#define MAX_BATCH 64            /* blocks per sendmmsg, events per epoll_wait, datagrams per readable socket */
#define CHUNK_MIN (256 * 1024)  /* file sources are read in chunks of whole blocks of at least this size */
#define OP_DATA 3
#define OP_ACK 4
#define OP_ERROR 5

typedef struct worker worker;
typedef struct transfer transfer;

struct transfer {
  ep_item item;          /* first: the pool's inbox and report queue */
  transfer *prev, *next; /* worker's active list */
  worker *w;
  uint32_t id;
  int sock;
  /* source: memory (kept alive by the JS wrapper) or a file descriptor read in chunks */
  const uint8_t *mem;
  int from_memory;
  int file_fd;
  uint64_t size;
  uint8_t *chunk[2];
  int64_t chunk_idx[2];
  uint64_t chunk_size;
  int chunk_victim;
  /* protocol */
  uint32_t blksize, windowsize;
  uint64_t base, next_to_send, last_block; /* absolute block numbers; the wire carries them mod 65536 */
  int in_oack;
  uint8_t *oack;
  size_t oack_len;
  uint32_t timeout_ms, max_timeout_ms;
  int retries, attempt;
  uint64_t deadline;
  int write_blocked;
  /* shared with the main thread */
  atomic_int acked;
  atomic_int cancel_flag;
  char cancel_msg[160]; /* written before cancel_flag is set (release), read after it is seen (acquire) */
  int cancel_silent;    /* the same: end without an ERROR to a client that has moved on */
  /* outcome */
  int finished;
  int result;
  uint64_t bytes, retransmits, bad_packets, unknown_tid;
  int code;
  char message[256];
  size_t message_len;
};

struct worker {
  ep_worker base;    /* first: the pool's part */
  transfer *active;  /* worker-only */
  int active_count;  /* worker-only */
  /* scratch for sendmmsg */
  uint8_t hdr[MAX_BATCH][4];
  struct iovec iov[MAX_BATCH][2];
  struct mmsghdr msgs[MAX_BATCH];
};

/* ------------------------------------------------------------------ worker side */

static void send_error(transfer *t, int code, const char *msg) {
  uint8_t pkt[200];
  size_t n = strlen(msg);
  if (n > sizeof pkt - 5) n = sizeof pkt - 5;
  pkt[0] = 0;
  pkt[1] = OP_ERROR;
  pkt[2] = (uint8_t)(code >> 8);
  pkt[3] = (uint8_t)code;
  memcpy(pkt + 4, msg, n);
  pkt[4 + n] = 0;
  /* Best effort, like every send here: UDP copies it out before close(). */
  (void)send(t->sock, pkt, 5 + n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void finish(transfer *t, int result, const char *message, size_t len, int code, const char *farewell) {
  if (t->finished) return;
  t->finished = 1;
  t->result = result;
  t->code = code;
  if (len > sizeof t->message) len = sizeof t->message;
  memcpy(t->message, message, len);
  t->message_len = len;
  if (farewell) send_error(t, 0, farewell);
  worker *w = t->w;
  epoll_ctl(w->base.ep, EPOLL_CTL_DEL, t->sock, NULL);
  close(t->sock);
  t->sock = -1;
  if (t->prev) t->prev->next = t->next;
  else w->active = t->next;
  if (t->next) t->next->prev = t->prev;
  w->active_count--;
  ep_worker_finished(&w->base, &t->item);
}

static void fail(transfer *t, const char *reason, const char *farewell) {
  finish(t, RESULT_FAILED, reason, strlen(reason), 0, farewell);
}

/* Bytes of block b (1-based): a pointer into memory or into a chunk of the file. */
static int block_data(transfer *t, uint64_t b, const uint8_t **p, size_t *len) {
  uint64_t off = (b - 1) * t->blksize;
  uint64_t n = off >= t->size ? 0 : t->size - off;
  if (n > t->blksize) n = t->blksize;
  *len = (size_t)n;
  if (n == 0) {
    *p = (const uint8_t *)"";
    return 0;
  }
  if (t->from_memory) {
    *p = t->mem + off;
    return 0;
  }
  int64_t idx = (int64_t)(off / t->chunk_size);
  for (int i = 0; i < 2; i++) {
    if (t->chunk_idx[i] == idx) {
      *p = t->chunk[i] + (off - (uint64_t)idx * t->chunk_size);
      return 0;
    }
  }
  int v = t->chunk_victim;
  t->chunk_victim ^= 1;
  if (!t->chunk[v] && !(t->chunk[v] = malloc(t->chunk_size))) return ENOMEM;
  uint64_t start = (uint64_t)idx * t->chunk_size;
  uint64_t want = t->size - start < t->chunk_size ? t->size - start : t->chunk_size;
  uint64_t got = 0;
  while (got < want) {
    ssize_t r = pread(t->file_fd, t->chunk[v] + got, want - got, (off_t)(start + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      t->chunk_idx[v] = -1;
      return errno;
    }
    if (r == 0) { /* the file shrank under us: zeros rather than a transfer that never ends */
      memset(t->chunk[v] + got, 0, want - got);
      break;
    }
    got += (uint64_t)r;
  }
  t->chunk_idx[v] = idx;
  *p = t->chunk[v] + (off - start);
  return 0;
}

static void arm_write(transfer *t, int on) {
  struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = t};
  epoll_ctl(t->w->base.ep, EPOLL_CTL_MOD, t->sock, &ev);
  t->write_blocked = on;
}

/* Sends the blocks of the current window not sent yet, up to MAX_BATCH per system call. */
static void pump(transfer *t) {
  if (t->write_blocked || t->finished) return;
  worker *w = t->w;
  uint64_t end = t->base + t->windowsize - 1;
  if (end > t->last_block) end = t->last_block;
  while (t->next_to_send <= end) {
    int n = 0;
    size_t lens[MAX_BATCH];
    for (uint64_t b = t->next_to_send; b <= end && n < MAX_BATCH; b++, n++) {
      const uint8_t *p;
      int err = block_data(t, b, &p, &lens[n]);
      if (err) {
        char reason[96];
        snprintf(reason, sizeof reason, "read: %s", strerror(err));
        fail(t, reason, "read error");
        return;
      }
      w->hdr[n][0] = 0;
      w->hdr[n][1] = OP_DATA;
      w->hdr[n][2] = (uint8_t)(b >> 8);
      w->hdr[n][3] = (uint8_t)b;
      w->iov[n][0] = (struct iovec){.iov_base = w->hdr[n], .iov_len = 4};
      w->iov[n][1] = (struct iovec){.iov_base = (void *)p, .iov_len = lens[n]};
      memset(&w->msgs[n], 0, sizeof w->msgs[n]);
      w->msgs[n].msg_hdr.msg_iov = w->iov[n];
      w->msgs[n].msg_hdr.msg_iovlen = 2;
    }
    int sent = n == 1 ? (sendmsg(t->sock, &w->msgs[0].msg_hdr, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0 ? 1 : -1)
                      : sendmmsg(t->sock, w->msgs, (unsigned)n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
        arm_write(t, 1); /* the socket buffer is full: go on when it drains */
        return;
      }
      /* An ICMP report (the client is gone, or someone forged one): as good as a lost datagram, the
         retransmit timer decides, as it does for the JavaScript engine. */
      sent = n;
    }
    for (int i = 0; i < sent; i++) t->bytes += lens[i];
    t->next_to_send += (uint64_t)sent;
  }
}

static void progress(transfer *t, uint64_t now) {
  t->attempt = 0;
  t->deadline = now + t->timeout_ms;
}

static void on_ack(transfer *t, unsigned wire, uint64_t now) {
  if (t->in_oack) {
    if (wire != 0) return;
    t->in_oack = 0;
    atomic_store(&t->acked, 1);
    progress(t, now);
    pump(t);
    return;
  }
  /* Map the 16-bit number onto [base, next_to_send-1]; anything else (a repeat of an ACK already acted
     on, notably) is ignored, which is what prevents Sorcerer's Apprentice. */
  if (t->next_to_send <= t->base) return;
  uint64_t high = t->next_to_send - 1;
  uint64_t offset = ((uint64_t)wire - t->base) & 0xffff;
  if (offset > high - t->base) return;
  uint64_t acked = t->base + offset;
  t->base = acked + 1;
  atomic_store(&t->acked, 1);
  if (acked >= t->last_block) {
    finish(t, RESULT_OK, "", 0, 0, NULL);
    return;
  }
  /* An ACK inside the window means the client lost acked+1 (RFC 7440 section 4): restart there. */
  if (t->next_to_send > t->base) t->next_to_send = t->base;
  progress(t, now);
  pump(t);
}

static void on_readable(transfer *t, uint64_t now) {
  uint8_t buf[516];
  for (int k = 0; k < MAX_BATCH && !t->finished; k++) {
    ssize_t r = recv(t->sock, buf, sizeof buf, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR || errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH) continue;
      return;
    }
    if (r < 4) {
      t->bad_packets++;
      continue;
    }
    unsigned op = (unsigned)buf[0] << 8 | buf[1];
    unsigned n = (unsigned)buf[2] << 8 | buf[3];
    if (op == OP_ACK) {
      uint64_t sent_before = t->next_to_send;
      on_ack(t, n, now);
      /* It sent the next block(s): the client's answer to them is not here yet, so go back to epoll rather
         than spend a recv() on EAGAIN (level-triggered: anything already queued is reported at once). */
      if (t->next_to_send > sent_before) return;
    } else if (op == OP_ERROR) {
      /* Firmware probing tsize answers the OACK with error 8 (or 0): a normal, clean end. */
      size_t len = 0;
      while (4 + len < (size_t)r && len < 200 && buf[4 + len] != 0) len++;
      finish(t, RESULT_ABORTED, (const char *)buf + 4, len, (int)n, NULL);
    } else {
      t->bad_packets++; /* a repeated RRQ, DATA, junk from our own client: ignored, never fatal */
    }
  }
}

static void on_timeout(transfer *t, uint64_t now) {
  t->attempt++;
  if (t->attempt > t->retries) {
    fail(t, "timeout", "Timeout");
    return;
  }
  t->retransmits++;
  uint64_t delay = (uint64_t)t->timeout_ms << (t->attempt < 20 ? t->attempt : 20);
  if (delay > t->max_timeout_ms) delay = t->max_timeout_ms;
  t->deadline = now + delay;
  if (t->in_oack) {
    (void)send(t->sock, t->oack, t->oack_len, MSG_DONTWAIT | MSG_NOSIGNAL);
    return;
  }
  t->next_to_send = t->base; /* go-back-N: the whole unacknowledged window again */
  pump(t);
}

static void activate(worker *w, transfer *t, uint64_t now) {
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = t};
  t->next = w->active;
  t->prev = NULL;
  if (w->active) w->active->prev = t;
  w->active = t;
  w->active_count++;
  if (epoll_ctl(w->base.ep, EPOLL_CTL_ADD, t->sock, &ev) != 0) {
    char reason[96];
    snprintf(reason, sizeof reason, "epoll: %s", strerror(errno));
    fail(t, reason, NULL);
    return;
  }
  /* A stranger's datagram that slipped in between bind() and connect() is still queued: drop it. */
  uint8_t junk[16];
  while (recv(t->sock, junk, sizeof junk, MSG_DONTWAIT) >= 0) t->unknown_tid++;
  t->deadline = now + t->timeout_ms;
  if (t->in_oack) (void)send(t->sock, t->oack, t->oack_len, MSG_DONTWAIT | MSG_NOSIGNAL);
  else pump(t);
}

static void take_inbox_and_cancels(worker *w, uint64_t now) {
  for (ep_item *in = ep_worker_take_inbox(&w->base), *nx; in; in = nx) {
    nx = in->queue_next; /* activate() may finish the transfer, and a finished one's queue_next is the report queue */
    in->queue_next = NULL;
    activate(w, (transfer *)in, now);
  }
  if (ep_worker_take_cancels(&w->base)) {
    for (transfer *t = w->active, *nx; t; t = nx) {
      nx = t->next;
      if (atomic_load_explicit(&t->cancel_flag, memory_order_acquire)) fail(t, t->cancel_msg, t->cancel_silent ? NULL : t->cancel_msg);
    }
  }
}

static void *worker_main(void *arg) {
  worker *w = arg;
  struct epoll_event evs[MAX_BATCH];
  uint64_t next_scan = ep_now_ms() + TICK_MS;
  for (;;) {
    int n = epoll_wait(w->base.ep, evs, MAX_BATCH, w->active_count ? TICK_MS : -1);
    uint64_t now = ep_now_ms();
    for (int i = 0; i < n; i++) {
      transfer *t = evs[i].data.ptr;
      if (!t) {
        take_inbox_and_cancels(w, now);
        continue;
      }
      if (t->finished) continue;
      if ((evs[i].events & EPOLLOUT) && t->write_blocked) {
        arm_write(t, 0);
        pump(t);
      }
      if (!t->finished && (evs[i].events & (EPOLLIN | EPOLLERR))) on_readable(t, now);
    }
    if (now >= next_scan) {
      for (transfer *t = w->active, *nx; t; t = nx) {
        nx = t->next;
        if (now >= t->deadline) on_timeout(t, now);
      }
      next_scan = now + TICK_MS;
    }
    /* Reported only now: once JS has a transfer it frees it, and the events above may still name it. */
    ep_worker_report(&w->base);
  }
  return NULL;
}

/* ------------------------------------------------------------------ main (JS) thread side */

static ep_pool *the_pool; /* one per process: the threads live as long as it does */

static void free_transfer(transfer *t) {
  free(t->oack);
  free(t->chunk[0]);
  free(t->chunk[1]);
  free(t);
}

static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  transfer *t = data;
  if (env && cb) {
    static const char *names[] = {"ok", "aborted", "failed"};
    napi_value argv[8], undefined;
    napi_create_uint32(env, t->id, &argv[0]);
    napi_create_string_utf8(env, names[t->result], NAPI_AUTO_LENGTH, &argv[1]);
    napi_create_double(env, (double)t->bytes, &argv[2]);
    napi_create_double(env, (double)t->retransmits, &argv[3]);
    napi_create_double(env, (double)t->bad_packets, &argv[4]);
    napi_create_double(env, (double)t->unknown_tid, &argv[5]);
    napi_create_int32(env, t->code, &argv[6]);
    napi_create_string_latin1(env, t->message, t->message_len, &argv[7]);
    napi_get_undefined(env, &undefined);
    napi_call_function(env, undefined, cb, 8, argv, NULL);
  }
  free_transfer(t);
  ep_pool_reported(env, context);
}

/* init(threads, onDone): starts the workers once per process; onDone(id, result, bytes, retransmits,
   badPackets, unknownTid, code, message) is called for every finished transfer. */
static napi_value js_init(napi_env env, napi_callback_info info) {
  return ep_pool_init(env, info, &the_pool, "tftp engine", sizeof(worker), call_js, worker_main);
}

static int get_u32(napi_env env, napi_value obj, const char *key, uint32_t *out) {
  napi_value v;
  return napi_get_named_property(env, obj, key, &v) == napi_ok && napi_get_value_uint32(env, v, out) == napi_ok ? 0 : -1;
}

static int get_f64(napi_env env, napi_value obj, const char *key, double *out) {
  napi_value v;
  return napi_get_named_property(env, obj, key, &v) == napi_ok && napi_get_value_double(env, v, out) == napi_ok ? 0 : -1;
}

static int get_str(napi_env env, napi_value obj, const char *key, char *buf, size_t cap) {
  napi_value v;
  size_t len;
  return napi_get_named_property(env, obj, key, &v) == napi_ok && napi_get_value_string_utf8(env, v, buf, cap, &len) == napi_ok ? 0 : -1;
}

/* Optional Buffer property: *present, its data pointer (NULL when empty) and length. */
static int get_buf(napi_env env, napi_value obj, const char *key, bool *present, void **data, size_t *len) {
  napi_value v;
  *present = false;
  *data = NULL;
  *len = 0;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return -1;
  if (napi_is_buffer(env, v, present) != napi_ok || !*present) return 0;
  return napi_get_buffer_info(env, v, data, len) == napi_ok ? 0 : -1;
}

static int to_sockaddr(const char *addr, uint32_t port, struct sockaddr_storage *ss, socklen_t *len) {
  char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  snprintf(host, sizeof host, "%s", addr);
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *len = sizeof *a4;
    return 0;
  }
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  char *scope = strchr(host, '%');
  if (scope) *scope++ = 0;
  if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1) return -1;
  a6->sin6_family = AF_INET6;
  a6->sin6_port = htons((uint16_t)port);
  if (scope) a6->sin6_scope_id = if_nametoindex(scope) ? if_nametoindex(scope) : (uint32_t)strtoul(scope, NULL, 10);
  *len = sizeof *a6;
  return 0;
}

/* start(params) → [port, handle]. The socket is bound to bindAddress, connected to the client, and handed
   to the least loaded worker, which sends the OACK or the first window. `data` (a Buffer) must stay
   referenced by the caller until onDone for this id; without it, `fd` is read (and not closed here). */
static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value p;
  napi_get_cb_info(env, info, &argc, &p, NULL, NULL);
  ep_pool *pool = the_pool;
  if (!pool) THROW(env, "tftp engine not initialised");
  uint32_t id, client_port, blksize, windowsize, timeout_ms, max_timeout_ms, retries;
  double size, fd;
  char bind_addr[64], client_addr[64];
  void *data, *oack;
  size_t data_len, oack_len;
  bool has_data, has_oack;
  if (get_u32(env, p, "id", &id) || get_str(env, p, "bindAddress", bind_addr, sizeof bind_addr) ||
      get_str(env, p, "clientAddress", client_addr, sizeof client_addr) || get_u32(env, p, "clientPort", &client_port) ||
      get_f64(env, p, "size", &size) || get_f64(env, p, "fd", &fd) || get_u32(env, p, "blksize", &blksize) ||
      get_u32(env, p, "windowsize", &windowsize) || get_u32(env, p, "timeoutMs", &timeout_ms) ||
      get_u32(env, p, "maxTimeoutMs", &max_timeout_ms) || get_u32(env, p, "retries", &retries) ||
      get_buf(env, p, "data", &has_data, &data, &data_len) || get_buf(env, p, "oack", &has_oack, &oack, &oack_len)) {
    THROW(env, "start: bad parameters");
  }
  if (blksize < 8 || blksize > 65464 || windowsize < 1 || size < 0 || (!has_data && fd < 0)) THROW(env, "start: bad parameters");
  if (has_data && data_len < (size_t)size) THROW(env, "start: data shorter than size");

  struct sockaddr_storage local, peer;
  socklen_t local_len, peer_len;
  if (to_sockaddr(bind_addr, 0, &local, &local_len) || to_sockaddr(client_addr, client_port, &peer, &peer_len) ||
      local.ss_family != peer.ss_family) {
    THROW(env, "start: bad address");
  }
  int s = socket(local.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0 || bind(s, (struct sockaddr *)&local, local_len) != 0 || connect(s, (struct sockaddr *)&peer, peer_len) != 0) {
    char msg[128];
    snprintf(msg, sizeof msg, "socket: %s", strerror(errno));
    if (s >= 0) close(s);
    THROW(env, msg);
  }
  struct sockaddr_storage bound;
  socklen_t bound_len = sizeof bound;
  getsockname(s, (struct sockaddr *)&bound, &bound_len);
  uint32_t port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port : ((struct sockaddr_in6 *)&bound)->sin6_port);

  transfer *t = calloc(1, sizeof *t);
  t->id = id;
  t->sock = s;
  t->mem = has_data ? data : NULL;
  t->from_memory = has_data;
  t->file_fd = has_data ? -1 : (int)fd;
  t->size = (uint64_t)size;
  t->chunk_size = ((CHUNK_MIN + blksize - 1) / blksize) * (uint64_t)blksize;
  t->chunk_idx[0] = t->chunk_idx[1] = -1;
  t->blksize = blksize;
  t->windowsize = windowsize;
  t->base = t->next_to_send = 1;
  t->last_block = t->size / blksize + 1;
  if (oack_len) {
    t->oack = malloc(oack_len);
    memcpy(t->oack, oack, oack_len);
    t->oack_len = oack_len;
    t->in_oack = 1;
  }
  t->timeout_ms = timeout_ms;
  t->max_timeout_ms = max_timeout_ms;
  t->retries = (int)retries;
  t->w = (worker *)ep_pool_pick(env, pool);
  ep_worker_post(&t->w->base, &t->item);

  napi_value out, vport, handle;
  napi_create_array_with_length(env, 2, &out);
  napi_create_uint32(env, port, &vport);
  handle = ep_item_handle(env, &t->item);
  napi_set_element(env, out, 0, vport);
  napi_set_element(env, out, 1, handle);
  return out;
}

static transfer *handle_of(napi_env env, napi_callback_info info, napi_value *argv, size_t want) {
  size_t argc = want;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *t = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], &t) != napi_ok) return NULL;
  return t;
}

/* cancel(handle, message, tellClient): the worker ends the transfer, with ERROR 0 `message` to the client when
   tellClient. Only before onDone. */
static napi_value js_cancel(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  transfer *t = handle_of(env, info, argv, 3);
  if (!t) THROW(env, "cancel: bad handle");
  size_t len;
  if (napi_get_value_string_latin1(env, argv[1], t->cancel_msg, sizeof t->cancel_msg, &len) != napi_ok) {
    snprintf(t->cancel_msg, sizeof t->cancel_msg, "cancelled");
  }
  bool tell = true;
  napi_get_value_bool(env, argv[2], &tell); /* not a boolean (an older caller): tell, as before */
  t->cancel_silent = !tell;
  if (atomic_exchange_explicit(&t->cancel_flag, 1, memory_order_release)) return NULL;
  ep_worker_cancel(&t->w->base);
  return NULL;
}

/* acknowledged(handle): the client acknowledged the OACK or a block. Only before onDone. */
static napi_value js_acknowledged(napi_env env, napi_callback_info info) {
  napi_value argv[1], out;
  transfer *t = handle_of(env, info, argv, 1);
  if (!t) THROW(env, "acknowledged: bad handle");
  napi_get_boolean(env, atomic_load(&t->acked) != 0, &out);
  return out;
}

napi_value tftp_engine_exports(napi_env env) {
  napi_value exports;
  napi_create_object(env, &exports);
  napi_property_descriptor props[] = {
      {"init", NULL, js_init, NULL, NULL, NULL, napi_default, NULL},
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
      {"cancel", NULL, js_cancel, NULL, NULL, NULL, napi_default, NULL},
      {"acknowledged", NULL, js_acknowledged, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
