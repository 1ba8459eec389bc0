import assert from "node:assert/strict";
import { parseConfig } from "../../lib/conf/parse.ts";
import {
  CookedModel,
  mergeClients,
  serverWorkerGroup,
  ServerWorkers,
  serverWorkersBlocker,
  SmoothingModel,
  sumStats,
} from "../../lib/daemon/server_workers.ts";
import { Smoothing } from "../../lib/clock/smoothing.ts";
import { ServerKeyRing } from "../../lib/nts/cookie.ts";
import { NtsServerAuth } from "../../lib/nts/server_auth.ts";
import { buildNtsRequest, verifyNtsReply } from "../../lib/nts/ntp_auth.ts";
import { aeadById } from "../../lib/nts/siv.ts";
import { Logger } from "../../lib/daemon/log.ts";
import { ClientLog } from "../../lib/ntp/clientlog.ts";
import { AddressFilter } from "../../lib/ntp/addrfilt.ts";
import { NtpServer, unsynchronisedReference } from "../../lib/ntp/server.ts";
import { NtpServerSocket } from "../../lib/io/ntp_server.ts";
import { cookedAt, openSystemClock } from "../../lib/daemon/system.ts";
import type { ClientReport, ServerStatsReport } from "../../lib/ntp/clientlog.ts";
import { realNow } from "../../lib/io/realtime.ts";

Deno.test("serverworkers: horae-only directive, 1-64, default 1", () => {
  assert.equal(parseConfig("").config.serverWorkers, 1);
  assert.equal(parseConfig("serverworkers 4").config.serverWorkers, 4);
  for (const bad of ["serverworkers 0", "serverworkers 65", "serverworkers x", "serverworkers"]) {
    assert.throws(() => parseConfig(bad), /chrony\.conf:1: /, bad);
  }
});

Deno.test("serverworkers: only hwtimestamp keeps NTP on the main thread alone", () => {
  const c = (text: string) => parseConfig(`serverworkers 2\n${text}`).config;
  assert.equal(serverWorkersBlocker(c("")), null);
  assert.equal(serverWorkersBlocker(c("smoothtime 400 0.001")), null);
  assert.equal(serverWorkersBlocker(c("broadcast 64 127.255.255.255")), null);
  assert.equal(serverWorkersBlocker(c("ntsserverkey k.pem\nntsservercert c.pem")), null);
  assert.match(
    serverWorkersBlocker(c("hwtimestamp eth0")) ?? "",
    /^hwtimestamp \(the worker threads' sockets would get no NIC timestamps\)$/,
  );
  const lines: string[] = [];
  const log = new Logger({ sink: { lines }, level: 0 });
  assert.equal(serverWorkerGroup(c("hwtimestamp eth0"), log), 1);
  assert.ok(lines.some((l) => /serverworkers 2 not supported yet with hwtimestamp/.test(l)));
  assert.equal(serverWorkerGroup(c("smoothtime 400 0.001\nbroadcast 64 127.255.255.255"), log), 2);
});

Deno.test("SmoothingModel: a worker's copy serves the main process's offset", () => {
  const main = new Smoothing({ maxFreqPpm: 400, maxWanderPpm: 0.001, leapOnly: false });
  const model = new SmoothingModel();
  const copy = new Smoothing(main.options);
  const reader = new SmoothingModel(model.sab);
  const t0 = 1_800_000_000_000_000_000n;
  reader.update(copy); // nothing published: inactive
  assert.equal(copy.offsetAt(t0), 0);
  main.activate(t0);
  main.update(t0 + 5_000_000_000n, 0.02, 3e-6); // three pieces
  model.publish(main.plan());
  reader.update(copy);
  for (const s of [0, 5, 6, 100, 1000, 5000, 20000, 40000]) {
    const t = t0 + BigInt(s) * 1_000_000_000n;
    assert.equal(copy.offsetAt(t), main.offsetAt(t), `at +${s} s`);
  }
  assert.notEqual(copy.offsetAt(t0 + 100_000_000_000n), 0);
  main.reset(t0 + 9_000_000_000n);
  model.publish(main.plan());
  reader.update(copy);
  assert.equal(copy.offsetAt(t0 + 100_000_000_000n), 0);
});

Deno.test("CookedModel: piecewise-linear offset behind a sequence counter", () => {
  const w = new CookedModel();
  const r = new CookedModel(w.sab); // a reader on the same memory (as a worker has)
  assert.equal(r.offsetAt(123n), 0n); // nothing published yet
  const r0 = 1_800_000_000_000_000_000n;
  // 5 ms, slewing 500 ppm away until r0 + 2 s, then drifting 10 ppm
  w.publish(r0, 5e6, -500e-6, r0 + 2_000_000_000n, 4e6, 10e-6);
  assert.equal(r.offsetAt(r0), 5_000_000n);
  assert.equal(r.offsetAt(r0 + 1_000_000_000n), 4_500_000n);
  assert.equal(r.offsetAt(r0 + 2_000_000_000n), 4_000_000n);
  assert.equal(r.offsetAt(r0 + 12_000_000_000n), 4_100_000n);
  w.publish(r0, -7, 0, null, 0, 0);
  assert.equal(r.offsetAt(r0 + 99_000_000_000n), -7n);
  // the F323 correction goes with the model: published with it, read as one
  assert.equal(r.correction(), 0n);
  w.publish(r0, -7, 0, null, 0, 0, -5_123_456n);
  assert.equal(r.correction(), -5_123_456n);
  let c = 42n;
  w.correctionSource = () => c;
  w.publishFrom(openSystemClock({ readOnly: true }));
  assert.equal(r.correction(), 42n);
  c = 43n; // read at publication, not at each request
  assert.equal(r.correction(), 42n);
});

Deno.test("CookedModel: follows a read-only clock's slew and frequency exactly", () => {
  const clock = openSystemClock({ readOnly: true }); // virtual: the system clock is untouched
  clock.setFrequency(clock.readFrequency() + 30); // 30 ppm away from the kernel's
  clock.accumulateOffset(0.004, 16); // 4 ms still to slew
  const model = new CookedModel();
  model.publishFrom(clock);
  const r0 = realNow();
  for (const ds of [0, 0.05, 0.5, 1, 3, 30, 300]) {
    const r = r0 + BigInt(Math.round(ds * 1e9));
    const want = cookedAt(clock, r) - r;
    const got = model.offsetAt(r);
    assert.ok(got - want <= 2n && want - got <= 2n, `at +${ds} s: model ${got}, clock ${want}`);
  }
  // and the clock read now agrees with the model (a few µs: two clock reads)
  const a = realNow(), c = clock.now(), b = realNow();
  const live = c - (a + b) / 2n;
  const diff = Number(model.offsetAt((a + b) / 2n) - live);
  assert.ok(Math.abs(diff) < 1e6, `live ${live}, model differs by ${diff} ns`);
});

function row(address: string, over: Partial<ClientReport>): ClientReport {
  return {
    address,
    ntpHits: 0,
    ntpDrops: 0,
    ntpIntervalLog2: null,
    ntpIntervalLimitedLog2: null,
    lastNtpAgo: null,
    cmdHits: 0,
    cmdDrops: 0,
    cmdIntervalLog2: null,
    lastCmdAgo: null,
    ntsKeHits: 0,
    ntsKeDrops: 0,
    ntsKeIntervalLog2: null,
    lastNtsKeAgo: null,
    ...over,
  };
}

Deno.test("mergeClients: one row per address, services from the shard that saw them", () => {
  const merged = mergeClients([
    [row("192.0.2.1", { cmdHits: 3, lastCmdAgo: 5, cmdIntervalLog2: 2 })],
    [
      row("192.0.2.2", { ntpHits: 7, lastNtpAgo: 1, ntpIntervalLog2: -1 }),
      row("192.0.2.1", { ntpHits: 4, ntpDrops: 1, lastNtpAgo: 2, ntpIntervalLog2: 3 }),
    ],
  ]);
  assert.deepEqual(merged.map((r) => r.address), ["192.0.2.1", "192.0.2.2"]);
  const a = merged[0]!;
  assert.equal(a.ntpHits, 4);
  assert.equal(a.ntpDrops, 1);
  assert.equal(a.ntpIntervalLog2, 3);
  assert.equal(a.lastNtpAgo, 2);
  assert.equal(a.cmdHits, 3);
  assert.equal(a.cmdIntervalLog2, 2);
});

Deno.test("sumStats: counters summed, span the widest, a silent worker left out", () => {
  const s = (n: number): ServerStatsReport => ({
    ntpHits: n,
    ntpDrops: 1,
    cmdHits: 2,
    cmdDrops: 0,
    logDrops: 0,
    ntsKeHits: 0,
    ntsKeDrops: 0,
    ntpAuthHits: 0,
    ntpInterleavedHits: n,
    ntpTimestamps: 3,
    ntpSpanSeconds: n,
  });
  const t = sumStats(s(10), [s(5), null, s(20)]);
  assert.equal(t.ntpHits, 35);
  assert.equal(t.ntpDrops, 3);
  assert.equal(t.cmdHits, 6);
  assert.equal(t.ntpInterleavedHits, 35);
  assert.equal(t.ntpTimestamps, 9);
  assert.equal(t.ntpSpanSeconds, 20);
});

Deno.test({
  name: "ServerWorkers in process: 2000 clients over two shards, chunked queries, reset, stop",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const config = parseConfig(
      "local stratum 4\nallow 127.0.0.0/8\nserverworkers 2\nclientloglimit 8388608",
    ).config;
    const lines: string[] = [];
    const log = new Logger({ sink: { lines }, level: 0 });
    const reference = unsynchronisedReference(-20);
    reference.local = { stratum: 4, distance: 1, orphan: false };
    reference.localSince = realNow();
    const clientLog = new ClientLog({
      limitBytes: config.clientLogLimit,
      seed: 1,
      random: Math.random,
    });
    const rules = [{ allow: true, all: false, subnet: "127.0.0.0/8" }];
    const filter = AddressFilter.fromRules(rules);
    const server = new NtpServer({ reference, clientLog, filter });
    let main: NtpServerSocket | null = null;
    for (let i = 0; i < 20 && main === null; i++) {
      config.port = 20000 + Math.floor(Math.random() * 30000);
      try {
        main = NtpServerSocket.open(server, {
          family: "ipv4",
          address: "127.0.0.1",
          port: config.port,
          reusePortGroup: 2,
        });
      } catch { /* in use: another port */ }
    }
    assert.ok(main !== null);
    config.bindAddress.ipv4 = "127.0.0.1";
    let reloads = 0;
    const keys = { reload: () => void reloads++ };
    const workers = await ServerWorkers.start({
      group: 2,
      config,
      families: ["ipv4"],
      server,
      reference,
      clientLog,
      filter,
      rules,
      keys,
      clock: openSystemClock({ readOnly: true }),
      log,
    });
    try {
      assert.equal(workers.size, 1);
      const N = 2000;
      const req = new Uint8Array(48);
      req[0] = (4 << 3) | 3;
      let answered = 0;
      for (let base = 0; base < N; base += 200) {
        const socks = Array.from({ length: 200 }, (_, i) => {
          const n = base + i;
          return Deno.listenDatagram({
            transport: "udp",
            hostname: `127.2.${n >> 8}.${n & 255}`,
            port: 0,
          });
        });
        await Promise.all(
          socks.map((s) =>
            s.send(req, { transport: "udp", hostname: "127.0.0.1", port: config.port })
          ),
        );
        await Promise.all(socks.map(async (s) => {
          const t = setTimeout(() => s.close(), 3000);
          try {
            const [r] = await s.receive();
            if (r[1] === 4) answered++;
          } catch { /* timed out: closed */ }
          clearTimeout(t);
          try {
            s.close();
          } catch { /* closed */ }
        }));
      }
      assert.equal(answered, N);
      const stats = clientLog.serverStats(); // the shards summed
      assert.equal(stats.ntpHits, N);
      assert.equal(stats.logDrops, 0);
      const per = workers.workerStats();
      const worker = per[0]!.log.ntpHits;
      assert.ok(worker > 800 && worker < N - 800, `worker shard ${worker} of ${N}`);
      // the worker's rows are over 256 KiB of JSON: they come in pieces
      const now = Number(realNow()) / 1e9;
      const rows = clientLog.clients(now, { reset: true });
      assert.equal(rows.length, N);
      assert.equal(new Set(rows.map((r) => r.address)).size, N);
      assert.ok(rows.every((r) => r.ntpHits === 1));
      assert.ok(clientLog.clients(now).every((r) => r.ntpHits === 0), "reset reached every shard");
      const rtt = await workers.ping();
      assert.equal(rtt.length, 1);
      // a new reference, rekey and run-time rules are forwarded (messages keep their order:
      // after a ping the worker has taken the reference)
      keys.reload();
      assert.equal(reloads, 1);
      reference.local = { stratum: 6, distance: 1, orphan: false };
      server.setReference(reference, realNow());
      await workers.ping();
      const before = workers.workerStats()[0]!.log.ntpHits;
      for (let i = 1; i <= 8; i++) {
        const s = Deno.listenDatagram({ transport: "udp", hostname: `127.3.0.${i}`, port: 0 });
        await s.send(req, { transport: "udp", hostname: "127.0.0.1", port: config.port });
        const [r] = await s.receive();
        s.close();
        assert.equal(r[1], 6, `stratum served to 127.3.0.${i}`);
      }
      assert.ok(workers.workerStats()[0]!.log.ntpHits > before, "the worker answered some");
      filter.add({ allow: false, all: false, subnet: "127.2.0.0/16" });
      const denied = Deno.listenDatagram({ transport: "udp", hostname: "127.2.9.9", port: 0 });
      let silent = false;
      for (let round = 0; round < 10 && !silent; round++) {
        await denied.send(req, { transport: "udp", hostname: "127.0.0.1", port: config.port });
        const t = new Promise<null>((r) => setTimeout(() => r(null), 300));
        const got = await Promise.race([denied.receive(), t]);
        silent = got === null;
      }
      denied.close();
      assert.ok(silent, "deny reached the shard of 127.2.9.9");
    } finally {
      await workers.close();
      await main.close();
    }
    assert.equal(workers.size, 0);
    assert.ok(lines.some((l) => /Server shard 1: \d+ NTP requests/.test(l)), lines.join("\n"));
    assert.ok(!lines.some((l) => /did not answer|failed|stopped :/.test(l)), lines.join("\n"));
  },
});

/** The main thread's responder and socket plus one worker, on a free port of 127.0.0.1. */
async function startTwoShards(
  setup: (server: NtpServer) => Partial<Parameters<typeof ServerWorkers.start>[0]>,
) {
  const config = parseConfig("allow 127.0.0.0/8\nserverworkers 2").config;
  const lines: string[] = [];
  const log = new Logger({ sink: { lines }, level: 0 });
  const reference = {
    ...unsynchronisedReference(-20),
    synchronised: true,
    stratum: 3,
    refId: 0x7f000001,
    refTime: realNow(),
  };
  const clientLog = new ClientLog({ limitBytes: 1 << 20, seed: 1, random: Math.random });
  const rules = [{ allow: true, all: false, subnet: "127.0.0.0/8" }];
  const filter = AddressFilter.fromRules(rules);
  const server = new NtpServer({ reference, clientLog, filter });
  const extra = setup(server);
  let main: NtpServerSocket | null = null;
  for (let i = 0; i < 20 && main === null; i++) {
    config.port = 20000 + Math.floor(Math.random() * 30000);
    try {
      main = NtpServerSocket.open(server, {
        family: "ipv4",
        address: "127.0.0.1",
        port: config.port,
        reusePortGroup: 2,
      });
    } catch { /* in use: another port */ }
  }
  assert.ok(main !== null);
  config.bindAddress.ipv4 = "127.0.0.1";
  const workers = await ServerWorkers.start({
    group: 2,
    config,
    families: ["ipv4"],
    server,
    reference,
    clientLog,
    filter,
    rules,
    keys: { reload() {} },
    clock: openSystemClock({ readOnly: true }),
    log,
    ...extra,
  });
  const stop = async () => {
    await workers.close();
    await main.close();
    assert.ok(
      !lines.some((l) => /did not answer|failed|stopped :|Server worker/.test(l)),
      lines.join("\n"),
    );
  };
  return { port: config.port, clientLog, workers, stop };
}

/** Sends `req` from `source` to 127.0.0.1:port; the reply, or null after 2 s. */
async function exchange(source: string, port: number, req: Uint8Array): Promise<Uint8Array | null> {
  const s = Deno.listenDatagram({ transport: "udp", hostname: source, port: 0 });
  try {
    await s.send(req, { transport: "udp", hostname: "127.0.0.1", port });
    let t: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<null>((r) => t = setTimeout(() => r(null), 2000));
    const got = await Promise.race([s.receive(), late]);
    clearTimeout(t);
    return got === null ? null : got[0];
  } finally {
    s.close();
  }
}

const rand = (n: number) => crypto.getRandomValues(new Uint8Array(n));

Deno.test({
  name: "ServerWorkers in process: NTS on every shard, cookie keys follow rotations",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const ring = ServerKeyRing.fresh(rand(144), realNow(), 3600);
    const listeners: (() => void)[] = [];
    const nts = { ring, onKeysChanged: (l: () => void) => void listeners.push(l) };
    const { port, clientLog, workers, stop } = await startTwoShards((server) => {
      server.setAuth(new NtsServerAuth({ ring, randomBytes: rand, now: realNow }));
      return { nts };
    });
    const aead = aeadById(15)!;
    const keys = { aead: 15, c2s: rand(32), s2c: rand(32) };
    /** NTS requests with `cookie` from 40 sources; how many replies verified, were NAKs. */
    const round = async (cookie: Uint8Array, net: number) => {
      let ok = 0, nak = 0;
      await Promise.all(Array.from({ length: 40 }, async (_, i) => {
        const header = new Uint8Array(48);
        header[0] = (4 << 3) | 3;
        header.set(rand(8), 40);
        const uniqueId = rand(32);
        const req = buildNtsRequest(header, {
          uniqueId,
          cookie,
          placeholders: 1,
          aead,
          c2s: keys.c2s,
          nonce: rand(16),
        });
        const reply = await exchange(`127.5.${net}.${i + 1}`, port, req);
        assert.ok(reply !== null, `reply to 127.5.${net}.${i + 1}`);
        const r = verifyNtsReply(reply, { uniqueId, aead, s2c: keys.s2c });
        if (r.kind === "ok") {
          ok++;
          assert.equal(r.cookies.length, 2);
        } else nak++;
      }));
      return { ok, nak };
    };
    /** Authenticated requests seen by the worker's shard (the main one: the sum minus it). */
    const workerAuth = () => workers.workerStats()[0]!.log.ntpAuthHits;
    try {
      const rotate = async () => {
        ring.rotate(rand(36), realNow());
        for (const f of listeners) f();
        await workers.ping(); // messages keep their order: the worker has the keys
      };
      const before = ring.makeCookie(keys, rand(16));
      assert.deepEqual(await round(before, 1), { ok: 40, nak: 0 });
      const w1 = workerAuth();
      assert.ok(w1 > 5 && w1 < 35, `worker shard authenticated ${w1} of 40`);
      assert.equal(clientLog.serverStats().ntpAuthHits, 40);
      // two rotations: the current key is one made after the workers started
      await rotate();
      await rotate();
      const after = ring.makeCookie(keys, rand(16));
      assert.deepEqual(await round(before, 2), { ok: 40, nak: 0 });
      assert.deepEqual(await round(after, 3), { ok: 40, nak: 0 });
      assert.ok(workerAuth() - w1 > 10, "the worker verified old and new cookies");
      assert.equal(clientLog.serverStats().ntpAuthHits, 120);
      // two more: the key of the first cookie is gone everywhere (NAK), the new one stays
      await rotate();
      await rotate();
      assert.deepEqual(await round(before, 4), { ok: 0, nak: 40 });
      assert.deepEqual(await round(after, 5), { ok: 40, nak: 0 });
    } finally {
      await stop();
    }
  },
});

Deno.test({
  name: "ServerWorkers in process: smoothtime's offset served by every shard as by the main one",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const smoothing = new Smoothing({ maxFreqPpm: 400, maxWanderPpm: 0.001, leapOnly: false });
    const { port, workers, stop } = await startTwoShards((server) => {
      server.setSmoothing((now) => smoothing.offsetAt(now));
      return { smoothing };
    });
    /**
     * The served offset (s) and refid, from 40 sources: the served receive time minus our send
     * time (a bound: the request may wait on a loaded machine), asked again (at most 10 times)
     * while the exchange took more than 50 ms, and the offset checked within what it took.
     */
    let asked = 0;
    const served = async (net: number) => {
      return await Promise.all(Array.from({ length: 40 }, async (_, i) => {
        let got = { off: 0, took: Infinity, refId: 0 };
        for (let k = 0; k < 10 && got.took > 0.05; k++) {
          const req = new Uint8Array(48);
          req[0] = (4 << 3) | 3;
          const sent = realNow();
          asked++;
          const reply = await exchange(`127.6.${net}.${i + 1}`, port, req);
          const back = realNow();
          assert.ok(reply !== null);
          const v = new DataView(reply.buffer, reply.byteOffset);
          const rx = BigInt(v.getUint32(32)) * 1_000_000_000n +
            (BigInt(v.getUint32(36)) * 1_000_000_000n >> 32n);
          const era = 2_208_988_800n * 1_000_000_000n;
          const off = Number(rx - era - sent) / 1e9, took = Number(back - sent) / 1e9;
          if (took < got.took) got = { off, took, refId: v.getUint32(12) };
        }
        return got;
      }));
    };
    /** The served offset `s.off` minus what the request waited is within 0.1 s of `want`. */
    const near = (s: { off: number; took: number }, want: number) =>
      s.off - s.took - 0.1 < want && want < s.off + 0.1;
    try {
      const now = realNow();
      smoothing.activate(now);
      smoothing.update(now, 0.25, 0); // the clock went back 0.25 s: served time keeps it
      await workers.ping();
      const before = workers.workerStats()[0]!.log.ntpHits;
      const smooth = await served(1);
      const byWorker = workers.workerStats()[0]!.log.ntpHits - before;
      assert.ok(
        byWorker > 5 && byWorker < asked - 5,
        `worker shard answered ${byWorker} of ${asked}`,
      );
      for (const s of smooth) {
        assert.ok(near(s, 0.25), `served ${s.off} s ahead (in ${s.took} s), want 0.25`);
        assert.equal(s.refId, 0x7f7f01ff);
      }
      smoothing.reset(realNow()); // `smoothtime reset`: back to the clock on every shard
      for (const s of await served(2)) {
        assert.ok(near(s, 0), `served ${s.off} s ahead (in ${s.took} s) after reset`);
        assert.equal(s.refId, 0x7f000001);
      }
    } finally {
      await stop();
    }
  },
});
