/**
 * The deterministic simulator: one horae `Engine` on a `SimClock`, talking
 * through simulated paths (`SimLink`) to simulated servers (`SimServer`),
 * driven by an event queue in true time (bigint ns). Engine `send` actions
 * become datagrams that reach the server after the up-link's transit time;
 * replies reach the client after the down-link's, and are timestamped with
 * the client's cooked clock at arrival. Engine `timer` actions (cooked local
 * time) are turned into true time through the clock's present rate and
 * re-armed if they come early. The clock's own slew timers and leap second
 * run inside `SimClock`. Every true second the offset of the client's clock
 * (what programs reading it see) to UTC is recorded. Nothing here reads the
 * real time or `Math.random`: a run is a pure function of its scenario.
 *
 * @example
 * ```ts
 * import { runScenario } from "./simulation.ts";
 * import { scenario } from "./scenarios.ts";
 * const r = runScenario(scenario("lan"), { duration: 600 });
 * console.log(r.syncTime, r.rmsOffset, r.maxOffset, r.freqError);
 * ```
 * @module
 */
import { Prng } from "../clock/prng.ts";
import { SimClock } from "../clock/sim_clock.ts";
import { Engine, type EngineAction, type EngineApi } from "../engine/engine.ts";
import { addSeconds, diffSeconds, NS_PER_SEC, type Timestamp } from "../time/timestamp.ts";
import { EventQueue } from "./event_queue.ts";
import { ReferenceDiscipline } from "../engine/discipline.ts";
import { Reference } from "../clock/reference.ts";
import { ManualInput } from "../clock/manual.ts";
import { Smoothing } from "../clock/smoothing.ts";
import type { Scenario } from "./scenario.ts";
import { SimLink } from "./sim_link.ts";
import { SimServer, utcShift } from "./sim_server.ts";

/** |offset| below which the clock counts as synchronised, seconds (SIM-SCENARIOS.md). */
export const SYNC_THRESHOLD = 1e-3;

/** Overrides for one run. */
export interface RunOptions {
  /** Run length, seconds (default: the scenario's). */
  duration?: number;
  /** Warm-up, seconds (default: the scenario's, capped at half the run). */
  warmup?: number;
  /** Seed (default: the scenario's). */
  seed?: number;
  /** Keep the per-second offsets in the result. Default false. */
  trace?: boolean;
  /** Called at every reference update (for diagnostics): seconds since the start, engine, clock. */
  onUpdate?: (elapsed: number, engine: EngineApi, clock: SimClock) => void;
}

/** Final state of one source. */
export interface SourceOutcome {
  address: string;
  /** `chronyc sources` mark: `*` selected, `+` combined, `x` falseticker, ... ('?' before any). */
  mark: string;
  /** Current poll, log2 s. */
  poll: number;
  /** Reach register. */
  reach: number;
  /** Requests sent and replies received. */
  sent: number;
  received: number;
  /** Error of the server's clock at the end, seconds. */
  serverError: number;
}

/** Figures of one run. Offsets are client clock minus UTC, seconds. */
export interface SimResult {
  scenario: string;
  seed: number;
  /** Simulated seconds run, and the warm-up used. */
  duration: number;
  warmup: number;
  /** First whole second at which |offset| < 1 ms, or null if never. */
  syncTime: number | null;
  /** RMS and maximum |offset| from the warm-up to the end, seconds. */
  rmsOffset: number;
  maxOffset: number;
  /** Offset at the end, seconds. */
  finalOffset: number;
  /**
   * With one source: the offset its path lets any NTP client see, the
   * server's error plus half of (up − down) fixed delay (a fixed asymmetry is
   * invisible: SIM-SCENARIOS.md's wan-asym), else null.
   */
  visibleOffset: number | null;
  /** RMS of (offset − visibleOffset) from the warm-up to the end, or null: how well the client tracks what it can see. */
  rmsAboutVisible: number | null;
  /** Frequency error of the disciplined clock at the end (slew excluded), ppm. */
  freqError: number;
  /** Clock steps made by the discipline, and reference updates. */
  steps: number;
  updates: number;
  /** Seconds from the start to the first reference update, or null. */
  firstUpdate: number | null;
  /** Requests sent in the first 20 s (iburst). */
  earlyRequests: number;
  /** Seconds after a server's step until |offset to that server| < 1 ms again (null: no step or never). */
  resyncAfterStep: number | null;
  /** Whether the client's kernel applied the scenario's leap second. */
  leapApplied: boolean;
  sources: SourceOutcome[];
  /** Index of the selected source at the end, or null. */
  selected: number | null;
  /** Per-second offsets (only with `trace`). */
  trace?: Float64Array;
  /** Log lines of the engine (first 200). */
  log: string[];
  /** With `smoothtime`: the served time (cooked + smoothing offset) measured each second. */
  smoothing?: SmoothingOutcome;
}

/** What a smoothing server would have served, from its activation on. */
export interface SmoothingOutcome {
  /** Seconds from the start to the activation, or null. */
  activatedAt: number | null;
  /** Largest |served time error| change from one second to the next, s (i.e. frequency, s/s). */
  maxFrequency: number;
  /** Largest change of that per-second change between consecutive seconds (wander, s/s per s). */
  maxWander: number;
  /** Served time minus true time at the end, s. */
  finalError: number;
}

type SimEvent =
  | { kind: "second" }
  | { kind: "settime"; error: number }
  | { kind: "timer"; generation: number; at: Timestamp }
  | { kind: "to-server"; index: number; bytes: Uint8Array }
  | { kind: "to-client"; index: number; bytes: Uint8Array };

/** Runs one scenario to the end and measures it. */
export function runScenario(scenario: Scenario, options: RunOptions = {}): SimResult {
  const seed = options.seed ?? scenario.seed;
  const duration = options.duration ?? scenario.duration;
  const warmup = Math.min(options.warmup ?? scenario.warmup, duration / 2);
  const start = scenario.start;
  const end = addSeconds(start, duration);
  const leapInsertAt = scenario.leapInsertAt ?? null;

  const clock = new SimClock({
    start,
    offset: scenario.client.offset,
    frequencyError: scenario.client.frequencyError,
    wander: scenario.client.wander,
    seed,
  });
  const discipline = new ReferenceDiscipline(
    new Reference(clock, { makestep: scenario.client.makestep }),
  );
  if (scenario.client.initstepslew !== undefined) {
    discipline.reference.setInitStepSlew(scenario.client.initstepslew);
  }
  const manual = new ManualInput({ enabled: true });
  clock.onParameterChange((c) => manual.onClockChange(c));
  const bytesRng = new Prng(seed ^ 0x5eed_0001);
  const engine = new Engine({
    clock,
    discipline,
    randomBytes: (n) => {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = bytesRng.nextUint32() & 0xff;
      return out;
    },
  });
  const world = { start, leapInsertAt };
  const paths = scenario.sources.map((s, i) => ({
    up: new SimLink(s.up, new Prng(seed * 7919 + 2 * i + 1)),
    down: new SimLink(s.down, new Prng(seed * 7919 + 2 * i + 2)),
    server: new SimServer(s.server ?? {}, world),
    sent: 0,
    received: 0,
  }));
  const ids = scenario.sources.map((s, i) =>
    engine.addSource({
      name: s.name ?? `192.0.2.${i + 1}`,
      address: `192.0.2.${i + 1}`,
      options: s.options,
    }).id
  );
  const indexOfId = new Map(ids.map((id, i) => [id, i]));
  // smoothtime: activated as the daemon does (skew / 10000 below the wander limit)
  const smoothing = scenario.smoothing ? new Smoothing(scenario.smoothing) : null;
  if (smoothing) clock.onParameterChange((c) => smoothing.onClockChange(c));
  let smoothingFrom: number | null = null;
  const served: number[] = [];

  const queue = new EventQueue<SimEvent>();
  let timerGeneration = 0;
  const log: string[] = [];
  let firstUpdate: number | null = null;
  let earlyRequests = 0;
  const trueNow = (): Timestamp => clock.trueTime();
  const elapsed = (): number => diffSeconds(trueNow(), start);

  /** Schedules the engine's cooked-time timer at the true time the clock should reach it. */
  const armTimer = (at: Timestamp, generation: number): void => {
    const local = diffSeconds(at, clock.now());
    const seconds = local / (1 + clock.trueFrequencyError());
    const ns = BigInt(Math.max(1, Math.ceil(seconds * 1e9)));
    queue.push(trueNow() + ns, { kind: "timer", generation, at });
  };

  const handle = (actions: EngineAction[]): void => {
    for (const a of actions) {
      switch (a.kind) {
        case "send": {
          const index = indexOfId.get(a.source);
          const path = index === undefined ? undefined : paths[index];
          if (index === undefined || path === undefined) break;
          path.sent++;
          if (elapsed() < 20) earlyRequests++;
          const transit = path.up.transit();
          if (transit !== null) {
            queue.push(addSeconds(trueNow(), transit), {
              kind: "to-server",
              index,
              bytes: a.bytes,
            });
          }
          break;
        }
        case "timer":
          timerGeneration++;
          if (a.at !== null) armTimer(a.at, timerGeneration);
          break;
        case "log":
          if (log.length < 200) log.push(`${elapsed().toFixed(3)} ${a.message}`);
          break;
        case "update":
          firstUpdate ??= elapsed();
          if (smoothing && !smoothing.active) {
            const skew = discipline.reference.trackingData(clock.now()).skew;
            if (skew / 1e4 < smoothing.options.maxWanderPpm) {
              smoothing.activate(clock.now());
              smoothingFrom = elapsed();
            }
          }
          options.onUpdate?.(elapsed(), engine, clock);
          break;
        case "source-lost":
          break;
      }
    }
  };

  const samples = Math.floor(duration) + 1;
  const trace = new Float64Array(samples);
  const offsetNow = (): number => {
    const t = trueNow();
    const o = clock.trueOffset() - utcShift(t, leapInsertAt);
    // In the second after an inserted leap second, 23:59:60 and 00:00:00 read alike:
    // a clock a few µs behind has not applied it yet, which is not an error of a second.
    if (leapInsertAt !== null && t >= leapInsertAt && t < leapInsertAt + NS_PER_SEC) {
      return o - Math.round(o);
    }
    return o;
  };

  queue.push(start, { kind: "second" });
  for (const m of scenario.client.settime ?? []) {
    queue.push(addSeconds(start, m.at), { kind: "settime", error: m.error });
  }
  handle(engine.start());
  let leapApplied = false;
  for (;;) {
    const ev = queue.pop();
    if (ev === undefined || ev.at > end) break;
    const before = clock.trueOffset();
    clock.setTrueTime(ev.at);
    // Only the kernel's leap second moves the raw clock by a second inside setTrueTime.
    if (before - clock.trueOffset() > 0.5) leapApplied = true;
    const e = ev.value;
    switch (e.kind) {
      case "second": {
        const k = Number((ev.at - start) / NS_PER_SEC);
        if (k < samples) trace[k] = offsetNow();
        if (smoothing?.active) {
          served.push(clock.trueCookedOffset() + smoothing.offsetAt(clock.now()));
        }
        queue.push(ev.at + NS_PER_SEC, { kind: "second" });
        break;
      }
      case "settime": {
        // the operator reads true time (UTC, `error` late) and types it in
        const given = addSeconds(trueNow(), e.error - utcShift(trueNow(), leapInsertAt));
        const r = manual.accept(clock.now(), given);
        if (!r.ok) break;
        const messages = discipline.manual(r.correction, r.dfreq, manual.list().length > 1);
        for (const m of messages) if (log.length < 200) log.push(`${elapsed().toFixed(3)} ${m}`);
        break;
      }
      case "timer":
        if (e.generation !== timerGeneration) break;
        if (clock.now() < e.at) armTimer(e.at, e.generation);
        else handle(engine.onTimer());
        break;
      case "to-server": {
        const path = paths[e.index]!;
        const reply = path.server.respond(e.bytes, ev.at);
        if (reply === null) break;
        const transit = path.down.transit();
        if (transit === null) break;
        const at = addSeconds(ev.at, path.server.processing + transit);
        queue.push(at, { kind: "to-client", index: e.index, bytes: reply });
        break;
      }
      case "to-client":
        paths[e.index]!.received++;
        handle(engine.onPacket(ids[e.index]!, e.bytes, clock.now()));
        break;
    }
  }
  clock.setTrueTime(end);
  engine.close();

  const only = scenario.sources.length === 1 ? scenario.sources[0]! : null;
  const visibleOffset = only === null || only.server?.step !== undefined
    ? null
    : (only.server?.offset ?? 0) + (only.up.delay - only.down.delay) / 2;
  let syncTime: number | null = null;
  let sum2 = 0, max = 0, n = 0, sumV2 = 0;
  for (let k = 0; k < samples; k++) {
    const o = trace[k]!;
    if (syncTime === null && Math.abs(o) < SYNC_THRESHOLD) syncTime = k;
    if (k >= warmup) {
      sum2 += o * o;
      if (visibleOffset !== null) sumV2 += (o - visibleOffset) ** 2;
      max = Math.max(max, Math.abs(o));
      n++;
    }
  }

  let resyncAfterStep: number | null = null;
  const stepSource = scenario.sources.findIndex((s) => s.server?.step !== undefined);
  if (stepSource >= 0) {
    const server = paths[stepSource]!.server;
    const stepAt = Math.ceil(scenario.sources[stepSource]!.server!.step!.at);
    for (let k = stepAt; k < samples; k++) {
      const err = server.errorAt(addSeconds(start, k));
      if (Math.abs(trace[k]! - err) < SYNC_THRESHOLD) {
        resyncAfterStep = k - stepAt;
        break;
      }
    }
  }

  const summaries = engine.sourceSummaries();
  const sources: SourceOutcome[] = summaries.map((s) => {
    const i = indexOfId.get(s.id)!;
    const p = paths[i]!;
    return {
      address: s.address,
      mark: s.status?.mark ?? "?",
      poll: s.poll,
      reach: s.reach,
      sent: p.sent,
      received: p.received,
      serverError: p.server.errorAt(end),
    };
  });
  const chosen = summaries.find((s) => s.selected);
  const selected = chosen === undefined ? null : indexOfId.get(chosen.id) ?? null;
  let smoothingOutcome: SmoothingOutcome | undefined;
  if (smoothing) {
    let maxFrequency = 0, maxWander = 0;
    for (let k = 1; k < served.length; k++) {
      const f = served[k]! - served[k - 1]!;
      maxFrequency = Math.max(maxFrequency, Math.abs(f));
      if (k >= 2) maxWander = Math.max(maxWander, Math.abs(f - (served[k - 1]! - served[k - 2]!)));
    }
    smoothingOutcome = {
      activatedAt: smoothingFrom,
      maxFrequency,
      maxWander,
      finalError: served.at(-1) ?? 0,
    };
  }

  return {
    scenario: scenario.name,
    seed,
    duration,
    warmup,
    syncTime,
    rmsOffset: n > 0 ? Math.sqrt(sum2 / n) : 0,
    maxOffset: max,
    finalOffset: trace[samples - 1]!,
    visibleOffset,
    rmsAboutVisible: visibleOffset !== null && n > 0 ? Math.sqrt(sumV2 / n) : null,
    freqError: clock.trueFrequencyError() * 1e6,
    steps: discipline.steps,
    updates: discipline.updates,
    firstUpdate,
    earlyRequests,
    resyncAfterStep,
    leapApplied,
    sources,
    selected,
    ...(options.trace ? { trace } : {}),
    log,
    ...(smoothingOutcome ? { smoothing: smoothingOutcome } : {}),
  };
}
