/**
 * Where the user-space time of one plain NTP reply goes, in process: the
 * server's own code path per request (recvmmsg batch, control messages,
 * access check, client log, reply written in place, sendmmsg), without the
 * poller and without a second process. A client socket in this process sends
 * `--batch` requests with one sendmmsg, the server socket
 * ({@link NtpServerSocket.receiveBatch}) receives and answers them, the client
 * drains the replies; `--n` requests in all. The server's figures are the
 * loop's minus the same loop's without the server (the client sending to a
 * socket it drains itself): the wall time per request of the fastest slice
 * of 500 batches (the least disturbed by other processes; the kernel's work
 * is in it too, the same for every version of our code), and the user CPU
 * time per request (getrusage through node:process: the kernel's work goes
 * to system time; sampled by the scheduler's tick, so it varies by ~10%).
 * `--json` prints one JSON line.
 *
 * Usage: `./denow run -A bench/server_cost.ts [--n 2000000] [--batch 32] [--json]`
 *
 * @example
 * ```sh
 * ./denow run -A bench/server_cost.ts --n 500000
 * ```
 * @module
 */
import { encodeSockaddr } from "../ffi/libc.ts";
import { L } from "../ffi/layout.ts";
import { MsgArena } from "../ffi/msg_arena.ts";
import { AddressFilter } from "../lib/ntp/addrfilt.ts";
import { ClientLog } from "../lib/ntp/clientlog.ts";
import { NtpServer, unsynchronisedReference } from "../lib/ntp/server.ts";
import { NtpServerSocket } from "../lib/io/ntp_server.ts";
import { UdpSocket } from "../lib/io/udp.ts";
import { realNow } from "../lib/io/realtime.ts";
import process from "node:process";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}
const N = arg("--n", 2_000_000);
const BATCH = Math.max(1, Math.min(64, arg("--batch", 32)));
/** Rounds (batches) per timed slice. */
const SLICE = 500;

// The server as bench/server_runner.ts sets it up (and the daemon, for a plain reply).
const reference = unsynchronisedReference(-25);
reference.local = { stratum: 1, distance: 1, orphan: false };
reference.localSince = realNow();
const clientLog = new ClientLog({ seed: 1, random: Math.random });
const filter = AddressFilter.fromRules([{ allow: true, all: false, subnet: "127.0.0.0/8" }]);
const server = new NtpServer({ reference, clientLog, filter });
const sock = NtpServerSocket.open(server, { family: "ipv4", address: "127.0.0.1", port: 0 });
const to = encodeSockaddr(sock.localAddress());

/** A plain client socket (no time stamps, no pktinfo: the client's own share stays small). */
const client = UdpSocket.open({
  family: "ipv4",
  address: "127.0.0.1",
  port: 0,
  timestamping: false,
  batch: 64,
});
const sink = UdpSocket.open({
  family: "ipv4",
  address: "127.0.0.1",
  port: 0,
  timestamping: false,
  batch: 64,
});
const tx = new MsgArena({ batch: 64, packetSize: 48 });
const request = new Uint8Array(48);
request[0] = 0x23; // v4, client. RFC 5905 §7.3
request[2] = 6;
request[3] = 0xe9;

const PLAIN = { txTimestamp: false, fromLocal: false } as const;

/** Sends BATCH requests to `dest` with one sendmmsg. */
function send(dest: Uint8Array): void {
  for (let i = 0; i < BATCH; i++) {
    request[47] = i;
    tx.stage(i, request, dest);
    tx.queueReply(i, 48, PLAIN);
  }
  if (tx.flushReplies(client.fd) !== BATCH) throw new Error("client sendmmsg");
}

/** Drains `s` (the client's replies, or the sink's requests); returns the datagrams read. */
function drain(s: UdpSocket): number {
  let got = 0;
  for (;;) {
    const n = s.arena.recv(s.fd, L.MSG_DONTWAIT);
    if (n <= 0) return got;
    got += n;
  }
}

/**
 * User and system CPU µs per request over `rounds` rounds of `round()`, and
 * the wall µs per request of the fastest and the median slice of `SLICE`
 * rounds (the fastest is the least disturbed by other processes).
 */
function measure(rounds: number, round: () => void) {
  for (let i = 0; i < Math.min(rounds, 2000); i++) round(); // warm up (JIT)
  const slices: number[] = [];
  const c0 = process.cpuUsage();
  for (let done = 0; done < rounds; done += SLICE) {
    const t0 = performance.now();
    for (let i = 0; i < SLICE; i++) round();
    slices.push(((performance.now() - t0) * 1000) / (SLICE * BATCH));
  }
  const c = process.cpuUsage(c0);
  const k = 1 / (slices.length * SLICE * BATCH);
  slices.sort((a, b) => a - b);
  return {
    user: c.user * k,
    system: c.system * k,
    wallMin: slices[0]!,
    wallMedian: slices[slices.length >> 1]!,
  };
}

const rounds = Math.ceil(N / BATCH);
const sinkTo = encodeSockaddr(sink.localAddress());
const alone = measure(rounds, () => {
  send(sinkTo);
  if (drain(sink) !== BATCH) throw new Error("sink lost requests");
});
let lost = 0;
const served = measure(rounds, () => {
  send(to);
  if (sock.receiveBatch() !== BATCH) throw new Error("server batch");
  lost += BATCH - drain(client);
});
await sock.close();
await client.close();
await sink.close();

const figures = {
  batch: BATCH,
  requests: rounds * BATCH,
  serverWallMinUs: served.wallMin - alone.wallMin,
  serverUserUs: served.user - alone.user,
  wallMinUs: served.wallMin,
  wallMedianUs: served.wallMedian,
  userUs: served.user,
  systemUs: served.system,
  clientAloneWallMinUs: alone.wallMin,
  clientAloneUserUs: alone.user,
  lost,
};
if (Deno.args.includes("--json")) {
  console.log(JSON.stringify(figures));
} else {
  const f = (x: number) => x.toFixed(3).padStart(7);
  console.log(
    `NTP server path in process, ${figures.requests} requests in batches of ${BATCH}, ` +
      `µs per request (the server's: the loop's minus the client's alone):`,
  );
  console.log(
    `  server, wall of the fastest slice ${f(figures.serverWallMinUs)}   ` +
      `user CPU ${f(figures.serverUserUs)}`,
  );
  console.log(
    `  loop: wall fastest ${f(served.wallMin)}, median ${f(served.wallMedian)}; ` +
      `user ${f(served.user)}, system ${f(served.system)}`,
  );
  console.log(
    `  client alone: wall fastest ${f(alone.wallMin)}, median ${f(alone.wallMedian)}; ` +
      `user ${f(alone.user)}, system ${f(alone.system)}`,
  );
  if (lost > 0) console.log(`  (${lost} replies not seen by the client)`);
}
