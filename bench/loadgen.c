/*
 * loadgen: a closed-loop load generator for ZMTP REP servers and TCP echo
 * servers. Every connection keeps exactly one request in flight and sends
 * the next as soon as its reply is in. One thread, one epoll set,
 * non-blocking sockets, level-triggered: each epoll round serves every fd
 * that is ready (one read each, in the order the kernel reports them), so
 * the generator gives each connection its turn and starves none itself.
 *
 *   loadgen --host H --port P --connections N --warmup-ms W --duration-ms D
 *           [--mode zmtp|echo] [--request TEXT] [--expect TEXT] [--json]
 *           [--strict] [--connect-timeout-ms T]
 *
 * zmtp: each connection does a ZMTP 3.0 NULL handshake as a REQ socket, then
 * sends [empty delimiter][request] and waits for [empty][body]; with
 * --expect, a body that differs counts as a mismatch. echo: sends the
 * request's bytes raw and waits for as many bytes back (they must be equal).
 *
 * All connections are opened and handshaken first (at most 64 at a time,
 * each retried on failure), then W ms of warm-up are not counted, then D ms
 * are measured: the latency of every request whose reply arrives in the
 * window (log-linear histogram, under 1% error, up to ~18 minutes), and how
 * many replies each connection got in it. After the window no request is
 * sent, and the replies still due are awaited (up to 10 s; those missing
 * count as errors), so that the totals over the whole run, "sent" and
 * "replies" in the JSON, are exact: equal when the server answered every
 * request. "first_round_max" is the fairness of the first wave, which the
 * warm-up hides: when the last connection had its first reply, the most
 * replies any connection had had (1 when the server took them in turn).
 * One JSON line on stdout with --json, else a short text summary. Exit
 * status 1 on any failure (a connect that keeps failing, a connection the
 * server closes, a protocol error, no request completed); 2 on a usage
 * error.
 *
 * Build: cc -O2 -o bench/out/loadgen bench/loadgen.c  (tools/setup does it)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ---- options ---------------------------------------------------------- */

static const char *opt_host = "127.0.0.1";
static int opt_port = -1;
static int opt_connections = -1;
static long opt_warmup_ms = -1;
static long opt_duration_ms = -1;
static int opt_echo = 0;
static const char *opt_request = "100";
static const char *opt_expect = NULL;
static int opt_json = 0;
static int opt_strict = 0;
static long opt_connect_timeout_ms = 30000;

static void usage(const char *why) {
  if (why) fprintf(stderr, "loadgen: %s\n", why);
  fprintf(stderr,
          "usage: loadgen --host H --port P --connections N --warmup-ms W "
          "--duration-ms D\n"
          "               [--mode zmtp|echo] [--request TEXT] [--expect TEXT] "
          "[--json]\n"
          "               [--strict] [--connect-timeout-ms T]\n");
  exit(2);
}

static long parse_long(const char *name, const char *text, long min, long max) {
  char *end;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno || end == text || *end || v < min || v > max) {
    fprintf(stderr, "loadgen: %s must be an integer from %ld to %ld, not \"%s\"\n",
            name, min, max, text);
    usage(NULL);
  }
  return v;
}

static void parse_args(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define WANT()                                                   \
  do {                                                           \
    if (!v) {                                                    \
      fprintf(stderr, "loadgen: %s needs a value\n", a);         \
      usage(NULL);                                               \
    }                                                            \
    i++;                                                         \
  } while (0)
    if (!strcmp(a, "--host")) { WANT(); opt_host = v; }
    else if (!strcmp(a, "--port")) { WANT(); opt_port = (int)parse_long(a, v, 1, 65535); }
    else if (!strcmp(a, "--connections")) { WANT(); opt_connections = (int)parse_long(a, v, 1, 100000); }
    else if (!strcmp(a, "--warmup-ms")) { WANT(); opt_warmup_ms = parse_long(a, v, 0, 3600000); }
    else if (!strcmp(a, "--duration-ms")) { WANT(); opt_duration_ms = parse_long(a, v, 1, 3600000); }
    else if (!strcmp(a, "--connect-timeout-ms")) { WANT(); opt_connect_timeout_ms = parse_long(a, v, 1, 3600000); }
    else if (!strcmp(a, "--mode")) {
      WANT();
      if (!strcmp(v, "echo")) opt_echo = 1;
      else if (!strcmp(v, "zmtp")) opt_echo = 0;
      else usage("--mode is zmtp or echo");
    }
    else if (!strcmp(a, "--request")) { WANT(); opt_request = v; }
    else if (!strcmp(a, "--expect")) { WANT(); opt_expect = v; }
    else if (!strcmp(a, "--json")) opt_json = 1;
    else if (!strcmp(a, "--strict")) opt_strict = 1;
    else if (!strcmp(a, "--help") || !strcmp(a, "-h")) usage(NULL);
    else {
      fprintf(stderr, "loadgen: unknown argument \"%s\"\n", a);
      usage(NULL);
    }
#undef WANT
  }
  if (opt_port < 0) usage("--port is required");
  if (opt_connections < 0) usage("--connections is required");
  if (opt_warmup_ms < 0) usage("--warmup-ms is required");
  if (opt_duration_ms < 0) usage("--duration-ms is required");
  if (opt_echo && strlen(opt_request) == 0) usage("--request must not be empty in echo mode");
}

static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("loadgen: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

/* ---- time --------------------------------------------------------------- */

static inline int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* This process's CPU time, user and system, in us. */
static void cpu_us(int64_t *user, int64_t *sys) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  *user = (int64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec;
  *sys = (int64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
}

/* ---- latency histogram ------------------------------------------------- */
/* Log-linear, as HdrHistogram: values (ns) below 256 each have a bucket;
 * above, every power of two is cut into 128 buckets, so a bucket is at most
 * 1/128 (0.8%) of its values wide. 2^40 ns is about 18 minutes. */

#define SUB_BITS 7
#define SUB_HALF (1 << SUB_BITS)          /* 128 */
#define SUB_COUNT (2 * SUB_HALF)          /* 256 */
#define TOP_BIT 40
#define BUCKETS (SUB_COUNT + (TOP_BIT - SUB_BITS) * SUB_HALF)

static uint64_t histogram[BUCKETS];
static uint64_t histogram_count;
static int64_t histogram_max;

static int bucket_of(int64_t v) {
  if (v < 0) v = 0;
  if (v < SUB_COUNT) return (int)v;
  int msb = 63 - __builtin_clzll((uint64_t)v);
  if (msb >= TOP_BIT) return BUCKETS - 1;
  int shift = msb - SUB_BITS;                      /* v >> shift in [128, 255] */
  return SUB_COUNT + (shift - 1) * SUB_HALF + (int)((v >> shift) - SUB_HALF);
}

/* The middle of a bucket's range, in ns. */
static double bucket_value(int b) {
  if (b < SUB_COUNT) return b;
  int shift = (b - SUB_COUNT) / SUB_HALF + 1;
  int64_t low = (int64_t)((b - SUB_COUNT) % SUB_HALF + SUB_HALF) << shift;
  return (double)low + (double)((int64_t)1 << shift) / 2.0;
}

static void record(int64_t ns) {
  histogram[bucket_of(ns)]++;
  histogram_count++;
  if (ns > histogram_max) histogram_max = ns;
}

/* The value at rank ceil(q * count), in us; never above the exact max. */
static double percentile_us(double q) {
  uint64_t rank = (uint64_t)(q * (double)histogram_count);
  if ((double)rank < q * (double)histogram_count) rank++;
  if (rank < 1) rank = 1;
  uint64_t seen = 0;
  for (int b = 0; b < BUCKETS; b++) {
    seen += histogram[b];
    if (seen >= rank) {
      double v = bucket_value(b);
      if (v > (double)histogram_max) v = (double)histogram_max;
      return v / 1000.0;
    }
  }
  return (double)histogram_max / 1000.0;
}

/* ---- connections ------------------------------------------------------- */

enum phase { IDLE, CONNECTING, HANDSHAKE, READY, WAITING, FAILED };

struct conn {
  int fd;
  enum phase phase;
  int attempts;
  int64_t retry_at;      /* IDLE: when to connect again */
  int64_t sent_at;       /* WAITING: when the request left */
  uint64_t completed;    /* replies in the measured window */
  uint64_t answered;     /* replies over the whole run */
  /* input */
  unsigned char *in;
  size_t in_len, in_cap;
  int greeting_done;
  int frames_in_reply;   /* zmtp: message frames of the current reply so far */
  int reply_bad;         /* zmtp: the reply so far has the wrong shape/body */
  /* output */
  const unsigned char *out;
  size_t out_len, out_off;
  int want_out;
};

static struct conn *conns;
/* The first round: connections still without a reply, and, once none is,
 * the most replies any connection had by then. */
static int first_round_left;
static uint64_t first_round_max;
static int epfd;
static struct addrinfo *target;
static unsigned char *request_bytes;   /* what one request puts on the wire */
static size_t request_len;
static unsigned char handshake_bytes[64 + 64];
static size_t handshake_len;
static size_t expect_len;
static uint64_t mismatches, errors;
static uint64_t sent_total, replies_total; /* whole run, warm-up and drain included */
static int measuring = 0, running = 0;
static int64_t window_start, window_end;
static int ready_count, active_connects;
static const char *first_error;

#define MAX_ACTIVE_CONNECTS 64

static void set_events(struct conn *c, int out) {
  struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0),
                           .data.ptr = c};
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) fail("epoll_ctl: %s", strerror(errno));
  c->want_out = out;
}

static void close_fd(struct conn *c) {
  if (c->fd >= 0) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
  }
}

/* A failure before the run: retried with a growing delay, a bounded number
 * of times. */
static void setup_failed(struct conn *c, const char *why) {
  close_fd(c);
  if (c->phase == CONNECTING || c->phase == HANDSHAKE) active_connects--;
  c->in_len = 0;
  c->greeting_done = 0;
  if (++c->attempts >= 20) fail("connection %ld to %s:%d failed 20 times, last: %s",
                                (long)(c - conns), opt_host, opt_port, why);
  int64_t delay = 10000000LL << (c->attempts < 6 ? c->attempts : 6); /* 20 ms .. 640 ms */
  c->retry_at = now_ns() + delay;
  c->phase = IDLE;
}

/* A failure during the run: that connection is lost; the run goes on for
 * the others, and the exit status says it failed. */
static void run_failed(struct conn *c, const char *why) {
  if (!first_error) first_error = why;
  errors++;
  close_fd(c);
  c->phase = FAILED;
  fprintf(stderr, "loadgen: connection %ld: %s\n", (long)(c - conns), why);
}

static void start_connect(struct conn *c) {
  int fd = socket(target->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket: %s (raise the open-file limit?)", strerror(errno));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->fd = fd;
  c->phase = CONNECTING;
  active_connects++;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) fail("epoll_ctl: %s", strerror(errno));
  c->want_out = 1;
  if (connect(fd, target->ai_addr, target->ai_addrlen) < 0 && errno != EINPROGRESS)
    setup_failed(c, strerror(errno));
}

/* Writes what is pending; returns 0 when the connection failed. */
static int flush_out(struct conn *c) {
  while (c->out_off < c->out_len) {
    ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!c->want_out) set_events(c, 1);
        return 1;
      }
      return 0;
    }
    c->out_off += (size_t)n;
  }
  if (c->want_out) set_events(c, 0);
  return 1;
}

static int send_request(struct conn *c) {
  c->out = request_bytes;
  c->out_len = request_len;
  c->out_off = 0;
  c->phase = WAITING;
  c->frames_in_reply = 0;
  c->reply_bad = 0;
  c->sent_at = now_ns();
  sent_total++;
  return flush_out(c);
}

static void reply_done(struct conn *c, int bad, int64_t t) {
  replies_total++;
  if (++c->answered == 1 && --first_round_left == 0) {
    for (int i = 0; i < opt_connections; i++)
      if (conns[i].answered > first_round_max) first_round_max = conns[i].answered;
  }
  if (measuring && t >= window_start && t < window_end) {
    record(t - c->sent_at);
    c->completed++;
    if (bad) mismatches++;
  }
  if (running) {
    if (!send_request(c)) run_failed(c, "send failed");
  } else {
    c->phase = READY;
  }
}

/* ZMTP frame parsing over the input buffer. Returns how many octets a
 * complete frame at `p` takes (0 if incomplete), with its flags and body. */
static size_t parse_frame(const unsigned char *p, size_t len, int *flags,
                          const unsigned char **body, uint64_t *size) {
  if (len < 2) return 0;
  *flags = p[0];
  size_t head;
  if (p[0] & 0x02) {
    if (len < 9) return 0;
    uint64_t s = 0;
    for (int i = 1; i <= 8; i++) s = s << 8 | p[i];
    *size = s;
    head = 9;
  } else {
    *size = p[1];
    head = 2;
  }
  if (*size > (1u << 30)) return (size_t)-1;
  if (len - head < *size) return 0;
  *body = p + head;
  return head + (size_t)*size;
}

/* Handles what has arrived on a connection. Returns 0 on a protocol error
 * (why in *why). */
static int consume(struct conn *c, int64_t t, const char **why) {
  size_t at = 0;
  if (opt_echo) {
    if (c->phase != WAITING) { *why = "unexpected bytes from the server"; return 0; }
    if (c->in_len < request_len) return 1;
    if (c->in_len > request_len) { *why = "more bytes back than were sent"; return 0; }
    int bad = memcmp(c->in, request_bytes, request_len) != 0;
    c->in_len = 0;
    reply_done(c, bad, t);
    return 1;
  }
  if (!c->greeting_done) {
    if (c->in_len < 11) return 1;
    if (c->in[0] != 0xff || c->in[9] != 0x7f) { *why = "not a ZMTP greeting"; return 0; }
    if (c->in[10] < 3) { *why = "the server speaks ZMTP below 3.0"; return 0; }
    if (c->in_len < 64) return 1;
    if (memcmp(c->in + 12, "NULL", 5) != 0) { *why = "the server's mechanism is not NULL"; return 0; }
    c->greeting_done = 1;
    at = 64;
  }
  for (;;) {
    int flags;
    const unsigned char *body;
    uint64_t size;
    size_t n = parse_frame(c->in + at, c->in_len - at, &flags, &body, &size);
    if (n == (size_t)-1) { *why = "frame too large"; return 0; }
    if (n == 0 || c->phase == FAILED) break;
    at += n;
    if (flags & 0x04) {
      /* A command: READY ends the handshake; ERROR fails it; PING/PONG and
       * others are ignored (the server needs no heartbeat from us here). */
      if (size >= 6 && body[0] == 5 && !memcmp(body + 1, "ERROR", 5)) {
        *why = "the server sent ERROR";
        return 0;
      }
      if (c->phase == HANDSHAKE && size >= 6 && body[0] == 5 && !memcmp(body + 1, "READY", 5)) {
        c->phase = READY;
        c->attempts = 0;
        active_connects--;
        ready_count++;
        if (running && !send_request(c)) { *why = "send failed"; return 0; }
      }
      continue;
    }
    if (c->phase != WAITING) { *why = "a message frame when no reply was due"; return 0; }
    int index = c->frames_in_reply++;
    int more = flags & 0x01;
    if (index == 0) {
      if (size != 0 || !more) c->reply_bad = 1; /* not the empty delimiter */
    } else if (index == 1) {
      if (more) c->reply_bad = 1;
      else if (opt_expect && (size != expect_len || memcmp(body, opt_expect, expect_len)))
        c->reply_bad = 1;
    } else {
      c->reply_bad = 1;
    }
    if (!more) {
      int bad = c->reply_bad || c->frames_in_reply != 2;
      reply_done(c, bad, t);
    }
  }
  if (at > 0) {
    memmove(c->in, c->in + at, c->in_len - at);
    c->in_len -= at;
  }
  return 1;
}

static void on_event(struct conn *c, uint32_t events) {
  if (c->phase == CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) { setup_failed(c, strerror(err)); return; }
    if (!(events & (EPOLLOUT | EPOLLIN))) { setup_failed(c, "connect failed"); return; }
    c->phase = HANDSHAKE;
    if (opt_echo) {
      c->phase = READY;
      c->attempts = 0;
      active_connects--;
      ready_count++;
      if (c->want_out) set_events(c, 0);
      if (running && !send_request(c)) run_failed(c, "send failed");
      return;
    }
    c->out = handshake_bytes;
    c->out_len = handshake_len;
    c->out_off = 0;
    if (!flush_out(c)) setup_failed(c, "send failed during the handshake");
    return;
  }
  if ((events & EPOLLOUT) && c->out_off < c->out_len) {
    if (!flush_out(c)) {
      if (c->phase == HANDSHAKE) setup_failed(c, "send failed during the handshake");
      else run_failed(c, "send failed");
      return;
    }
  }
  if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
  /* One read per round: the next round comes back to it if more waits. */
  if (c->in_cap - c->in_len < 4096) {
    c->in_cap = c->in_cap * 2 + 4096;
    c->in = realloc(c->in, c->in_cap);
    if (!c->in) fail("out of memory");
  }
  ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  int64_t t = now_ns();
  if (n <= 0) {
    const char *why = n == 0 ? "the server closed the connection" : strerror(errno);
    if (c->phase == HANDSHAKE) setup_failed(c, why);
    else run_failed(c, why);
    return;
  }
  c->in_len += (size_t)n;
  const char *why = NULL;
  if (!consume(c, t, &why)) {
    if (c->phase == HANDSHAKE) {
      /* A server that refuses us will refuse us again: no retry. */
      fail("connection %ld: %s", (long)(c - conns), why);
    }
    run_failed(c, why);
  }
}

static void build_messages(void) {
  size_t rlen = strlen(opt_request);
  if (opt_echo) {
    request_len = rlen;
    request_bytes = (unsigned char *)strdup(opt_request);
  } else {
    request_bytes = malloc(2 + 9 + rlen);
    size_t at = 0;
    request_bytes[at++] = 0x01; /* MORE: the empty delimiter */
    request_bytes[at++] = 0;
    if (rlen < 256) {
      request_bytes[at++] = 0;
      request_bytes[at++] = (unsigned char)rlen;
    } else {
      request_bytes[at++] = 0x02; /* LONG */
      for (int i = 7; i >= 0; i--) request_bytes[at++] = (unsigned char)((uint64_t)rlen >> (8 * i));
    }
    memcpy(request_bytes + at, opt_request, rlen);
    request_len = at + rlen;
  }
  if (opt_expect) expect_len = strlen(opt_expect);
  /* Greeting: signature, version 3.0, NULL, as-server 0, filler. */
  unsigned char *g = handshake_bytes;
  memset(g, 0, 64);
  g[0] = 0xff;
  g[9] = 0x7f;
  g[10] = 3;
  g[11] = 0;
  memcpy(g + 12, "NULL", 4);
  size_t at = 64;
  /* READY with Socket-Type=REQ. */
  static const unsigned char ready[] = {5, 'R', 'E', 'A', 'D', 'Y', 11, 'S', 'o', 'c', 'k',
                                        'e', 't', '-', 'T', 'y', 'p', 'e', 0, 0, 0, 3,
                                        'R', 'E', 'Q'};
  g[at++] = 0x04;
  g[at++] = sizeof ready;
  memcpy(g + at, ready, sizeof ready);
  at += sizeof ready;
  handshake_len = at;
}

static void raise_fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  raise_fd_limit();
  build_messages();

  char port_text[16];
  snprintf(port_text, sizeof port_text, "%d", opt_port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  int gai = getaddrinfo(opt_host, port_text, &hints, &target);
  if (gai) fail("cannot resolve \"%s\": %s", opt_host, gai_strerror(gai));

  int n = opt_connections;
  conns = calloc((size_t)n, sizeof *conns);
  if (!conns) fail("out of memory");
  for (int i = 0; i < n; i++) {
    conns[i].fd = -1;
    conns[i].phase = IDLE;
    conns[i].in_cap = 512;
    conns[i].in = malloc(512);
    if (!conns[i].in) fail("out of memory");
  }
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) fail("epoll_create1: %s", strerror(errno));
  int max_events = n < 4096 ? n : 4096;
  struct epoll_event *events = calloc((size_t)max_events, sizeof *events);

  /* Connect and handshake every connection, 64 at a time. */
  int64_t deadline = now_ns() + opt_connect_timeout_ms * 1000000LL;
  while (ready_count < n) {
    int64_t t = now_ns();
    if (t > deadline)
      fail("only %d of %d connections to %s:%d were ready within %ld ms", ready_count, n,
           opt_host, opt_port, opt_connect_timeout_ms);
    int64_t wake = t + 100000000LL;
    for (int i = 0; i < n && active_connects < MAX_ACTIVE_CONNECTS; i++) {
      struct conn *c = &conns[i];
      if (c->phase != IDLE) continue;
      if (c->retry_at <= t) {
        start_connect(c);
      } else if (c->retry_at < wake) {
        wake = c->retry_at;
      }
    }
    int timeout = (int)((wake - t) / 1000000) + 1;
    int k = epoll_wait(epfd, events, max_events, timeout);
    if (k < 0 && errno != EINTR) fail("epoll_wait: %s", strerror(errno));
    for (int i = 0; i < k; i++) on_event(events[i].data.ptr, events[i].events);
  }

  /* The closed loop: warm-up, then the measured window. */
  int64_t start = now_ns();
  window_start = start + opt_warmup_ms * 1000000LL;
  window_end = window_start + opt_duration_ms * 1000000LL;
  measuring = 1;
  running = 1;
  first_round_left = n;
  for (int i = 0; i < n; i++)
    if (!send_request(&conns[i])) run_failed(&conns[i], "send failed");
  int64_t user_start = -1, sys_start = 0, user_end, sys_end;
  for (;;) {
    int64_t t = now_ns();
    if (user_start < 0 && t >= window_start) cpu_us(&user_start, &sys_start);
    if (t >= window_end) break;
    int64_t until = (user_start < 0 ? window_start : window_end) - t;
    int timeout = (int)(until / 1000000) + 1;
    int k = epoll_wait(epfd, events, max_events, timeout);
    if (k < 0 && errno != EINTR) fail("epoll_wait: %s", strerror(errno));
    for (int i = 0; i < k; i++) on_event(events[i].data.ptr, events[i].events);
  }
  cpu_us(&user_end, &sys_end);
  int64_t end = now_ns();
  running = 0;

  /* Requests still waiting at the end: how long they had waited. */
  int64_t oldest = 0;
  for (int i = 0; i < n; i++) {
    struct conn *c = &conns[i];
    if (c->phase == WAITING && end - c->sent_at > oldest) oldest = end - c->sent_at;
  }
  /* Drain: no new requests; wait for every reply still due, so that the
   * totals are exact (sent == replies when the server answered them all). */
  int64_t drain_deadline = now_ns() + 10000000000LL;
  for (;;) {
    int waiting = 0;
    for (int i = 0; i < n; i++) waiting += conns[i].phase == WAITING;
    if (!waiting) break;
    if (now_ns() >= drain_deadline) {
      if (!first_error) first_error = "replies still due 10 s after the window";
      errors += (uint64_t)waiting;
      break;
    }
    int k = epoll_wait(epfd, events, max_events, 100);
    if (k < 0 && errno != EINTR) fail("epoll_wait: %s", strerror(errno));
    for (int i = 0; i < k; i++) on_event(events[i].data.ptr, events[i].events);
  }
  uint64_t min = UINT64_MAX, max = 0, zero = 0;
  for (int i = 0; i < n; i++) {
    struct conn *c = &conns[i];
    if (c->completed < min) min = c->completed;
    if (c->completed > max) max = c->completed;
    if (c->completed == 0) zero++;
    close_fd(c);
  }

  uint64_t requests = histogram_count;
  double seconds = (double)(window_end - window_start) / 1e9;
  if (requests == 0) fail("no request completed in the %ld ms window", opt_duration_ms);
  /* The system's share is mostly loopback TCP itself: a send on loopback
   * runs the receiving side's TCP input too. */
  double user_per_request = (double)(user_end - user_start) / (double)requests;
  double cpu_per_request = (double)(user_end - user_start + sys_end - sys_start) / (double)requests;
  /* How much of one core the generator used in the window: well below 1,
   * it was never what the server waited for. */
  double cpu_share = (double)(user_end - user_start + sys_end - sys_start) / (seconds * 1e6);
  double fairness = (double)min / (double)max;
  if (opt_json) {
    printf("{\"connections\":%d,\"seconds\":%.3f,\"requests\":%llu,\"rps\":%.1f,"
           "\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f},"
           "\"per_connection\":{\"min\":%llu,\"max\":%llu,\"zero\":%llu},"
           "\"fairness\":%.4f,\"mismatches\":%llu,\"errors\":%llu,"
           "\"cpu_us_per_request\":%.3f,\"cpu_user_us_per_request\":%.3f,"
           "\"cpu_share\":%.3f,\"in_flight_max_us\":%.1f,\"sent\":%llu,\"replies\":%llu,"
           "\"first_round_max\":%llu}\n",
           n, seconds, (unsigned long long)requests, (double)requests / seconds,
           percentile_us(0.5), percentile_us(0.99), percentile_us(0.999),
           (double)histogram_max / 1000.0, (unsigned long long)min, (unsigned long long)max,
           (unsigned long long)zero, fairness, (unsigned long long)mismatches,
           (unsigned long long)errors, cpu_per_request, user_per_request, cpu_share,
           (double)oldest / 1000.0, (unsigned long long)sent_total,
           (unsigned long long)replies_total, (unsigned long long)first_round_max);
  } else {
    printf("%d connections, %.3f s: %llu requests, %.0f/s\n", n, seconds,
           (unsigned long long)requests, (double)requests / seconds);
    printf("latency us: p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (oldest in flight %.1f)\n",
           percentile_us(0.5), percentile_us(0.99), percentile_us(0.999),
           (double)histogram_max / 1000.0, (double)oldest / 1000.0);
    printf("per connection: min %llu  max %llu  zero %llu  fairness %.4f\n",
           (unsigned long long)min, (unsigned long long)max, (unsigned long long)zero, fairness);
    printf("mismatches %llu  errors %llu  own cpu %.3f us/request (user %.3f), %.0f%% of a core\n",
           (unsigned long long)mismatches, (unsigned long long)errors, cpu_per_request,
           user_per_request, cpu_share * 100);
  }
  fflush(stdout);
  if (errors > 0) fail("%llu connection(s) failed during the run, first: %s",
                       (unsigned long long)errors, first_error);
  if (opt_strict && mismatches > 0)
    fail("%llu mismatched replies (--strict)", (unsigned long long)mismatches);
  return 0;
}
