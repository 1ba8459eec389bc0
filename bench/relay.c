/*
 * Impairing UDP relay on loopback for bench/relay.ts (written for horae's
 * bench). Usage:
 *
 *   relay SERVER_PORT SEED UP_BASE UP_JITTER UP_SPIKE_P UP_SPIKE UP_LOSS \
 *         DOWN_BASE DOWN_JITTER DOWN_SPIKE_P DOWN_SPIKE DOWN_LOSS
 *
 * (seconds and probabilities). It listens on 127.0.0.1 on an ephemeral port,
 * prints "port N" on stdout, and forwards every datagram from a client to
 * 127.0.0.1:SERVER_PORT through ONE upstream socket opened at start (so
 * nothing is set up on the path of a request, whatever source port the
 * client uses), and every reply back to the client whose request carried the
 * reply's origin timestamp. Each datagram is held for base + exponential
 * jitter (+ spike with probability p), or dropped with probability loss,
 * drawn from a xorshift64* generator seeded with SEED (one stream per
 * direction, every variate always drawn). Delays count from the kernel's
 * receive timestamp (SO_TIMESTAMPNS); the relay sleeps in ppoll() (timer
 * slack 1 ns, SCHED_FIFO when permitted) until 0.2 ms before a datagram is
 * due and spins the rest, and records its own lateness (send time minus due time) per direction. On SIGTERM or
 * SIGINT it prints one JSON line with those statistics and exits. Loopback
 * only; runs at most 600 s.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXQ 4096
#define MAXMAP 1024
#define PKT 1024
/* Seconds before a due time at which the relay stops sleeping and spins. */
#define SPIN 0.0002

struct dir {
  double base, jitter, spike_p, spike, loss;
  uint64_t rng;
  double late_sum, late_max;
  long late_n;
};

struct item {
  int used;
  int up; /* 1: to the server, 0: to a client */
  double due;
  struct sockaddr_in to;
  size_t len;
  unsigned char data[PKT];
};

struct map {
  int used;
  unsigned char key[8];
  struct sockaddr_in client;
};

static volatile sig_atomic_t stop;
static struct item q[MAXQ];
static struct map m[MAXMAP];
static int mnext;

static void on_signal(int s) {
  (void)s;
  stop = 1;
}

/* Whole second at start: times are kept relative to it, so a double holds them to the ns. */
static time_t epoch;

static double seconds(const struct timespec *ts) {
  return (double)(ts->tv_sec - epoch) + ts->tv_nsec * 1e-9;
}

static double now_real(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return seconds(&ts);
}

static double uniform(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return ((x * 0x2545F4914F6CDD1DULL) >> 11) * (1.0 / 9007199254740992.0);
}

/* Delay in seconds, or -1 when the datagram is lost. */
static double draw(struct dir *d) {
  int lost = uniform(&d->rng) < d->loss;
  int spike = uniform(&d->rng) < d->spike_p;
  double u = uniform(&d->rng);
  double j = d->jitter > 0 ? -d->jitter * log(1.0 - u) : 0;
  return lost ? -1 : d->base + j + (spike ? d->spike : 0);
}

static int open_socket(void) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return -1;
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) return -1;
  return fd;
}

/* Receives one datagram; its kernel receive time goes to *rx. Returns its length or -1. */
static ssize_t receive(int fd, unsigned char *buf, struct sockaddr_in *from, double *rx) {
  char ctrl[256];
  struct iovec iov = {buf, PKT};
  struct msghdr msg = {0};
  msg.msg_name = from;
  msg.msg_namelen = sizeof *from;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctrl;
  msg.msg_controllen = sizeof ctrl;
  ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
  if (n < 0) return -1;
  *rx = now_real();
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      struct timespec ts;
      memcpy(&ts, CMSG_DATA(c), sizeof ts);
      *rx = seconds(&ts);
    }
  }
  return n;
}

static void enqueue(int up, double due, struct sockaddr_in *to, unsigned char *data, size_t len) {
  for (int i = 0; i < MAXQ; i++) {
    if (!q[i].used) {
      q[i].used = 1;
      q[i].up = up;
      q[i].due = due;
      q[i].to = *to;
      q[i].len = len;
      memcpy(q[i].data, data, len);
      return;
    }
  }
}

int main(int argc, char **argv) {
  if (argc != 13) {
    fprintf(stderr, "usage: relay SERVER_PORT SEED UP(base jitter spike_p spike loss) DOWN(...)\n");
    return 2;
  }
  struct timespec start;
  clock_gettime(CLOCK_REALTIME, &start);
  epoch = start.tv_sec;
  int server_port = atoi(argv[1]);
  uint64_t seed = strtoull(argv[2], 0, 10);
  struct dir dirs[2];
  memset(dirs, 0, sizeof dirs);
  for (int k = 0; k < 2; k++) {
    dirs[k].base = atof(argv[3 + 5 * k]);
    dirs[k].jitter = atof(argv[4 + 5 * k]);
    dirs[k].spike_p = atof(argv[5 + 5 * k]);
    dirs[k].spike = atof(argv[6 + 5 * k]);
    dirs[k].loss = atof(argv[7 + 5 * k]);
    dirs[k].rng = (seed * 2 + 1 + k) * 0x9E3779B97F4A7C15ULL | 1;
  }
  struct dir *up = &dirs[0], *down = &dirs[1];
  int lfd = open_socket(), ufd = open_socket();
  if (lfd < 0 || ufd < 0) {
    perror("relay socket");
    return 1;
  }
  struct sockaddr_in la;
  socklen_t ll = sizeof la;
  getsockname(lfd, (struct sockaddr *)&la, &ll);
  struct sockaddr_in server = {0};
  server.sin_family = AF_INET;
  server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  server.sin_port = htons(server_port);
  printf("port %d\n", ntohs(la.sin_port));
  fflush(stdout);
  /* Wake-ups on time: no timer slack, and a real-time priority when allowed
     (the relay only ever spins for SPIN seconds before a send). */
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  struct sched_param sp = {.sched_priority = 10};
  int rt = sched_setscheduler(0, SCHED_FIFO, &sp) == 0;
  fprintf(stderr, "relay: port %d, real-time priority %s\n", ntohs(la.sin_port), rt ? "on" : "off");
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  double end = now_real() + 600;
  unsigned char buf[PKT];
  while (!stop && now_real() < end) {
    double next = 1e300;
    for (int i = 0; i < MAXQ; i++)
      if (q[i].used && q[i].due < next) next = q[i].due;
    double wait = next - now_real() - SPIN;
    if (wait < 0) wait = 0;
    if (wait > 0.2) wait = 0.2;
    struct timespec timeout = {(time_t)wait, (long)((wait - (time_t)wait) * 1e9)};
    struct pollfd p[2] = {{lfd, POLLIN, 0}, {ufd, POLLIN, 0}};
    int r = ppoll(p, 2, &timeout, NULL);
    if (r < 0 && errno != EINTR) break;
    for (int k = 0; k < 2; k++) {
      if (!(p[k].revents & POLLIN)) continue;
      for (;;) {
        struct sockaddr_in from;
        double rx;
        ssize_t n = receive(p[k].fd, buf, &from, &rx);
        if (n < 0) break;
        if (n < 48) continue;
        if (k == 0) {
          /* a request: remember who sent it under its transmit timestamp */
          struct map *e = &m[mnext];
          mnext = (mnext + 1) % MAXMAP;
          e->used = 1;
          memcpy(e->key, buf + 40, 8);
          e->client = from;
          double d = draw(up);
          if (d >= 0) enqueue(1, rx + d, &server, buf, n);
        } else {
          double d = draw(down);
          for (int i = 0; i < MAXMAP; i++) {
            if (m[i].used && memcmp(m[i].key, buf + 24, 8) == 0) {
              m[i].used = 0;
              if (d >= 0) enqueue(0, rx + d, &m[i].client, buf, n);
              break;
            }
          }
        }
      }
    }
    /* earliest first: spin to the due time of anything due within ~1 ms, then send */
    for (;;) {
      int i = -1;
      for (int j = 0; j < MAXQ; j++)
        if (q[j].used && (i < 0 || q[j].due < q[i].due)) i = j;
      if (i < 0 || q[i].due - now_real() > SPIN) break;
      double t;
      while ((t = now_real()) < q[i].due) {
      }
      sendto(q[i].up ? ufd : lfd, q[i].data, q[i].len, 0, (struct sockaddr *)&q[i].to,
             sizeof q[i].to);
      struct dir *d = q[i].up ? up : down;
      double late = t - q[i].due;
      d->late_sum += late;
      d->late_n++;
      if (late > d->late_max) d->late_max = late;
      q[i].used = 0;
    }
  }
  printf("{\"up\":{\"n\":%ld,\"mean\":%.9f,\"max\":%.9f},\"down\":{\"n\":%ld,\"mean\":%.9f,\"max\":%.9f}}\n",
         up->late_n, up->late_n ? up->late_sum / up->late_n : 0.0, up->late_max, down->late_n,
         down->late_n ? down->late_sum / down->late_n : 0.0, down->late_max);
  fflush(stdout);
  return 0;
}
