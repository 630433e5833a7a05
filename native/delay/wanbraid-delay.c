/*
 * wanbraid-delay: the lab's delay element (lab tooling only; the daemon never runs it).
 *
 * Runs inside one lab namespace (an ISP or a relay hop). It opens two tun devices, one per
 * direction; tc (clsact ingress + mirred redirect, set up by src/lab/delay.ts) hands it every IP
 * packet entering the node from the near side (up) or the far side (down). Each packet is
 * timestamped on arrival, held in that direction's FIFO and written back into the same tun at
 *
 *   release_i = max(release_{i-1}, arrival_i + delay + jitter(arrival_i), stall_end + delay)
 *
 * so the kernel then routes it on as if it had just come off the wire. The max() keeps packets in
 * arrival order per direction: a link queues, it never reorders.
 *
 * Jitter is a bounded random walk: an offset in [-J, +J] that moves toward a target drawn
 * uniformly from that range at half a millisecond per millisecond, then draws the next target.
 * Since the offset never falls faster than time passes, release times stay monotonic on their own
 * (the max() only matters for stalls and for settings changed at run time), packets are never
 * bunched by more than 2x, and the mean delay is the configured one. Stalls (LTE handovers,
 * radio-link retransmission bursts): at exponentially distributed intervals of mean E the
 * direction freezes for S; packets arriving during a stall leave together when it ends.
 *
 * Precision: CLOCK_MONOTONIC, an epoll_pwait2 timeout (nanoseconds) to the head packet's release
 * time, timer slack 1 us; packets due within 20 us are released together. Memory: one byte ring per direction
 * (--ring-bytes, default 32 MiB, touched only as used); a packet that does not fit is dropped and
 * counted. Rate limiting stays with tbf.
 *
 * Control: a unix stream socket (--control PATH), one request line per connection, one JSON line
 * back: `get`; `set up=D,J,S,E down=D,J,S,E` (microseconds: delay, jitter, stall length, mean
 * stall interval; 0 = none), applied to packets arriving from then on; `quit` (exit once the
 * packets held are out). SIGTERM, SIGINT and SIGHUP end it at once; the tun devices vanish with it.
 *
 * Usage: wanbraid-delay --up-dev NAME --down-dev NAME --control PATH
 *          [--up D,J,S,E] [--down D,J,S,E] [--ring-bytes N] [--seed N] [--rt PRIO]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sched.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* A virtio-net header (10 bytes) and an IP packet of up to 64 KiB (a GSO super-packet). */
#define VNET_HDR_LEN 10u
#define MAX_PACKET (65536u + 64u)
#define DUE_SLACK_NS 20000
/* While a release is due within this time anyway, arrivals do not wake us: they are read at that
 * wake-up and stamped with the middle of the interval they arrived in (error within ±125 us). Under
 * load this saves wake-ups, the element's main cost; an idle link is stamped exactly. */
#define COALESCE_NS 250000
#define READ_BATCH 256
#define MAX_CLIENTS 8
#define SLEW 0.5 /* jitter offset change, ns per ns */
/* Bounds on settings (microseconds): delay, jitter and stall at most 10 s, mean stall interval 1 h. */
#define MAX_SETTING_US 10000000LL
#define MAX_INTERVAL_US 3600000000LL

struct params {
  int64_t delay_ns, jitter_ns, stall_ns, stall_every_ns;
};

/* A record in the ring: header then packet bytes, 8-byte aligned. len == 0 marks a wrap. */
struct rec {
  int64_t release_ns;
  uint32_t len;
  uint32_t pad;
};

struct dir {
  const char *name;
  char dev[IFNAMSIZ];
  int fd;
  struct params p;
  /* jitter walk */
  double offset_ns, target_ns;
  int64_t walk_at;
  /* stalls */
  int64_t next_stall_at, stall_end;
  int64_t last_release;
  /* ring */
  uint8_t *ring;
  size_t cap, head, tail, used; /* used counts bytes incl. headers and wrap waste */
  uint64_t queued;
  /* counters */
  uint64_t packets, bytes, drops, write_errors, late_over_1ms;
  int64_t late_max_ns;
  uint64_t queued_max;
};

static uint64_t rng_state;

static uint64_t rng_next(void) {
  /* xorshift64* */
  uint64_t x = rng_state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rng_state = x;
  return x * 0x2545F4914F6CDD1DULL;
}

/* Uniform in [0, 1). */
static double rng_unit(void) { return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0); }

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("wanbraid-delay: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static int64_t exp_sample(int64_t mean_ns) {
  double u = rng_unit();
  return (int64_t)(-log(1.0 - u) * (double)mean_ns) + 1;
}

static void set_params(struct dir *d, const struct params *p, int64_t now) {
  d->p = *p;
  if (d->offset_ns > (double)p->jitter_ns) d->offset_ns = (double)p->jitter_ns;
  if (d->offset_ns < -(double)p->jitter_ns) d->offset_ns = -(double)p->jitter_ns;
  d->target_ns = p->jitter_ns ? (2.0 * rng_unit() - 1.0) * (double)p->jitter_ns : 0.0;
  d->walk_at = now;
  d->next_stall_at = (p->stall_ns > 0 && p->stall_every_ns > 0) ? now + exp_sample(p->stall_every_ns) : INT64_MAX;
}

/* Advance the jitter walk to time t; returns the offset. */
static double jitter_at(struct dir *d, int64_t t) {
  if (d->p.jitter_ns == 0) return 0.0;
  double dt = (double)(t - d->walk_at);
  d->walk_at = t;
  if (dt <= 0) return d->offset_ns;
  double budget = dt * SLEW;
  for (int guard = 0; budget > 0 && guard < 1000; guard++) {
    double gap = d->target_ns - d->offset_ns;
    double dist = fabs(gap);
    if (dist > budget) {
      d->offset_ns += gap > 0 ? budget : -budget;
      break;
    }
    d->offset_ns = d->target_ns;
    budget -= dist;
    d->target_ns = (2.0 * rng_unit() - 1.0) * (double)d->p.jitter_ns;
  }
  return d->offset_ns;
}

static int64_t release_time(struct dir *d, int64_t arrival) {
  int64_t r = arrival + d->p.delay_ns + (int64_t)jitter_at(d, arrival);
  if (arrival >= d->next_stall_at) {
    d->stall_end = d->next_stall_at + d->p.stall_ns;
    d->next_stall_at = d->stall_end + exp_sample(d->p.stall_every_ns);
  }
  if (arrival < d->stall_end && r < d->stall_end + d->p.delay_ns) r = d->stall_end + d->p.delay_ns;
  if (r < d->last_release) r = d->last_release;
  d->last_release = r;
  return r;
}

/* Room for a record of up to MAX_PACKET bytes at the tail? Wraps when the end is too close. */
static uint8_t *ring_reserve(struct dir *d) {
  size_t need = sizeof(struct rec) + MAX_PACKET;
  if (d->cap - d->used < need) return NULL;
  if (d->tail >= d->head || d->queued == 0) {
    if (d->queued == 0) d->head = d->tail = d->used = 0;
    if (d->cap - d->tail >= need) return d->ring + d->tail;
    /* Not enough contiguous room before the end: wrap if the start has it. */
    if (d->head >= need) {
      if (d->cap - d->tail >= sizeof(struct rec)) ((struct rec *)(d->ring + d->tail))->len = 0;
      d->used += d->cap - d->tail;
      d->tail = 0;
      return d->ring;
    }
    return NULL;
  }
  return (d->head - d->tail >= need) ? d->ring + d->tail : NULL;
}

static void ring_commit(struct dir *d, uint32_t len, int64_t release) {
  struct rec *r = (struct rec *)(d->ring + d->tail);
  r->len = len;
  r->release_ns = release;
  size_t sz = (sizeof(struct rec) + len + 7u) & ~(size_t)7u;
  d->tail += sz;
  d->used += sz;
  if (d->tail == d->cap) d->tail = 0;
  d->queued++;
  if (d->queued > d->queued_max) d->queued_max = d->queued;
}

static struct rec *ring_head(struct dir *d) {
  if (d->queued == 0) return NULL;
  if (d->cap - d->head < sizeof(struct rec) || ((struct rec *)(d->ring + d->head))->len == 0) {
    d->used -= d->cap - d->head;
    d->head = 0;
  }
  return (struct rec *)(d->ring + d->head);
}

static void ring_pop(struct dir *d) {
  struct rec *r = (struct rec *)(d->ring + d->head);
  size_t sz = (sizeof(struct rec) + r->len + 7u) & ~(size_t)7u;
  d->head += sz;
  d->used -= sz;
  if (d->head == d->cap) d->head = 0;
  d->queued--;
}

static uint8_t scratch[MAX_PACKET];

/* Read what the tun has (up to a batch), stamping each packet with `stamp` (0: the time read). */
static void drain_tun(struct dir *d, int64_t stamp) {
  for (int i = 0; i < READ_BATCH; i++) {
    uint8_t *slot = ring_reserve(d);
    uint8_t *buf = slot ? slot + sizeof(struct rec) : scratch;
    ssize_t n = read(d->fd, buf, MAX_PACKET);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      die("read %s: %s", d->dev, strerror(errno));
    }
    if (n == 0) return;
    int64_t t = stamp ? stamp : now_ns();
    if (!slot) {
      d->drops++;
      continue;
    }
    d->packets++;
    d->bytes += (uint64_t)n > VNET_HDR_LEN ? (uint64_t)n - VNET_HDR_LEN : 0;
    ring_commit(d, (uint32_t)n, release_time(d, t));
  }
}

/* Write every packet that is due; returns the next release time or INT64_MAX. */
static int64_t release_due(struct dir *d) {
  for (;;) {
    struct rec *r = ring_head(d);
    if (!r) return INT64_MAX;
    int64_t t = now_ns();
    if (r->release_ns > t + DUE_SLACK_NS) return r->release_ns;
    int64_t late = t - r->release_ns;
    if (late > d->late_max_ns) d->late_max_ns = late;
    if (late > 1000000) d->late_over_1ms++;
    ssize_t n = write(d->fd, (uint8_t *)r + sizeof(struct rec), r->len);
    if (n < 0 && errno != EAGAIN && errno != EINTR) d->write_errors++;
    else if (n < 0) d->drops++;
    ring_pop(d);
  }
}

static int open_tun(const char *name, char *out) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) die("open /dev/net/tun: %s", strerror(errno));
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  /* With a virtio-net header and offloads, TCP's GSO super-packets and checksum-offloaded packets
   * come through whole (one read and one write for up to 64 KiB) and go back as they came. */
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR;
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) die("TUNSETIFF %s: %s", name, strerror(errno));
  snprintf(out, IFNAMSIZ, "%s", ifr.ifr_name);
  int hdr = VNET_HDR_LEN;
  if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) die("TUNSETVNETHDRSZ %s: %s", name, strerror(errno));
  unsigned long offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
#if defined(TUN_F_USO4) && defined(TUN_F_USO6)
  if (ioctl(fd, TUNSETOFFLOAD, offloads | TUN_F_USO4 | TUN_F_USO6) == 0) offloads = 0;
#endif
  if (offloads && ioctl(fd, TUNSETOFFLOAD, offloads) < 0) die("TUNSETOFFLOAD %s: %s", name, strerror(errno));
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) die("socket: %s", strerror(errno));
  /* A deep device queue: a burst handed over by tc must not be dropped before we read it. */
  ifr.ifr_qlen = 4096;
  if (ioctl(s, SIOCSIFTXQLEN, &ifr) < 0) die("SIOCSIFTXQLEN %s: %s", name, strerror(errno));
  /* No IPv6 link-local address on the tun: the node's own MLD/RS would otherwise loop through us. */
  char path[96];
  snprintf(path, sizeof path, "/proc/sys/net/ipv6/conf/%s/addr_gen_mode", out);
  int gm = open(path, O_WRONLY | O_CLOEXEC);
  if (gm >= 0) {
    if (write(gm, "1", 1) != 1) fprintf(stderr, "wanbraid-delay: %s: %s\n", path, strerror(errno));
    close(gm);
  }
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) die("SIOCGIFFLAGS %s: %s", name, strerror(errno));
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) die("SIOCSIFFLAGS %s: %s", name, strerror(errno));
  close(s);
  return fd;
}

/* "D,J,S,E" in microseconds; returns 0 on success. */
static int parse_params(const char *s, struct params *p) {
  long long v[4] = {0, 0, 0, 0};
  int n = 0;
  const char *c = s;
  while (n < 4) {
    char *end;
    errno = 0;
    long long x = strtoll(c, &end, 10);
    if (end == c || errno || x < 0 || x > (n == 3 ? MAX_INTERVAL_US : MAX_SETTING_US)) return -1;
    v[n++] = x;
    if (*end == '\0' || *end == ' ' || *end == '\n' || *end == '\r') break;
    if (*end != ',') return -1;
    c = end + 1;
  }
  if (v[1] > v[0]) return -1; /* jitter never makes a delay negative */
  if ((v[2] > 0) != (v[3] > 0)) return -1;
  p->delay_ns = v[0] * 1000;
  p->jitter_ns = v[1] * 1000;
  p->stall_ns = v[2] * 1000;
  p->stall_every_ns = v[3] * 1000;
  return 0;
}

static struct dir dirs[2];

static int dir_json(char *out, size_t cap, const struct dir *d) {
  return snprintf(out, cap,
                  "\"%s\":{\"dev\":\"%s\",\"delay_us\":%lld,\"jitter_us\":%lld,\"stall_us\":%lld,\"stall_every_us\":%lld,"
                  "\"packets\":%llu,\"bytes\":%llu,\"drops\":%llu,\"write_errors\":%llu,\"queued\":%llu,\"queued_max\":%llu,"
                  "\"late_max_us\":%lld,\"late_over_1ms\":%llu}",
                  d->name, d->dev, (long long)(d->p.delay_ns / 1000), (long long)(d->p.jitter_ns / 1000), (long long)(d->p.stall_ns / 1000),
                  (long long)(d->p.stall_every_ns / 1000), (unsigned long long)d->packets, (unsigned long long)d->bytes,
                  (unsigned long long)d->drops, (unsigned long long)d->write_errors, (unsigned long long)d->queued,
                  (unsigned long long)d->queued_max, (long long)(d->late_max_ns / 1000), (unsigned long long)d->late_over_1ms);
}

static void state_json(char *out, size_t cap) {
  char a[512], b[512];
  dir_json(a, sizeof a, &dirs[0]);
  dir_json(b, sizeof b, &dirs[1]);
  snprintf(out, cap, "{\"ok\":true,\"pid\":%d,%s,%s}\n", (int)getpid(), a, b);
}

struct client {
  int fd;
  size_t len;
  char buf[256];
};
static struct client clients[MAX_CLIENTS];
static int running = 1;
/* `quit`: stop once every held packet is out (tc no longer hands us new ones by then). */
static int draining = 0;

static void reply(int fd, const char *text) {
  size_t len = strlen(text);
  ssize_t n = write(fd, text, len); /* small, into an empty socket buffer: written whole */
  (void)n;
}

/* One request line; returns after answering. */
static void handle_request(int fd, char *line) {
  char out[1400];
  if (strcmp(line, "get") == 0) {
    state_json(out, sizeof out);
    reply(fd, out);
    return;
  }
  if (strcmp(line, "quit") == 0) {
    reply(fd, "{\"ok\":true}\n");
    draining = 1;
    return;
  }
  if (strncmp(line, "set ", 4) == 0) {
    struct params np[2] = {dirs[0].p, dirs[1].p};
    int seen[2] = {0, 0};
    char *save = NULL;
    for (char *tok = strtok_r(line + 4, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
      int k = strncmp(tok, "up=", 3) == 0 ? 0 : strncmp(tok, "down=", 5) == 0 ? 1 : -1;
      if (k < 0 || seen[k] || parse_params(tok + (k == 0 ? 3 : 5), &np[k]) < 0) {
        reply(fd, "{\"ok\":false,\"error\":\"bad set: expected set up=D,J,S,E down=D,J,S,E (microseconds, J <= D, S and E both 0 or both > 0)\"}\n");
        return;
      }
      seen[k] = 1;
    }
    int64_t t = now_ns();
    for (int k = 0; k < 2; k++)
      if (seen[k]) set_params(&dirs[k], &np[k], t);
    state_json(out, sizeof out);
    reply(fd, out);
    return;
  }
  reply(fd, "{\"ok\":false,\"error\":\"unknown request (get, set, quit)\"}\n");
}

static void usage(void) {
  fputs("usage: wanbraid-delay --up-dev NAME --down-dev NAME --control PATH [--up D,J,S,E] [--down D,J,S,E] [--ring-bytes N] [--seed N] [--rt PRIO]\n", stderr);
  exit(2);
}

int main(int argc, char **argv) {
  const char *up_dev = NULL, *down_dev = NULL, *control = NULL;
  struct params p[2];
  memset(p, 0, sizeof p);
  size_t ring_bytes = 32u << 20;
  uint64_t seed = 0;
  int rt = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) usage();
    if (strcmp(a, "--up-dev") == 0) up_dev = v;
    else if (strcmp(a, "--down-dev") == 0) down_dev = v;
    else if (strcmp(a, "--control") == 0) control = v;
    else if (strcmp(a, "--up") == 0) {
      if (parse_params(v, &p[0]) < 0) die("--up: \"%s\" is not D,J,S,E in microseconds (J <= D)", v);
    } else if (strcmp(a, "--down") == 0) {
      if (parse_params(v, &p[1]) < 0) die("--down: \"%s\" is not D,J,S,E in microseconds (J <= D)", v);
    } else if (strcmp(a, "--ring-bytes") == 0) {
      char *end;
      unsigned long long x = strtoull(v, &end, 10);
      if (*end || x < 4 * MAX_PACKET || x > (1ULL << 32)) die("--ring-bytes: %s is not from %u to 4 GiB", v, 4 * MAX_PACKET);
      ring_bytes = (size_t)x & ~(size_t)7u;
    } else if (strcmp(a, "--rt") == 0) {
      rt = atoi(v);
      if (rt < 0 || rt > 99) die("--rt: %s is not a SCHED_FIFO priority from 0 (off) to 99", v);
    } else if (strcmp(a, "--seed") == 0) {
      seed = strtoull(v, NULL, 10);
    } else
      usage();
    i++;
  }
  if (!up_dev || !down_dev || !control) usage();
  if (strlen(up_dev) >= IFNAMSIZ || strlen(down_dev) >= IFNAMSIZ) die("device names are at most %d characters", IFNAMSIZ - 1);
  if (seed == 0 && getrandom(&seed, sizeof seed, 0) != sizeof seed) seed = (uint64_t)now_ns();
  rng_state = seed | 1;

  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  if (rt > 0) {
    /* Real-time so that a busy machine does not delay releases: the work per wake is bounded
     * (READ_BATCH packets per device) and the kernel's RT throttling still applies. */
    struct sched_param sp = {.sched_priority = rt};
    if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0) fprintf(stderr, "wanbraid-delay: SCHED_FIFO %d: %s (running unprioritised)\n", rt, strerror(errno));
  }
  signal(SIGPIPE, SIG_IGN);

  int64_t t0 = now_ns();
  const char *names[2] = {"up", "down"};
  const char *devs[2] = {up_dev, down_dev};
  for (int k = 0; k < 2; k++) {
    struct dir *d = &dirs[k];
    d->name = names[k];
    d->ring = malloc(ring_bytes);
    if (!d->ring) die("cannot allocate %zu bytes", ring_bytes);
    d->cap = ring_bytes;
    d->stall_end = INT64_MIN;
    d->last_release = INT64_MIN;
    set_params(d, &p[k], t0);
    d->fd = open_tun(devs[k], d->dev);
  }

  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (lfd < 0) die("socket: %s", strerror(errno));
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (strlen(control) >= sizeof sa.sun_path) die("--control: path longer than %zu bytes", sizeof sa.sun_path - 1);
  strcpy(sa.sun_path, control);
  unlink(control);
  mode_t old = umask(077);
  if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind %s: %s", control, strerror(errno));
  umask(old);
  if (listen(lfd, 8) < 0) die("listen: %s", strerror(errno));

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  /* Two epoll sets: `all` also watches the tun devices, `quiet` only the rest; waiting on one or
   * the other (no epoll_ctl per cycle) is how arrivals are left unwatched near a due release.
   * Release times are epoll_pwait2 timeouts (nanoseconds), so there is no timer to re-arm. */
  int ep_all = epoll_create1(EPOLL_CLOEXEC);
  int ep_quiet = epoll_create1(EPOLL_CLOEXEC);
  if (sfd < 0 || ep_all < 0 || ep_quiet < 0) die("signalfd/epoll: %s", strerror(errno));

  /* epoll data: 0 up tun, 1 down tun, 3 listen, 4 signals, 16+k client k */
  struct epoll_event ev;
  int fds[4] = {dirs[0].fd, dirs[1].fd, lfd, sfd};
  uint64_t tags[4] = {0, 1, 3, 4};
  for (int k = 0; k < 4; k++) {
    ev.events = EPOLLIN;
    ev.data.u64 = tags[k];
    if (epoll_ctl(ep_all, EPOLL_CTL_ADD, fds[k], &ev) < 0) die("epoll_ctl: %s", strerror(errno));
    if (k >= 2 && epoll_ctl(ep_quiet, EPOLL_CTL_ADD, fds[k], &ev) < 0) die("epoll_ctl: %s", strerror(errno));
  }
  for (int k = 0; k < MAX_CLIENTS; k++) clients[k].fd = -1;

  fprintf(stderr, "wanbraid-delay: ready, %s (up) and %s (down), control %s\n", dirs[0].dev, dirs[1].dev, control);
  int64_t next = INT64_MAX;      /* the earliest release pending */
  int64_t quiet_since = 0;       /* arrivals not watched since then (0: watched) */
  while (running && !(draining && dirs[0].queued == 0 && dirs[1].queued == 0)) {
    struct epoll_event evs[16];
    struct timespec timeout, *tp = NULL;
    if (next != INT64_MAX) {
      int64_t wait = next - now_ns();
      if (wait < 0) wait = 0;
      timeout.tv_sec = wait / 1000000000LL;
      timeout.tv_nsec = wait % 1000000000LL;
      tp = &timeout;
    }
    int n = epoll_pwait2(quiet_since ? ep_quiet : ep_all, evs, 16, tp, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_pwait2: %s", strerror(errno));
    }
    if (quiet_since) {
      int64_t t = now_ns();
      for (int k = 0; k < 2; k++) drain_tun(&dirs[k], quiet_since + (t - quiet_since) / 2);
      quiet_since = t;
    }
    for (int i = 0; i < n; i++) {
      uint64_t tag = evs[i].data.u64;
      if (tag <= 1) drain_tun(&dirs[tag], 0);
      else if (tag == 3) {
        int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) continue;
        int slot = -1;
        for (int k = 0; k < MAX_CLIENTS; k++)
          if (clients[k].fd < 0) slot = k;
        if (slot < 0) {
          close(c);
          continue;
        }
        clients[slot].fd = c;
        clients[slot].len = 0;
        ev.events = EPOLLIN;
        ev.data.u64 = 16u + (uint64_t)slot;
        if (epoll_ctl(ep_all, EPOLL_CTL_ADD, c, &ev) < 0 || epoll_ctl(ep_quiet, EPOLL_CTL_ADD, c, &ev) < 0) {
          close(c);
          clients[slot].fd = -1;
        }
      } else if (tag == 4) {
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == sizeof si) running = 0;
      } else if (tag >= 16 && tag < 16 + MAX_CLIENTS) {
        struct client *c = &clients[tag - 16];
        if (c->fd < 0) continue;
        ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
        if (r > 0) c->len += (size_t)r;
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl) {
          *nl = '\0';
          handle_request(c->fd, c->buf);
        } else if (r > 0 && c->len < sizeof c->buf - 1) {
          continue;
        } else if (r < 0 && errno == EAGAIN) {
          continue;
        } else if (r != 0 || c->len > 0) {
          reply(c->fd, "{\"ok\":false,\"error\":\"request too long or not ended by a newline\"}\n");
        }
        close(c->fd); /* leaves both epoll sets */
        c->fd = -1;
      }
    }
    next = INT64_MAX;
    for (int k = 0; k < 2; k++) {
      int64_t r = release_due(&dirs[k]);
      if (r < next) next = r;
    }
    /* Watch arrivals only when no release is due soon. */
    int64_t t = now_ns();
    if (next != INT64_MAX && next - t < COALESCE_NS) {
      if (!quiet_since) quiet_since = t;
    } else {
      quiet_since = 0;
    }
  }
  /* The socket file goes only after `quit`: one left behind tells the lab that tc may still
   * steer packets toward tun devices that are gone (delay-element.ts then removes the steering). */
  /* Close the tun devices first (a non-persistent tun is unregistered on close), so that once the
   * socket file is gone the devices are too. */
  for (int k = 0; k < 2; k++) close(dirs[k].fd);
  if (draining) unlink(control);
  fprintf(stderr, "wanbraid-delay: stopped\n");
  return 0;
}
