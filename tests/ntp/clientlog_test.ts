import assert from "node:assert/strict";
import {
  ClientAccessResult,
  ClientLog,
  quarterLog2,
  RATE_DROP,
  RATE_KOD,
  RATE_RESPOND,
  recordsForLimit,
} from "../../lib/ntp/clientlog.ts";

const v4 = (a: number, b: number, c: number, d: number) => new Uint8Array([a, b, c, d]);

Deno.test("clientlog: the default 524288-byte limit holds 4096 records, as chrony.conf(5) says", () => {
  assert.equal(recordsForLimit(524288), 4096);
  assert.equal(recordsForLimit(1048576), 8192);
  assert.equal(recordsForLimit(100), 16);
});

Deno.test("clientlog: 100000 distinct addresses keep the table at its limit and count dropped records", () => {
  const log = new ClientLog({ limitBytes: 524288, seed: 7, random: () => 0 });
  const addr = new Uint8Array(4);
  for (let i = 0; i < 100_000; i++) {
    addr[0] = 127;
    addr[1] = (i >> 16) & 255;
    addr[2] = (i >> 8) & 255;
    addr[3] = i & 255;
    log.ntpAccess(addr, 0, 4, i * 0.001);
  }
  assert.equal(log.capacity, 4096);
  assert.ok(log.size <= 4096);
  assert.ok(log.bytes <= 524288);
  const s = log.serverStats();
  assert.equal(s.ntpHits, 100_000);
  assert.equal(s.logDrops, 100_000 - log.size);
  assert.equal(log.clients(200).length, log.size);
});

Deno.test("clientlog: counters, intervals and last hit per client for chronyc clients", () => {
  const log = new ClientLog({ seed: 1, random: () => 0 });
  const a = v4(192, 0, 2, 1), b = new Uint8Array(16);
  b[0] = 0x20, b[1] = 0x01, b[2] = 0x0d, b[3] = 0xb8, b[15] = 1;
  for (let t = 0; t < 10; t++) log.ntpAccess(a, 0, 4, 1000 + 4 * t); // every 4 s
  log.cmdAccess(a, 0, 4, 1040);
  log.ntpAccess(b, 0, 6, 1041);
  const rows = log.clients(1046);
  const ra = rows.find((r) => r.address === "192.0.2.1")!;
  assert.equal(ra.ntpHits, 10);
  assert.equal(ra.ntpDrops, 0);
  assert.equal(ra.ntpIntervalLog2, 2);
  assert.equal(ra.ntpIntervalLimitedLog2, null); // nothing limited: "-" as in chronyd
  assert.equal(ra.lastNtpAgo, 10);
  assert.equal(ra.cmdHits, 1);
  assert.equal(ra.cmdIntervalLog2, null);
  assert.equal(ra.lastCmdAgo, 6);
  const rb = rows.find((r) => r.address === "2001:db8::1")!;
  assert.equal(rb.ntpHits, 1);
  assert.equal(rb.ntpIntervalLog2, null);
  assert.equal(rb.lastCmdAgo, null);
  assert.equal(log.clients(1046, { minPackets: 2 }).length, 1);
  log.clients(1046, { reset: true });
  assert.equal(log.clients(1046).find((r) => r.address === "192.0.2.1")!.ntpHits, 0);
  const s = log.serverStats();
  assert.equal(s.ntpHits, 11);
  assert.equal(s.cmdHits, 1);
});

Deno.test("clientlog: ratelimit answers a burst, then drops, and leaks 2^-leak of the drops", () => {
  // Random source cycles 0.1, 0.6, 0.8, 0.9: only 0.1 < 2^-2 leaks (1 in 4).
  const seq = [0.1, 0.6, 0.8, 0.9];
  let k = 0;
  const log = new ClientLog({
    seed: 3,
    random: () => seq[k++ % seq.length]!,
    ntpRateLimit: { interval: 1, burst: 4, leak: 2 },
  });
  const a = v4(198, 51, 100, 7);
  const decisions: number[] = [];
  for (let i = 0; i < 12; i++) {
    decisions.push(log.ntpAccess(a, 0, 4, 500).decision); // all at the same instant
  }
  assert.deepEqual(decisions.slice(0, 4), [0, 0, 0, 0]);
  assert.deepEqual(decisions.slice(4), [0, 1, 1, 1, 0, 1, 1, 1]);
  assert.equal(log.serverStats().ntpDrops, 6);
  assert.equal(log.clients(500)[0]!.ntpDrops, 6);
  // Two seconds later (interval 2^1 s) one token is back.
  assert.equal(log.ntpAccess(a, 0, 4, 502).decision, RATE_RESPOND);
  k = 1; // next draw 0.6: no leak
  assert.equal(log.ntpAccess(a, 0, 4, 502).decision, RATE_DROP);
});

Deno.test("clientlog: with kod a limited NTP request gets a RATE kiss-o'-death decision", () => {
  const log = new ClientLog({
    seed: 3,
    random: () => 0.99,
    ntpRateLimit: { interval: 3, burst: 1, leak: 2, kod: true },
  });
  const a = v4(198, 51, 100, 8);
  assert.equal(log.ntpAccess(a, 0, 4, 1).decision, RATE_RESPOND);
  assert.equal(log.ntpAccess(a, 0, 4, 2).decision, RATE_KOD);
  assert.equal(log.cmdAccess(a, 0, 4, 2).decision, RATE_RESPOND);
  assert.notEqual(RATE_KOD, RATE_DROP);
});

Deno.test("clientlog: each call returns its own verdict; a drop does not leak into the next call", () => {
  // The verdict used to be left in a field of the log: a caller reading it
  // after another call (or reading the returned slot as the verdict, the bug
  // of cmdratelimit) got the wrong one.
  const log = new ClientLog({
    seed: 5,
    random: () => 0.99, // never leaks
    ntpRateLimit: { interval: 3, burst: 1, leak: 2 },
    cmdRateLimit: { interval: 3, burst: 1, leak: 2 },
  });
  const a = v4(203, 0, 113, 1), b = v4(203, 0, 113, 2);
  assert.equal(log.ntpAccess(a, 0, 4, 10).decision, RATE_RESPOND);
  const dropped = log.ntpAccess(a, 0, 4, 10); // no token left: dropped
  const next = log.ntpAccess(b, 0, 4, 10); // another client, full bucket
  const cmd = log.cmdAccess(a, 0, 4, 10); // another service of the same client
  assert.equal(dropped.decision, RATE_DROP);
  assert.equal(next.decision, RATE_RESPOND);
  assert.equal(cmd.decision, RATE_RESPOND);
  assert.equal(log.cmdAccess(a, 0, 4, 10).decision, RATE_DROP);
  assert.equal(log.ntpAccess(b, 0, 4, 10).decision, RATE_DROP);
  assert.equal(dropped.decision, RATE_DROP); // earlier results keep their verdicts
  assert.equal(next.decision, RATE_RESPOND);
  // A slot is no verdict: the old bug compared the returned slot with RATE_RESPOND.
  // @ts-expect-error ClientAccess and RateDecision do not overlap (checked by `deno check`)
  assert.equal(next === RATE_RESPOND, false);
  assert.notEqual(next.slot, dropped.slot);
});

Deno.test("clientlog: a result filled in place gets the verdicts and slots a new one would", () => {
  const opts = {
    seed: 5,
    random: () => 0.99, // never leaks
    ntpRateLimit: { interval: 3, burst: 2, leak: 2, kod: true },
  };
  const fresh = new ClientLog(opts), inPlace = new ClientLog(opts);
  const into = new ClientAccessResult();
  const seen: number[][] = [];
  for (let i = 0; i < 6; i++) {
    const a = v4(198, 51, 100, i % 2); // two clients, alternating, at the same instant
    const want = fresh.ntpAccess(a, 0, 4, 50);
    const got = inPlace.ntpAccess(a, 0, 4, 50, into);
    assert.equal(got, into); // no new object
    assert.deepEqual([got.slot, got.decision], [want.slot, want.decision]);
    seen.push([got.slot, got.decision]);
  }
  // burst 2 per client: the third request of each gets the RATE kiss-o'-death
  assert.deepEqual(seen.map(([, d]) => d), [0, 0, 0, 0, RATE_KOD, RATE_KOD]);
  const off = new ClientLog({ seed: 1, random: () => 0, disabled: true });
  into.slot = 3;
  into.decision = RATE_DROP;
  assert.equal(off.ntpAccess(v4(10, 0, 0, 1), 0, 4, 1, into), into);
  assert.deepEqual({ ...into }, { slot: -1, decision: RATE_RESPOND });
});

Deno.test("clientlog: noclientlog keeps global counters only", () => {
  const log = new ClientLog({ seed: 1, random: () => 0, disabled: true });
  assert.deepEqual(log.ntpAccess(v4(10, 0, 0, 1), 0, 4, 1), { slot: -1, decision: RATE_RESPOND });
  assert.equal(log.clients(2).length, 0);
  assert.equal(log.serverStats().ntpHits, 1);
});

Deno.test("clientlog: held timestamps match by receive timestamp and count in serverstats", () => {
  const log = new ClientLog({ seed: 1, random: () => 0 });
  const { slot } = log.ntpAccess(v4(10, 0, 0, 2), 0, 4, 100);
  log.holdRaw(slot, 0xe0000001, 0x80000000, 0xe0000001, 0x80001000, 100);
  assert.equal(log.matchesHeldRx(slot, 0xe0000001, 0x80000000), true);
  assert.equal(log.matchesHeldRx(slot, 0xe0000001, 0x80000001), false);
  log.improveTx(slot, 0xe0000001, 0x80000000, 0xe0000001, 0x80000800);
  assert.equal(log.heldTxLo(slot), 0x80000800);
  log.improveTx(slot, 0xe0000002, 0, 0, 0); // stale: ignored
  assert.equal(log.heldTxLo(slot), 0x80000800);
  const s2 = log.ntpAccess(v4(10, 0, 0, 3), 0, 4, 160).slot;
  log.holdRaw(s2, 1, 2, 3, 4, 160);
  const s = log.serverStats();
  assert.equal(s.ntpTimestamps, 2);
  assert.equal(s.ntpSpanSeconds, 60);
});

Deno.test("clientlog: IntL is the interval after a rate-limited request, unknown before any", () => {
  const log = new ClientLog({
    seed: 1,
    random: () => 0.99, // no leak: every request without a token is dropped
    ntpRateLimit: { interval: 3, burst: 1, leak: 2 },
  });
  const a = v4(192, 0, 2, 1);
  log.ntpAccess(a, 0, 4, 1000);
  log.ntpAccess(a, 0, 4, 1000.5); // no token yet: dropped
  log.ntpAccess(a, 0, 4, 1001); // 0.5 s after the dropped one
  log.ntpAccess(a, 0, 4, 1001.5);
  const r = log.clients(1002)[0]!;
  assert.equal(r.ntpDrops, 3);
  assert.equal(r.ntpIntervalLog2, -1);
  assert.equal(r.ntpIntervalLimitedLog2, -1);
  const quiet = new ClientLog({ seed: 1, random: () => 0.99 });
  quiet.ntpAccess(a, 0, 4, 1000);
  quiet.ntpAccess(a, 0, 4, 1000.5);
  assert.equal(quiet.clients(1001)[0]!.ntpIntervalLimitedLog2, null);
});

Deno.test("clientlog: Int follows a faster pace a quarter step per request, a slower one at once", () => {
  const log = new ClientLog({ seed: 1, random: () => 0 });
  // gaps (s) -> Int (log2 s, before rounding) as chronyd 4.3 showed for the same gaps
  const cases: [number[], number][] = [
    [[0.25, 0.25, 0.25, 0.25, 0.25, 2], -1.5], // chronyc shows -2
    [[0.25, 0.25, 0.25, 0.25, 0.25, 2, 2], 0],
    [[2, 2, 0.25], 0.75], // 1
    [[2, 2, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25], -0.5], // -1
    [[0.125, 4], -0.5], // -1
    [[0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 1], -2.5], // -3
  ];
  cases.forEach(([gaps, int], i) => {
    const a = v4(192, 0, 2, 10 + i);
    let t = 1000;
    log.ntpAccess(a, 0, 4, t);
    for (const g of gaps) log.ntpAccess(a, 0, 4, t += g);
    const row = log.clients(t).find((r) => r.address === `192.0.2.${10 + i}`)!;
    assert.equal(row.ntpIntervalLog2, int, `case ${i}`);
  });
});

Deno.test("clientlog: quarterLog2 is Math.round(Math.log2(x) * 4) everywhere, edges included", () => {
  const expect = (x: number) => Math.round(Math.log2(x) * 4);
  let seed = 12345;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
  const xs: number[] = [1, 2, 0.5, 3, 1e-9, 1e-6, 0.001, 8, 1e300, 5e-324, 1e-310, Infinity];
  for (let i = 0; i < 100_000; i++) xs.push(2 ** (80 * rnd() - 40)); // intervals from ps to years
  for (let k = -160; k <= 160; k++) {
    // the rounding edges themselves and their neighbours, a few ulps and a margin away
    const edge = 2 ** ((k + 0.5) / 4);
    for (
      const f of [1, 1 + 2e-16, 1 - 2e-16, 1 + 1e-12, 1 - 1e-12, 1 + 1e-8, 1 - 1e-8, 1.01, 0.99]
    ) {
      xs.push(edge * f);
    }
  }
  let wrong = 0;
  for (const x of xs) if (quarterLog2(x) !== expect(x)) wrong++;
  assert.equal(wrong, 0);
  assert.equal(quarterLog2(1), 0);
  assert.equal(quarterLog2(2 ** -20), -80);
  assert.equal(quarterLog2(2 ** 0.2), 1);
});
