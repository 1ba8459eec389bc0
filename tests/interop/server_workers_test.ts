/**
 * `serverworkers 2` (horae only): horae answers NTP from its main thread and
 * one Worker sharing the port (lib/daemon/server_workers.ts). Checked from
 * outside: ntpdig and a real chronyd 4.3 client, requests from many source
 * addresses and ports reaching both shards (the per-shard lines logged at
 * stop), `serverstats` totals, `clients` rows, `ratelimit` of one client,
 * `deny`/`allow` at run time, and a clean stop.
 */
import assert from "node:assert/strict";
import { RawClient } from "./raw_client.ts";
import { decodePacket } from "../../lib/ntp/packet.ts";
import { findF323 } from "../../lib/ntp/ef_f323.ts";
import {
  fakeServer,
  freePort,
  haveChrony,
  runCommand,
  sharedPath,
  startChronyd,
  startHorae,
} from "./harness.ts";

const NTPDIG = sharedPath("peer/ntpdig-port");
const skip = !haveChrony();

/** One mode-3 request from `source` (any port) to 127.0.0.1:port (::1 from ::1); the reply's stratum or null. */
async function ask(source: string, port: number, timeoutMs = 1500): Promise<number | null> {
  const dest = source.includes(":") ? "::1" : "127.0.0.1";
  const sock = Deno.listenDatagram({ transport: "udp", hostname: source, port: 0 });
  try {
    const req = new Uint8Array(48);
    req[0] = (4 << 3) | 3;
    const tx = crypto.getRandomValues(new Uint8Array(8));
    req.set(tx, 40);
    await sock.send(req, { transport: "udp", hostname: dest, port });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<null>((r) => timer = setTimeout(() => r(null), timeoutMs));
    const got = await Promise.race([sock.receive(), timeout]);
    clearTimeout(timer);
    if (got === null) return null;
    const [reply] = got;
    assert.equal(reply.length, 48);
    assert.equal(reply[0]! & 7, 4, "mode 4");
    assert.deepEqual([...reply.subarray(24, 32)], [...tx], "origin = our transmit");
    return reply[1]!;
  } finally {
    sock.close();
  }
}

async function chronyc(socket: string, ...args: string[]): Promise<string> {
  const r = await runCommand("/usr/bin/chronyc", ["-n", "-h", socket, ...args], {
    timeoutMs: 10_000,
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return r.stdout;
}

function field(out: string, name: string): number {
  const m = out.match(new RegExp(`${name}\\s*: (\\d+)`));
  assert.ok(m, `${name} in ${out}`);
  return Number(m[1]);
}

/** The "Server shard N: R NTP requests, D dropped" lines logged at stop. */
function shards(log: string): { received: number; dropped: number }[] {
  const out: { received: number; dropped: number }[] = [];
  for (const m of log.matchAll(/Server shard (\d+): (\d+) NTP requests, (\d+) dropped/g)) {
    out[Number(m[1])] = { received: Number(m[2]), dropped: Number(m[3]) };
  }
  return out;
}

const SOURCES = Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 1}`);
const PER_SOURCE = 3;

Deno.test({
  name: "interop: serverworkers 2 answers from both shards; serverstats, clients, deny, stop",
  ignore: skip,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const port = freePort();
    const d = await startHorae([
      `port ${port}`,
      "local stratum 3",
      "allow 127.0.0.0/8",
      "serverworkers 2",
    ]);
    let log = "", sent = 0;
    try {
      // ntpdig (ntpsec) reads it like any server
      const r = await runCommand(NTPDIG, ["127.0.0.1"], {
        timeoutMs: 15_000,
        env: { NTPPORT: String(port), PATH: Deno.env.get("PATH") ?? "" },
      });
      assert.match(r.stdout, /127\.0\.0\.1 s3 no-leap/, r.stdout + r.stderr);
      // many source addresses, a fresh source port for each request
      sent = 1; // ntpdig's
      for (let k = 0; k < PER_SOURCE; k++) {
        for (const s of SOURCES) {
          assert.equal(await ask(s, port), 3, `reply to ${s}`);
          sent++;
        }
      }
      const stats = await chronyc(d.socket, "serverstats");
      assert.equal(field(stats, "NTP packets received"), sent, stats);
      assert.equal(field(stats, "NTP packets dropped"), 0, stats);
      const clients = await chronyc(d.socket, "clients");
      for (const s of SOURCES) {
        const rows = clients.split("\n").filter((l) => l.split(/\s+/)[0] === s);
        assert.equal(rows.length, 1, `${s} once in\n${clients}`);
        const hits = Number(rows[0]!.trim().split(/\s+/)[1]);
        assert.equal(hits, s === "127.0.0.1" ? PER_SOURCE + 1 : PER_SOURCE, rows[0]);
      }
      // deny at run time reaches every shard (addresses 8-15 spread over both), allow undoes it
      await chronyc(d.socket, "deny", "127.0.0.8/29");
      const denied = SOURCES.slice(7, 15);
      let silent = false;
      for (let round = 0; round < 10 && !silent; round++) {
        const answers = await Promise.all(denied.map((s) => ask(s, port, 500)));
        silent = answers.every((a) => a === null);
      }
      assert.ok(silent, "denied sources still answered");
      assert.equal(await ask("127.0.0.1", port), 3);
      assert.equal(await ask("127.0.0.16", port), 3);
      await chronyc(d.socket, "allow", "127.0.0.8/29");
      let back = false;
      for (let round = 0; round < 10 && !back; round++) {
        const answers = await Promise.all(denied.map((s) => ask(s, port, 500)));
        back = answers.every((a) => a === 3);
      }
      assert.ok(back, "allowed sources not answered again");
      sent = field(await chronyc(d.socket, "serverstats"), "NTP packets received");
    } finally {
      log = await d.stop();
    }
    // both shards served, and they account for every request; the stop was clean
    const per = shards(log);
    assert.equal(per.length, 2, log);
    assert.ok(per[0]!.received > 0 && per[1]!.received > 0, `both shards: ${log}`);
    assert.equal(per[0]!.received + per[1]!.received, sent, log);
    assert.match(log, /chronyd exiting/);
    assert.doesNotMatch(log, /error|Uncaught|panic/i);
    assert.equal((await d.child.status).code, 0, log);
  },
});

Deno.test({
  name: "interop: serverworkers 2 rate-limits one client on one shard (all its source ports)",
  ignore: skip,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const port = freePort();
    const d = await startHorae([
      `port ${port}`,
      "local stratum 3",
      "allow 127.0.0.0/8",
      "serverworkers 2",
      "ratelimit interval 4 burst 2 leak 4",
    ]);
    const N = 40;
    let answered = 0, log = "";
    try {
      for (let i = 0; i < N; i++) if (await ask("127.0.0.5", port, 150) !== null) answered++;
      const stats = await chronyc(d.socket, "serverstats");
      assert.equal(field(stats, "NTP packets received"), N, stats);
      assert.equal(field(stats, "NTP packets dropped"), N - answered, stats);
      const row = (await chronyc(d.socket, "clients")).split("\n")
        .filter((l) => l.startsWith("127.0.0.5 "));
      assert.equal(row.length, 1);
      assert.equal(Number(row[0]!.trim().split(/\s+/)[2]), N - answered, row[0]);
    } finally {
      log = await d.stop();
    }
    // burst 2 and 1 in 16 leaked: far fewer than half answered
    assert.ok(answered >= 2 && answered <= 12, `answered ${answered} of ${N}`);
    // every port of that client reached one shard (the kernel's default hash would split them)
    const per = shards(log);
    assert.equal(per.length, 2, log);
    assert.deepEqual(per.map((p) => p.received).sort((a, b) => a - b), [0, N], log);
    assert.equal(per[0]!.dropped + per[1]!.dropped, N - answered, log);
  },
});

Deno.test({
  name: "interop: a chronyd 4.3 client (xleave, key) synchronises to horae serverworkers 2",
  ignore: skip,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const port = freePort();
    const keys = await Deno.makeTempDir({ prefix: "horae-workers-keys-" });
    const keyfile = `${keys}/keys`;
    await Deno.writeTextFile(keyfile, "1 SHA1 HEX:0123456789ABCDEF0123456789ABCDEF01234567\n");
    const d = await startHorae([
      `port ${port}`,
      "local stratum 2",
      "allow 127.0.0.0/8",
      "serverworkers 2",
      `keyfile ${keyfile}`,
    ]);
    let log = "";
    let client: Awaited<ReturnType<typeof startChronyd>> | null = null;
    try {
      // its requests come from 127.0.0.2, each from a new port
      client = await startChronyd({
        lines: [
          `server 127.0.0.1 port ${port} iburst minpoll -3 maxpoll -3 xleave key 1`,
          "bindacqaddress 127.0.0.2",
          `keyfile ${keyfile}`,
        ],
      });
      let sources = "", ntpdata = "";
      for (let i = 0; i < 60; i++) {
        sources = await chronyc(client.socket, "sources");
        ntpdata = await chronyc(client.socket, "ntpdata");
        if (/^\^\* 127\.0\.0\.1/m.test(sources) && /Interleaved\s*: Yes/.test(ntpdata)) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.match(sources, /^\^\* 127\.0\.0\.1/m, sources);
      assert.match(ntpdata, /Stratum\s*: 2/, ntpdata);
      assert.match(ntpdata, /Interleaved\s*: Yes/, ntpdata);
      assert.match(ntpdata, /Authenticated\s*: Yes/, ntpdata);
      const stats = await chronyc(d.socket, "serverstats");
      assert.ok(field(stats, "Interleaved NTP packets") > 0, stats);
      assert.ok(field(stats, "Authenticated NTP packets") > 0, stats);
    } finally {
      await client?.stop();
      log = await d.stop();
      await Deno.remove(keys, { recursive: true });
    }
    const per = shards(log);
    assert.equal(per.length, 2, log);
    // 127.0.0.2 is steered to shard 1 (the group's second socket: the worker's)
    assert.equal(per[0]!.received, 0, log);
    assert.ok(per[1]!.received > 0, log);
  },
});

Deno.test({
  name:
    "interop: serverworkers 2 under -x serves the corrected time from both shards (upstream 5 ms ahead)",
  ignore: skip,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const upstream = freePort();
    const fake = fakeServer(upstream, 0.005);
    const port = freePort();
    const d = await startHorae([
      `server 127.0.0.1 port ${upstream} iburst minpoll 0 maxpoll 0`,
      `port ${port}`,
      "bindaddress 127.0.0.1",
      "allow 127.0.0.0/8",
      "serverworkers 2",
    ]);
    // 127.0.0.1 is steered to shard 0 (the main thread), 127.0.0.2 to shard 1 (the worker)
    const clients = [new RawClient("127.0.0.1"), new RawClient("127.0.0.2")];
    let log = "";
    try {
      const median = async (c: RawClient, n: number) => {
        const xs: number[] = [];
        for (let i = 0; i < n; i++) {
          const r = await c.query(port);
          if (r && r.stratum === 2) xs.push(r.offset);
        }
        xs.sort((a, b) => a - b);
        return xs.length > 0 ? xs[Math.floor(xs.length / 2)]! : null;
      };
      // synchronised (stratum 2, its correction applied to the served time) before it is asked
      let first: number | null = null;
      for (let i = 0; i < 120 && (first === null || first < 0.003); i++) {
        first = await median(clients[0]!, 1);
        if (first === null || first < 0.003) await new Promise((r) => setTimeout(r, 250));
      }
      for (const [i, c] of clients.entries()) {
        const o = await median(c, 15);
        assert.ok(o !== null && Math.abs(o - 0.005) < 0.0015, `shard ${i} serves ${o}`);
      }
    } finally {
      for (const c of clients) await c.close();
      log = await d.stop();
      await fake.stop();
    }
    const per = shards(log);
    assert.ok(per[0]!.received > 0 && per[1]!.received >= 15, log);
  },
});

Deno.test({
  name:
    "interop: serverworkers 2 steers IPv6 by source address too (::1 to the worker), under -F 1",
  ignore: skip || !["x86_64", "aarch64"].includes(Deno.build.arch),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const port = freePort();
    // -F 1: the seccomp filter (TSYNC) covers the worker thread, which keeps serving
    const d = await startHorae(
      [`port ${port}`, "local stratum 3", "allow all", "serverworkers 2"],
      { filter: 1 },
    );
    let log = "";
    try {
      for (let i = 0; i < 4; i++) assert.equal(await ask("::1", port), 3);
      assert.equal(await ask("127.0.0.1", port), 3);
    } finally {
      log = await d.stop();
    }
    // the program folds ::1 to 1 (shard 1) and 127.0.0.1 to 0; a failed load would give 0 for both
    const per = shards(log);
    assert.deepEqual(per.map((p) => p.received), [1, 4], log);
    assert.match(log, /Loaded seccomp filter \(level 1\)/);
    assert.equal((await d.child.status).code, 0, log);
  },
});

Deno.test({
  name:
    "interop: serverworkers 2 with smoothtime and broadcast: both shards serve the smoothed time",
  ignore: skip,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const upstream = freePort();
    const fake = fakeServer(upstream, 0.005);
    const port = freePort(), bport = freePort();
    // broadcasts (main thread only) to a unicast address we listen on
    const listener = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: bport });
    const d = await startHorae([
      `server 127.0.0.1 port ${upstream} iburst minpoll 0 maxpoll 0`,
      `port ${port}`,
      "bindaddress 127.0.0.1",
      "allow 127.0.0.0/8",
      "serverworkers 2",
      "smoothtime 400 0.001",
      `broadcast 1 127.0.0.1 ${bport}`,
    ]);
    // 127.0.0.1 is steered to shard 0 (the main thread), 127.0.0.2 to shard 1 (the worker)
    const clients = [new RawClient("127.0.0.1"), new RawClient("127.0.0.2")];
    let log = "";
    try {
      // smoothing from the start: the 5 ms correction the clock gets goes into its offset
      await chronyc(d.socket, "smoothtime", "activate");
      let synced = false;
      for (let i = 0; i < 120 && !synced; i++) {
        synced = (await clients[0]!.query(port))?.stratum === 2;
        if (!synced) await new Promise((r) => setTimeout(r, 250));
      }
      assert.ok(synced, "not synchronised");
      const sm = await chronyc(d.socket, "smoothing");
      const offset = Number(sm.match(/^Offset\s*: ([-+.\de]+) seconds/m)?.[1]);
      assert.ok(offset < -0.002, `smoothing absorbed the correction: ${sm}`);
      const served: number[] = [];
      for (const [i, c] of clients.entries()) {
        const xs: number[] = [];
        for (let k = 0; k < 15; k++) {
          const r = await c.query(port);
          if (r === null) continue;
          assert.equal(r.refId, 0x7f7f01ff, `shard ${i}: smoothing's refid`);
          xs.push(r.offset);
        }
        xs.sort((a, b) => a - b);
        assert.ok(xs.length > 10, `shard ${i} answered ${xs.length}`);
        served.push(xs[Math.floor(xs.length / 2)]!);
      }
      // the clock runs 5 ms ahead now, the served time (cooked + smoothing) about as before
      for (const [i, o] of served.entries()) {
        assert.ok(Math.abs(o) < 0.0025, `shard ${i} serves ${o} (smoothed: near 0, not 5 ms)`);
      }
      assert.ok(Math.abs(served[0]! - served[1]!) < 0.001, `shards differ: ${served}`);
      // and the main thread broadcasts
      let t: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<null>((r) => t = setTimeout(() => r(null), 5000));
      const got = await Promise.race([listener.receive(), late]);
      clearTimeout(t);
      assert.ok(got !== null, "no broadcast");
      assert.equal(got[0][0]! & 7, 5, "mode 5");
    } finally {
      listener.close();
      for (const c of clients) await c.close();
      log = await d.stop();
      await fake.stop();
    }
    const per = shards(log);
    assert.ok(per[0]!.received > 0 && per[1]!.received >= 15, log);
    assert.doesNotMatch(log, /not supported yet/, log);
  },
});

/** An NTPv4 request with chronyd's F323 field from `source`; the reply's F323 (mono - rx, s; epoch). */
async function askF323(
  source: string,
  port: number,
): Promise<{ monoMinusRx: number; epoch: number } | null> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: source, port: 0 });
  try {
    const req = new Uint8Array(48 + 28);
    req[0] = 0x23; // version 4, client
    req.set(crypto.getRandomValues(new Uint8Array(8)), 40);
    req.set([0xf3, 0x23, 0x00, 0x1c, 0xf5, 0xbe, 0xdd, 0x9a], 48); // F323, length 28, magic
    await sock.send(req, { transport: "udp", hostname: "127.0.0.1", port });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<null>((r) => timer = setTimeout(() => r(null), 1500));
    const got = await Promise.race([sock.receive(), timeout]);
    clearTimeout(timer);
    if (got === null) return null;
    const p = decodePacket(got[0]);
    const f = findF323(p.extensions);
    assert.ok(f, `no F323 field in the reply from ${source}`);
    const d = Number(BigInt.asIntN(64, f.monoReceiveTs - p.receiveTs)) / 2 ** 32;
    return { monoMinusRx: d, epoch: f.monoEpoch };
  } finally {
    sock.close();
  }
}

Deno.test({
  name: "interop: serverworkers 2 answers extfield F323 from both shards on one timescale",
  ignore: skip,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const upstream = freePort();
    const fake = fakeServer(upstream, 0.005); // 5 ms of corrections the monotonic time leaves out
    const port = freePort();
    const d = await startHorae([
      `server 127.0.0.1 port ${upstream} iburst minpoll 0 maxpoll 0`,
      `port ${port}`,
      "bindaddress 127.0.0.1",
      "allow 127.0.0.0/8",
      "serverworkers 2",
    ]);
    let log = "";
    try {
      // corrected by the upstream's 5 ms (served from the main thread, 127.0.0.1 on shard 0)
      let first: { monoMinusRx: number } | null = null;
      for (let i = 0; i < 120 && (first === null || Math.abs(first.monoMinusRx) < 0.004); i++) {
        first = await askF323("127.0.0.1", port);
        if (first === null || Math.abs(first.monoMinusRx) < 0.004) {
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      assert.ok(
        first && Math.abs(first.monoMinusRx) >= 0.004,
        `main thread: ${first?.monoMinusRx}`,
      );
      // 127.0.0.2 is steered to shard 1 (the worker): the same epoch, the same correction left out
      // (the clock's corrections go on in ~µs steps while the upstream is tracked)
      for (let i = 0; i < 5; i++) {
        const a = await askF323("127.0.0.1", port);
        const b = await askF323("127.0.0.2", port);
        assert.ok(a && b, "answered");
        assert.equal(b.epoch, a.epoch, "one monotonic epoch");
        assert.ok(
          Math.abs(a.monoMinusRx - b.monoMinusRx) < 0.0005,
          `shard 0 leaves out ${a.monoMinusRx} s, shard 1 ${b.monoMinusRx} s`,
        );
      }
    } finally {
      log = await d.stop();
      await fake.stop();
    }
    const per = shards(log);
    assert.ok(per[0]!.received > 0 && per[1]!.received >= 5, log);
  },
});
