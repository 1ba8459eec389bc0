/**
 * NTP server benchmark: horae's server beside the real chronyd, same run.
 *
 * 1. Compiles `bench/ntpload.c` and a small many-address loader with gcc into
 *    a private temp dir.
 * 2. Starts chronyd 4.x (`local stratum 1`, `allow 127.0.0.0/8`, `-x -u root`,
 *    private chmod-700 dir) and `bench/server_runner.ts` on two loopback ports.
 * 3. Runs ntpload (closed loop, window 64, bounded by -d seconds and -n
 *    requests) against each and prints replies/s, the ratio and each server's CPU
 *    time per reply (user + system, from /proc: bench/proc_cpu.ts).
 * 4. Sends one request from each of 100 000 distinct source addresses
 *    127.x.y.z (IP_PKTINFO source selection, no binding) to each server and
 *    prints resident memory (VmRSS) of both before and after.
 *
 * Usage: `./denow run -A bench/server.ts [--seconds 4] [--daemon [--poll-http]] [--workers N]`
 *
 * `--daemon` measures the whole daemon (`bin/chronyd -x`, `local stratum 1`,
 * `httpport` open) instead of the bare server runner; `--poll-http` also
 * fetches `/metrics` and `/` every second during the load (issue 13: the
 * HTTP endpoint must not slow the NTP path).
 *
 * `--workers N` (horae only: `serverworkers N`, lib/daemon/server_workers.ts)
 * runs the daemon with N server threads and loads every server with
 * max(2, N) ntpload threads sending from distinct source addresses (`-S`: the
 * port's SO_REUSEPORT group is steered by source address); it also measures
 * the daemon with `serverworkers 1` under the same load, and prints the
 * message round trip to a worker thread and a worker's start-up time.
 *
 * @example
 * ```sh
 * ./denow run -A bench/server.ts --seconds 3
 * ```
 * @module
 */

import { cpuTimes } from "./proc_cpu.ts";

const seconds = Number(Deno.args[Deno.args.indexOf("--seconds") + 1] || "4");
const workersAt = Deno.args.indexOf("--workers");
const workers = workersAt >= 0 ? Math.max(1, Number(Deno.args[workersAt + 1]) || 1) : 0;
const daemon = Deno.args.includes("--daemon") || workers > 0;
/** ntpload threads: one source address each with --workers. */
const loaderThreads = workers > 0 ? Math.max(2, workers) : 1;
const pollHttp = daemon && Deno.args.includes("--poll-http");
const ROOT = new URL("..", import.meta.url).pathname;

/** Sends one NTP request from each of N source addresses 127.1.0.0 + i (loopback only). */
const MANYADDR_C = String.raw`
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int port = atoi(argv[1]), n = atoi(argv[2]);
  if (n > 1000000) n = 1000000;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in dst = {0};
  dst.sin_family = AF_INET; dst.sin_port = htons(port); dst.sin_addr.s_addr = htonl(0x7f000001);
  unsigned char pkt[48] = {0x23, 0, 6, 0xe9};
  char cbuf[CMSG_SPACE(sizeof(struct in_pktinfo))];
  int sent = 0;
  for (int i = 0; i < n; i++) {
    struct iovec iov = {pkt, 48};
    struct msghdr m = {0};
    m.msg_name = &dst; m.msg_namelen = sizeof dst; m.msg_iov = &iov; m.msg_iovlen = 1;
    m.msg_control = cbuf; m.msg_controllen = sizeof cbuf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = IPPROTO_IP; c->cmsg_type = IP_PKTINFO; c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
    struct in_pktinfo *pi = (struct in_pktinfo *)CMSG_DATA(c);
    memset(pi, 0, sizeof *pi);
    pi->ipi_spec_dst.s_addr = htonl(0x7f010000u + (unsigned)i); /* 127.1.0.0 + i */
    memcpy(pkt + 40, &i, 4);
    if (sendmsg(fd, &m, 0) == 48) sent++;
    if ((i & 255) == 255) { struct timespec ts = {0, 2000000}; nanosleep(&ts, NULL); }
  }
  printf("%d\n", sent);
  return 0;
}
`;

/**
 * `--workers N`: the same daemon with `serverworkers 1` under the same load
 * (`h` was measured with N), then a worker thread's message round trip and
 * start-up time, measured in this process with the daemon's worker module.
 */
async function compareWorkersWith(
  load: (port: number) => Promise<number>,
  startDaemon: (port: number, n: number, http: number, name: string) => Promise<Deno.ChildProcess>,
  c: number,
  h: number,
  port: number,
): Promise<void> {
  const one = await startDaemon(port, 1, port + 1, "horae1");
  let h1 = 0;
  try {
    h1 = Math.max(await load(port), await load(port));
  } finally {
    one.kill("SIGTERM");
    await one.status;
  }
  console.log(
    `  same load, ${loaderThreads} source addresses: horae serverworkers 1 ${h1.toFixed(0)} ` +
      `(ratio ${(h1 / c).toFixed(2)})   serverworkers ${workers} ${h.toFixed(0)} ` +
      `(ratio ${(h / c).toFixed(2)}, ${(h / h1).toFixed(2)}x serverworkers 1)   ` +
      `cores here: ${navigator.hardwareConcurrency}`,
  );
  const t0 = performance.now();
  const w = new Worker(new URL("../lib/daemon/server_worker.ts", import.meta.url), {
    type: "module",
  });
  const rtts: number[] = [];
  try {
    for (let id = 1; id <= 1001; id++) {
      const s = performance.now();
      await new Promise<void>((resolve) => {
        w.onmessage = (e) => {
          if (e.data?.type === "pong" && e.data.id === id) resolve();
        };
        w.postMessage({ type: "ping", id });
      });
      rtts.push(performance.now() - s);
      if (id === 1) {
        console.log(
          `  worker thread: first message answered ${(performance.now() - t0).toFixed(1)} ms ` +
            "after new Worker() (module load of the server code)",
        );
      }
    }
  } finally {
    w.terminate();
  }
  rtts.shift();
  rtts.sort((a, b) => a - b);
  const q = (p: number) => (rtts[Math.floor(p * (rtts.length - 1))]! * 1000).toFixed(0);
  console.log(
    `  postMessage round trip to a worker (reference updates, rules): median ${q(0.5)} µs, ` +
      `p99 ${q(0.99)} µs (1000 pings, idle worker)`,
  );
}

async function run(cmd: string, args: string[]): Promise<string> {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const out = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
  if (!o.success) throw new Error(`${cmd} failed: ${out}`);
  return out;
}

/** Replies/s of one loader run and the server's CPU per reply (µs; NaN when not measured). */
interface LoadResult {
  rate: number;
  userUs: number;
  systemUs: number;
}

function rssKiB(pid: number): number {
  const s = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(s.match(/VmRSS:\s+(\d+)/)?.[1] ?? NaN);
}

function randomPort(): number {
  return 20000 + Math.floor(Math.random() * 30000);
}

const dir = await Deno.makeTempDir({ prefix: "horae-bench-server-" });
Deno.chmodSync(dir, 0o700);
let chronydPid = 0;
let horae: Deno.ChildProcess | null = null;
try {
  await run("gcc", ["-O2", "-Wall", "-pthread", "-o", `${dir}/ntpload`, `${ROOT}bench/ntpload.c`]);
  Deno.writeTextFileSync(`${dir}/manyaddr.c`, MANYADDR_C);
  await run("gcc", ["-O2", "-o", `${dir}/manyaddr`, `${dir}/manyaddr.c`]);

  const pc = randomPort(), ph = pc + 1;
  Deno.writeTextFileSync(
    `${dir}/chrony.conf`,
    [
      `port ${pc}`,
      "bindaddress 127.0.0.1",
      "cmdport 0",
      `bindcmdaddress ${dir}/chronyd.sock`,
      `pidfile ${dir}/chronyd.pid`,
      "local stratum 1",
      "allow 127.0.0.0/8",
      "",
    ].join("\n"),
  );
  await run("chronyd", ["-x", "-u", "root", "-f", `${dir}/chrony.conf`, "-l", `${dir}/log`]);
  for (let i = 0; i < 50 && chronydPid === 0; i++) {
    try {
      chronydPid = Number(Deno.readTextFileSync(`${dir}/chronyd.pid`).trim());
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (!chronydPid) throw new Error("chronyd did not start");

  const hp = ph + 1;
  /** Starts `bin/chronyd -x` serving `port` with `serverworkers n` (0: not set). */
  const startDaemon = async (port: number, n: number, http: number, name: string) => {
    Deno.writeTextFileSync(
      `${dir}/${name}.conf`,
      [
        `port ${port}`,
        "bindaddress 127.0.0.1",
        "cmdport 0",
        `bindcmdaddress ${dir}/${name}.sock`,
        `pidfile ${dir}/${name}.pid`,
        "local stratum 1",
        "allow 127.0.0.0/8",
        `httpport ${http}`,
        "bindhttpaddress 127.0.0.1",
        ...(n > 0 ? [`serverworkers ${n}`] : []),
        "",
      ].join("\n"),
    );
    const child = new Deno.Command(`${ROOT}bin/chronyd`, {
      args: ["-d", "-x", "-4", "-f", `${dir}/${name}.conf`],
      stdout: "null",
      stderr: "null",
    }).spawn();
    for (let i = 0;; i++) {
      const ok = await fetch(`http://127.0.0.1:${http}/api/v1/activity`).then(
        async (r) => (await r.body?.cancel(), r.ok),
        () => false,
      );
      if (ok) break;
      if (i > 100) throw new Error("horae did not start");
      await new Promise((r) => setTimeout(r, 100));
    }
    return child;
  };
  if (daemon) {
    horae = await startDaemon(ph, workers, hp, "horae");
  } else {
    horae = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}bench/server_runner.ts`, "--port", String(ph)],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = horae.stdout.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    if (!first.startsWith("READY")) throw new Error(`runner: ${first}`);
    reader.releaseLock();
    await horae.stdout.cancel();
  }
  // --poll-http: /metrics and / fetched every second while the load runs
  let polls = 0;
  const poller = pollHttp
    ? setInterval(() => {
      for (const path of ["/metrics", "/"]) {
        fetch(`http://127.0.0.1:${hp}${path}`).then((r) => r.text()).then(() => polls++, () => {});
      }
    }, 1000)
    : null;

  /** One ntpload run against `port`; with `pid`, that server's CPU per reply. */
  const measure = async (port: number, pid = 0): Promise<LoadResult> => {
    const t0 = pid ? cpuTimes(pid) : null;
    const out = await run(`${dir}/ntpload`, [
      "-p",
      String(port),
      "-d",
      String(seconds),
      "-n",
      "5000000",
      "-q",
      ...(workers > 0 ? ["-t", String(loaderThreads), "-S"] : []),
    ]);
    const rate = Number(out.match(/replies\/s=(\d+)/)?.[1] ?? NaN);
    const valid = Math.max(1, Number(out.match(/ valid=(\d+)/)?.[1] ?? NaN));
    if (t0 === null) return { rate, userUs: NaN, systemUs: NaN };
    const t1 = cpuTimes(pid);
    return {
      rate,
      userUs: ((t1.userMs - t0.userMs) * 1000) / valid,
      systemUs: ((t1.systemMs - t0.systemMs) * 1000) / valid,
    };
  };
  const load = async (port: number) => (await measure(port)).rate;
  const horaePid = horae.pid;
  const runs: { c: LoadResult; h: LoadResult }[] = [];
  for (let i = 0; i < 2; i++) { // alternate to even out noise
    runs.push({ c: await measure(pc, chronydPid), h: await measure(ph, horaePid) });
  }
  const best = (k: "c" | "h") => runs.map((r) => r[k]).sort((a, b) => b.rate - a.rate)[0]!;
  const c = best("c").rate, h = best("h").rate;
  console.log(
    `NTP replies/s on loopback (ntpload closed loop, window 64, ${seconds} s, best of 2):`,
  );
  console.log(`  chronyd ${c.toFixed(0)}   horae ${h.toFixed(0)}   ratio ${(h / c).toFixed(2)}`);
  const cpu = (k: "c" | "h") =>
    runs.map((r) => {
      const x = r[k];
      return `${(x.userUs + x.systemUs).toFixed(2)} (user ${x.userUs.toFixed(2)} + sys ${
        x.systemUs.toFixed(2)
      })`;
    }).join(", ");
  console.log(`  server CPU per reply, µs, each run: chronyd ${cpu("c")}`);
  console.log(`                                      horae   ${cpu("h")}`);
  if (daemon) {
    console.log(
      `  (horae: the whole daemon; HTTP polled: ${pollHttp ? `yes, ${polls} pages` : "no"})`,
    );
  }
  if (poller !== null) clearInterval(poller);
  if (workers > 0) await compareWorkersWith(load, startDaemon, c, h, hp + 1);

  const rc0 = rssKiB(chronydPid), rh0 = rssKiB(horae.pid);
  await run(`${dir}/manyaddr`, [String(pc), "100000"]);
  await run(`${dir}/manyaddr`, [String(ph), "100000"]);
  await new Promise((r) => setTimeout(r, 500));
  const rc1 = rssKiB(chronydPid), rh1 = rssKiB(horae.pid);
  console.log("Resident memory (VmRSS), before -> after 100000 distinct client addresses:");
  console.log(`  chronyd ${rc0} -> ${rc1} KiB   horae ${rh0} -> ${rh1} KiB`);
  console.log(
    "Where horae's time goes: per batch one recvmmsg + one sendmmsg FFI call; most of the CPU " +
      "per reply is the kernel's UDP path (system time above, as chronyd's); horae's own code " +
      "per request: bench/server_cost.ts (RSS is mostly V8, not the 0.5 MB client log).",
  );
} finally {
  if (horae !== null) {
    try {
      horae.kill("SIGTERM");
      await horae.status;
    } catch { /* already gone */ }
  }
  if (chronydPid) {
    try {
      Deno.kill(chronydPid, "SIGTERM");
    } catch { /* already gone */ }
  }
  await new Promise((r) => setTimeout(r, 300));
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
