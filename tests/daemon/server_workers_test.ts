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
