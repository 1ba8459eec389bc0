/**
 * The engine on its own (lib/engine/engine.ts): a simulated clock, a
 * discipline that only records what it is handed, and servers answered in
 * the test with lib/ntp's codec. No sockets, no timers, no simulator.
 */
import assert from "node:assert/strict";
import {
  Engine,
  type EngineAction,
  POOL_FALSETICKER_LIMIT,
  type SampledSource,
  type SelectionRow,
} from "../../lib/engine/engine.ts";
import { SimClock } from "../../lib/clock/sim_clock.ts";
import type { ReferenceUpdate, Sample } from "../../lib/clock/sample.ts";
import {
  decodePacket,
  encodePacket,
  MODE_CLIENT,
  MODE_SERVER,
  newPacket,
  timestampToNtp,
} from "../../lib/ntp/packet.ts";
import { addSeconds, diffSeconds, NS_PER_SEC, type Timestamp } from "../../lib/time/timestamp.ts";

/** 2024-01-01T00:00:00Z, true time at the start. */
const T0 = 1_704_067_200n * NS_PER_SEC;
/** One-way network delay, seconds. */
const DELAY = 0.001;

/** A discipline that applies nothing and remembers every call. */
class RecordingDiscipline {
  updates: { update: ReferenceUpdate; now: Timestamp }[] = [];
  noUpdates = 0;
  update(update: ReferenceUpdate, now: Timestamp): string[] {
    this.updates.push({ update, now });
    return [`update ${this.updates.length}`];
  }
  noUpdate(): void {
    this.noUpdates++;
  }
}

interface World {
  clock: SimClock;
  discipline: RecordingDiscipline;
  engine: Engine;
  /** Every action the engine returned, in order. */
  actions: EngineAction[];
  samples: { source: SampledSource; sample: Sample }[];
  /** Server clock minus true time, seconds, per address; a missing address does not answer. */
  servers: Map<string, number>;
  /** Carries out actions: requests to a known server are answered. */
  handle(actions: EngineAction[]): void;
  /** Runs the engine's timers (and the exchanges they start) for `seconds` of true time. */
  run(seconds: number): void;
}

function world(
  opts: { clockOffset?: number; logSelection?: boolean } = {},
): World {
  const clock = new SimClock({ start: T0, offset: opts.clockOffset ?? 0 });
  const discipline = new RecordingDiscipline();
  let counter = 0;
  const samples: World["samples"] = [];
  const engine = new Engine({
    clock,
    discipline,
    randomBytes: (n) => Uint8Array.from({ length: n }, () => (counter = (counter * 37 + 11) & 255)),
    onSample: (source, sample) => samples.push({ source, sample }),
    ...(opts.logSelection !== undefined ? { logSelection: opts.logSelection } : {}),
  });
  let timer: Timestamp | null = null;
  const w: World = {
    clock,
    discipline,
    engine,
    actions: [],
    samples,
    servers: new Map(),
    handle(actions) {
      // The requests of one batch leave together; their replies come back 2 × DELAY later.
      const sent: { source: number; bytes: Uint8Array; serverOffset: number }[] = [];
      for (const a of actions) {
        w.actions.push(a);
        if (a.kind === "timer") timer = a.at;
        if (a.kind !== "send") continue;
        const serverOffset = w.servers.get(a.address);
        if (serverOffset !== undefined) {
          sent.push({ source: a.source, bytes: a.bytes, serverOffset });
        }
      }
      if (sent.length === 0) return;
      const arrival = addSeconds(clock.trueTime(), DELAY);
      const replies = sent.map((r) => ({
        source: r.source,
        bytes: answer(r.bytes, addSeconds(arrival, r.serverOffset)),
      }));
      clock.advance(2 * DELAY + 2e-6);
      for (const r of replies) w.handle(engine.onPacket(r.source, r.bytes, clock.now()));
    },
    run(seconds) {
      const end = addSeconds(clock.trueTime(), seconds);
      for (let i = 0; i < 10_000 && timer !== null; i++) {
        const wait = diffSeconds(timer, clock.now());
        if (diffSeconds(end, clock.trueTime()) < wait) break;
        if (wait > 0) clock.advance(wait + 1e-6);
        w.handle(engine.onTimer());
      }
      const left = diffSeconds(end, clock.trueTime());
      if (left > 0) clock.advance(left);
    },
  };
  return w;
}

/** A stratum-1 server's reply to `request`, its clock reading `at` (2 µs to transmit). */
function answer(request: Uint8Array, at: Timestamp): Uint8Array {
  const req = decodePacket(request);
  assert.equal(req.mode, MODE_CLIENT);
  return encodePacket({
    ...newPacket(),
    version: req.version,
    mode: MODE_SERVER,
    stratum: 1,
    poll: req.poll,
    precision: -20,
    rootDelay: 0,
    rootDispersion: 10e-6,
    referenceId: 0x47505300,
    referenceTs: timestampToNtp(at - 8n * NS_PER_SEC),
    originTs: req.transmitTs,
    receiveTs: timestampToNtp(at),
    transmitTs: timestampToNtp(addSeconds(at, 2e-6)),
  });
}

const sends = (actions: EngineAction[]) => actions.filter((a) => a.kind === "send");
const logs = (actions: EngineAction[]) =>
  actions.flatMap((a) => a.kind === "log" ? [`${a.level}: ${a.message}`] : []);

const ADDRESSES = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"];

/** Sources s1..sN at ADDRESSES, iburst, started, first requests handled. */
function started(w: World, n: number, pool?: Record<number, string>): void {
  for (let i = 0; i < n; i++) {
    w.engine.addSource({
      name: `s${i + 1}`,
      address: ADDRESSES[i]!,
      options: { iburst: true },
      ...(pool?.[i] !== undefined ? { pool: pool[i] } : {}),
    });
  }
  w.handle(w.engine.start());
}

Deno.test("engine: start arms the timer at once; the first timer sends each source's request", () => {
  const w = world();
  const a = w.engine.addSource({ name: "one", address: "192.0.2.1", options: { iburst: true } });
  const b = w.engine.addSource({ name: "two", address: "192.0.2.2", options: { port: 11123 } });
  assert.deepEqual([a.id, b.id], [0, 1]);
  // Not started: nothing is sent and nothing is due.
  assert.deepEqual(a.actions, [{ kind: "timer", at: null }]);
  assert.deepEqual(b.actions, [{ kind: "timer", at: null }]);
  const now = w.clock.now();
  assert.deepEqual(w.engine.start(), [{ kind: "timer", at: now }]);
  const first = w.engine.onTimer();
  assert.deepEqual(
    sends(first).map((s) => s.kind === "send" && `${s.source} ${s.address}:${s.port}`),
    ["0 192.0.2.1:123", "1 192.0.2.2:11123"],
  );
  for (const s of sends(first)) {
    assert.ok(s.kind === "send");
    const p = decodePacket(s.bytes);
    assert.equal(p.mode, MODE_CLIENT);
    assert.equal(p.version, 4);
  }
  // The last action re-arms the timer for the next request, later than now.
  const last = first[first.length - 1]!;
  assert.ok(last.kind === "timer" && last.at !== null && last.at > now);
  // Nothing more is due now; a source added while running is polled at the next timer.
  assert.deepEqual(sends(w.engine.onTimer()), []);
  const c = w.engine.addSource({ name: "three", address: "192.0.2.3", options: {} });
  assert.deepEqual(sends(c.actions), []);
  const at = c.actions[c.actions.length - 1]!;
  assert.ok(at.kind === "timer" && at.at !== null && at.at <= w.clock.now());
  assert.deepEqual(
    sends(w.engine.onTimer()).map((s) => s.kind === "send" && s.address),
    ["192.0.2.3"],
  );
});

Deno.test("engine: a source's samples reach the statistics and the discipline, with their sign", () => {
  const w = world({ clockOffset: 0.010 }); // our clock 10 ms fast
  w.servers.set("192.0.2.1", 0);
  started(w, 1);
  w.run(10);
  // iburst: four exchanges in the first seconds, each one sample (local minus source).
  assert.equal(w.samples.length, 4);
  for (const { source, sample } of w.samples) {
    assert.equal(source.id, 0);
    assert.ok(Math.abs(sample.offset - 0.010) < 1e-6, `offset ${sample.offset}`);
    assert.ok(Math.abs(sample.peerDelay - 2 * DELAY) < 1e-5, `delay ${sample.peerDelay}`);
  }
  const est = w.engine.sources[0]!.stats.estimate();
  assert.ok(est !== null && est.samples === 4);
  // The discipline got the selection's estimate; each update is an action and its lines logs.
  assert.ok(w.discipline.updates.length > 0);
  const updates = w.actions.flatMap((a) => a.kind === "update" ? [a.update] : []);
  assert.deepEqual(updates, w.discipline.updates.map((u) => u.update));
  for (const u of updates) assert.ok(Math.abs(u.offset - 0.010) < 1e-6, `update ${u.offset}`);
  assert.equal(w.engine.lastUpdate, updates[updates.length - 1]);
  assert.ok(logs(w.actions).includes(`info: update ${updates.length}`));
  assert.equal(w.engine.selected, 0);
  assert.equal(w.engine.sources[0]!.status?.state, "selected");
});

Deno.test("engine: a source that never answers gives no sample and no update", () => {
  const w = world();
  started(w, 1);
  w.run(60);
  assert.ok(sends(w.actions).length >= 4, "requests were sent");
  assert.equal(w.samples.length, 0);
  assert.deepEqual(w.discipline.updates, []);
  assert.equal(w.engine.selected, null);
  assert.equal(w.engine.lastUpdate, null);
});

Deno.test("engine: selection events are logged once per change, down to no selectable source", () => {
  const w = world({ clockOffset: 0.010 });
  ADDRESSES.forEach((a, i) => w.servers.set(a, i === 3 ? 1 : 0)); // s4 1 s away: a falseticker
  started(w, 4);
  w.run(30);
  assert.deepEqual(logs(w.actions).filter((l) => !l.startsWith("info: update")), [
    "info: Selected source 192.0.2.1 (s1)",
    "warn: Detected falseticker s4",
  ]);
  assert.deepEqual(w.engine.sources.map((s) => s.status?.state), [
    "selected",
    "combined",
    "combined",
    "falseticker",
  ]);
  // Only the agreeing sources make the estimate.
  for (const u of w.discipline.updates) assert.ok(Math.abs(u.update.offset - 0.010) < 1e-6);
  const before = w.actions.length;
  w.handle(w.engine.removeSource(0));
  w.handle(w.engine.removeSource(1));
  w.handle(w.engine.removeSource(2));
  w.handle(w.engine.removeSource(3));
  assert.deepEqual(logs(w.actions.slice(before)), [
    "info: Selected source 192.0.2.2 (s2)",
    "warn: Can't synchronise: no majority (no agreement among 2 sources)",
    "info: Selected source 192.0.2.4 (s4)",
    "warn: Can't synchronise: no selectable sources",
  ]);
  assert.equal(w.engine.selected, null);
  assert.ok(w.engine.sources.every((s) => s.removed && s.status === null));
  assert.ok(w.discipline.noUpdates > 0, "the discipline heard that there was no estimate");
  // A removed source's packets are ignored.
  assert.deepEqual(w.engine.onPacket(0, new Uint8Array(48), w.clock.now()), []);
});

Deno.test("engine: without logSelection the same run logs no selection, still updates", () => {
  const w = world({ clockOffset: 0.010, logSelection: false });
  w.servers.set("192.0.2.1", 0);
  started(w, 1);
  w.run(10);
  assert.deepEqual(logs(w.actions).filter((l) => !l.startsWith("info: update")), []);
  assert.ok(w.discipline.updates.length > 0);
});

Deno.test("engine: a pool's falseticker is handed back after POOL_FALSETICKER_LIMIT selections", () => {
  for (const pool of [{ 3: "pool.example" }, undefined]) {
    const w = world();
    ADDRESSES.forEach((a, i) => w.servers.set(a, i === 3 ? 1 : 0));
    started(w, 4, pool);
    w.run(300);
    const lost = w.actions.filter((a) => a.kind === "source-lost");
    assert.ok(w.engine.sources[3]!.falsetickerRuns > POOL_FALSETICKER_LIMIT);
    // Once, when the count reaches the limit; a server line is kept whatever it says.
    const expected = pool ? [{ kind: "source-lost", source: 3, reason: "falseticker" }] : [];
    assert.deepEqual(lost, expected);
  }
});

Deno.test("engine: clock changes reach every source's statistics until close()", () => {
  const w = world({ clockOffset: 0.010 });
  w.servers.set("192.0.2.1", 0);
  w.servers.set("192.0.2.2", 0);
  started(w, 2);
  w.run(10);
  const predicted = () => w.engine.sources.map((s) => s.stats.predictOffset(w.clock.now())!);
  for (const o of predicted()) assert.ok(Math.abs(o - 0.010) < 1e-6, `before ${o}`);
  // A step of the clock back by 10 ms: the stored samples follow, the sources now agree with us.
  w.clock.step(0.010);
  for (const o of predicted()) assert.ok(Math.abs(o) < 1e-6, `after the step ${o}`);
  // A frequency change: 100 ppm faster from now, so predictions 10 s on grow by 1 ms.
  const at = w.clock.now();
  w.clock.setFrequency(w.clock.readFrequency() - 100);
  const later = addSeconds(at, 10);
  for (const s of w.engine.sources) {
    const o = s.stats.predictOffset(later)!;
    assert.ok(Math.abs(o - 100e-6 * 10) < 1e-6, `after the frequency change ${o}`);
  }
  // Samples taken on the new timescale continue the corrected ones: one line of 100 ppm.
  w.run(300);
  for (const s of w.engine.sources) {
    const e = s.stats.estimate()!;
    assert.ok(e.samples > 4, `${e.samples} samples`);
    assert.ok(Math.abs(e.frequency - 100e-6) < 1e-7, `frequency ${e.frequency}`);
  }
  // Detached: a later step no longer moves the statistics.
  w.engine.close();
  const t = w.clock.now();
  const frozen = w.engine.sources.map((s) => s.stats.predictOffset(t));
  w.clock.step(0.005);
  assert.deepEqual(w.engine.sources.map((s) => s.stats.predictOffset(t)), frozen);
});

const PPS = { name: "PPS", poll: 4, filter: 16, offset: 0, delay: 1e-9, precision: 1e-9 };

Deno.test("engine: snapshots show sources, selection and tracking as plain values", () => {
  const w = world({ clockOffset: 0.010 });
  w.servers.set("192.0.2.1", 0);
  w.servers.set("192.0.2.2", 0);
  started(w, 2);
  w.run(10);
  w.engine.addRefclock({ options: PPS });
  assert.equal(w.engine.sourceCount(), 3);
  assert.deepEqual(w.engine.sourceList(), [
    { kind: "ntp", id: 0, name: "s1", address: "192.0.2.1" },
    { kind: "ntp", id: 1, name: "s2", address: "192.0.2.2" },
    { kind: "refclock", id: 0, name: "PPS", refId: 0x50505300 },
  ]);
  const snaps = w.engine.sourceSnapshots();
  assert.deepEqual(snaps.map((s) => s.kind), ["ntp", "ntp", "refclock"]);
  const s1 = snaps[0]!;
  assert.ok(s1.kind === "ntp");
  assert.equal(s1.now, w.clock.now());
  assert.equal(s1.statistics.np, 4);
  assert.equal(s1.report.totalRx, 4);
  assert.ok(s1.selection !== null && Math.abs(s1.selection.offset - 0.010) < 1e-5);
  assert.equal(w.engine.sourceSnapshot(3), null);
  assert.equal(w.engine.sourceSnapshot(-1), null);
  // a snapshot is a copy: changing it changes nothing in the engine
  s1.select.noselect = true;
  assert.deepEqual(w.engine.selectOptions({ kind: "ntp", id: 0 }), {});
  const sys = w.engine.systemSnapshot();
  assert.ok(sys.selected !== null && sys.selected.kind === "ntp");
  const chosen = w.engine.sourceSnapshots()[sys.selected.id]!;
  assert.equal(chosen.status?.state, "selected");
  assert.equal(sys.selectedScore, chosen.status?.score);
  assert.equal(sys.lastUpdate, w.engine.lastUpdate);
  assert.equal(sys.tracking, null); // the recording discipline keeps no tracking data
});

Deno.test("engine: commands change options, offsets and selection options by reference", () => {
  const w = world();
  started(w, 1);
  w.engine.addRefclock({ options: PPS });
  assert.equal(w.engine.modifySource(0, "maxpoll", 5), true);
  assert.equal(w.engine.sources[0]!.ntp.options.maxpoll, 5);
  assert.equal(w.engine.modifySource(9, "maxpoll", 5), false);
  assert.equal(w.engine.setSourceOffset({ kind: "ntp", id: 0 }, 0.25), true);
  assert.equal(w.engine.sources[0]!.ntp.options.offset, 0.25);
  assert.equal(w.engine.setSourceOffset({ kind: "refclock", id: 0 }, -1e-3), true);
  assert.equal(w.engine.setSourceOffset({ kind: "refclock", id: 1 }, 0), false);
  const trust = { trust: true, prefer: false };
  assert.equal(w.engine.setSelectOptions({ kind: "refclock", id: 0 }, trust), true);
  assert.deepEqual(w.engine.refclocks[0]!.spec.select, trust);
  assert.deepEqual(w.engine.sourceSnapshot(1)?.select, trust);
  assert.equal(w.engine.setSelectOptions({ kind: "ntp", id: 4 }, trust), false);
  w.engine.removeSource(0);
  assert.equal(w.engine.selectOptions({ kind: "ntp", id: 0 }), null);
  assert.equal(w.engine.modifySource(0, "maxpoll", 6), false);
  assert.equal(w.engine.sourceCount(), 1);
});

Deno.test("engine: makestep steps away the correction still to be slewed", () => {
  const w = world();
  assert.equal(w.engine.makestep(), 0);
  w.clock.accumulateOffset(0.5, 1e-3);
  const remaining = w.clock.remainingCorrection();
  assert.ok(remaining !== 0);
  assert.equal(w.engine.makestep(), remaining);
  assert.equal(w.clock.remainingCorrection(), 0);
});

Deno.test("engine: the per-id views the daemon's wiring uses follow the live sources", () => {
  const w = world({ clockOffset: 0.010 });
  w.servers.set(ADDRESSES[0]!, 0);
  started(w, 2);
  w.engine.addSource({ name: "p", address: ADDRESSES[2]!, options: { kind: "peer" } });
  const handle = w.engine.sourceHandle(0)!;
  assert.equal(w.engine.sourceHandle(0), handle, "one handle per source, not one per call");
  assert.deepEqual([handle.peer, w.engine.sourceHandle(2)?.peer], [false, true]);
  assert.equal(w.engine.sourceHandle(7), null);
  assert.deepEqual(w.engine.pollProgress(0), { reachUpdates: 0, samples: 0 });
  w.run(10);
  // four iburst replies from the first server, none from the second
  assert.equal(handle.validReplies(), 4);
  assert.equal(w.engine.sourceHandle(1)!.validReplies(), 0);
  assert.deepEqual(w.engine.pollProgress(0), { reachUpdates: 4, samples: 4 });
  assert.deepEqual(w.engine.liveIds(), [0, 1, 2]);
  w.handle(w.engine.removeSource(1));
  assert.deepEqual(w.engine.liveIds(), [0, 2]);
  assert.deepEqual([...w.engine.liveAddresses()], [ADDRESSES[0], ADDRESSES[2]]);
  assert.deepEqual([w.engine.isLive(0), w.engine.isLive(1), w.engine.isLive(9)], [
    true,
    false,
    false,
  ]);
  assert.equal(w.engine.sourceAddress(1), ADDRESSES[1], "a removed source keeps its address");
  assert.equal(w.engine.sourceAddress(9), null);
  assert.equal(w.engine.pollProgress(1), null);
  const summaries = w.engine.sourceSummaries();
  assert.deepEqual(summaries.map((s) => [s.id, s.address, s.removed, s.selected]), [
    [0, ADDRESSES[0], false, true],
    [1, ADDRESSES[1], true, false],
    [2, ADDRESSES[2], false, false],
  ]);
  assert.equal(summaries[0]!.status?.state, "selected");
  assert.equal(summaries[0]!.reach, w.engine.sourceSnapshot(0)!.reach);
});

Deno.test("engine: the sample and selection observers get values, not the live source", () => {
  const rows: SelectionRow[][] = [];
  const clock = new SimClock({ start: T0 });
  const engine = new Engine({
    clock,
    discipline: new RecordingDiscipline(),
    randomBytes: (n) => new Uint8Array(n),
    onSelection: (r) => rows.push([...r]),
  });
  engine.addSource({ name: "s1", address: ADDRESSES[0]!, options: {}, select: { prefer: true } });
  engine.start();
  engine.reselect();
  const last = rows.at(-1)!;
  assert.deepEqual(last.map((r) => [r.address, r.status, r.select, r.reach]), [
    [ADDRESSES[0], engine.sourceSnapshot(0)!.status, { prefer: true }, 0],
  ]);
  assert.ok(last[0]!.status !== null);
  assert.equal(last[0]!.selection, null, "no samples yet");
});
