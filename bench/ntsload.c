/*
 * ntsload: bounded NTS-authenticated NTP request generator for LOOPBACK throughput tests
 * (bench/nts.ts). The requests are prepared by the caller (NTS-KE, Authenticator) and
 * read from a file: each is a 2-byte big-endian length followed by the packet.
 * Build:  gcc -O2 -Wall -o ntsload ntsload.c
 * Usage:  ntsload -p PORT -f REQUESTS [-d SECONDS=3 (max 10)] [-w WINDOW=64]
 *   Closed loop: keeps at most WINDOW requests in flight (resending the prepared requests
 *   in turn; NTS servers keep no replay state); a 20 ms silence declares the outstanding
 *   ones lost. Prints "replies/s=N naks=N short=N".
 * A reply counts if it is longer than 48 bytes, mode 4, version 4 and stratum != 0 (an NTS
 * NAK has stratum 0). The Authenticator is checked by bench/nts.ts on a sample beforehand.
 * Safety: the destination is always 127.0.0.1.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXREQ 64
#define BATCH 32

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  int port = 0, window = 64;
  double secs = 3;
  const char *file = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "-p")) port = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "-d")) secs = atof(argv[i + 1]);
    else if (!strcmp(argv[i], "-w")) window = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "-f")) file = argv[i + 1];
  }
  if (!port || !file) { fprintf(stderr, "usage: ntsload -p PORT -f FILE [-d S] [-w W]\n"); return 2; }
  if (secs > 10) secs = 10;
  if (window < 1) window = 1;
  if (window > 1024) window = 1024;

  static unsigned char req[MAXREQ][2048];
  static size_t reqlen[MAXREQ];
  int nreq = 0;
  FILE *f = fopen(file, "rb");
  if (!f) { perror(file); return 2; }
  unsigned char lb[2];
  while (nreq < MAXREQ && fread(lb, 1, 2, f) == 2) {
    size_t n = ((size_t)lb[0] << 8) | lb[1];
    if (n > sizeof req[0] || fread(req[nreq], 1, n, f) != n) break;
    reqlen[nreq++] = n;
  }
  fclose(f);
  if (nreq == 0) { fprintf(stderr, "no requests in %s\n", file); return 2; }

  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  int buf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("socket"); return 2; }

  static unsigned char rxb[BATCH][2048];
  struct iovec txiov[BATCH], rxiov[BATCH];
  struct mmsghdr txm[BATCH], rxm[BATCH];
  memset(txm, 0, sizeof txm);
  memset(rxm, 0, sizeof rxm);
  for (int i = 0; i < BATCH; i++) {
    rxiov[i].iov_base = rxb[i]; rxiov[i].iov_len = sizeof rxb[i];
    rxm[i].msg_hdr.msg_iov = &rxiov[i]; rxm[i].msg_hdr.msg_iovlen = 1;
    txm[i].msg_hdr.msg_iov = &txiov[i]; txm[i].msg_hdr.msg_iovlen = 1;
  }

  long sent = 0, ok = 0, naks = 0, bad = 0, inflight = 0, next = 0;
  double t0 = now(), end = t0 + secs, lastrx = t0;
  while (now() < end) {
    while (inflight < window) {
      int n = window - inflight < BATCH ? window - inflight : BATCH;
      for (int i = 0; i < n; i++) {
        txiov[i].iov_base = req[next % nreq]; txiov[i].iov_len = reqlen[next % nreq];
        next++;
      }
      int s = sendmmsg(fd, txm, n, 0);
      if (s <= 0) break;
      sent += s; inflight += s;
      if (s < n) break;
    }
    int r = recvmmsg(fd, rxm, BATCH, MSG_DONTWAIT, NULL);
    if (r > 0) {
      for (int i = 0; i < r; i++) {
        unsigned len = rxm[i].msg_len;
        unsigned char *p = rxb[i];
        if (len > 48 && (p[0] & 7) == 4 && ((p[0] >> 3) & 7) == 4 && p[1] != 0) ok++;
        else if (len > 48 && p[1] == 0) naks++;
        else bad++;
      }
      inflight -= r;
      if (inflight < 0) inflight = 0;
      lastrx = now();
      continue;
    }
    if (inflight > 0 && now() - lastrx > 0.02) { inflight = 0; lastrx = now(); }
    struct pollfd pf = {fd, POLLIN, 0};
    poll(&pf, 1, 1);
  }
  double el = now() - t0;
  printf("sent=%ld replies=%ld replies/s=%.0f naks=%ld short=%ld\n", sent, ok, ok / el, naks, bad);
  return 0;
}
