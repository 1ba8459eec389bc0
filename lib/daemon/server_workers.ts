/**
 * horae only: `serverworkers N` — the NTP server answered by N threads that
 * share the NTP port. chronyd serves from its one thread; horae's main
 * thread stays shard 0 (its socket, responder and client log as with N = 1,
 * also holding the command and NTS-KE clients), and N-1 Deno Workers
 * (lib/daemon/server_worker.ts) each open their own socket per family in the
 * same SO_REUSEPORT group, with their own {@link NtpServer} and
 * {@link ClientLog} shard (`clientloglimit` / N each; the main thread keeps
 * its whole log, so all shards together stay under twice the limit). The group is steered
 * by source address (a classic BPF program, ffi/libc.ts
 * `steerReuseportBySource`): every request of one client address, from any
 * port, reaches the same shard, so its rate limiting, interleaved mode and
 * `clients` row stay whole (the kernel's default four-tuple hash would spread
 * a chronyd client, which takes a new source port per request, over all
 * shards).
 *
 * What each worker must serve, and how it gets there:
 * - the served reference (leap, stratum, refid, root delay/dispersion and its
 *   growth, the `local` fallback): posted (postMessage) each time the main
 *   thread sets it on its own responder (every clock update and the 1 s
 *   refresh);
 * - the cooked-minus-real clock offset, read once per batch: a
 *   SharedArrayBuffer model (a piecewise-linear function of CLOCK_REALTIME,
 *   sampled from the clock with {@link cookedAt}) behind a sequence counter,
 *   republished at every change of the clock's parameters and with the
 *   reference; a worker reads it without a message;
 * - `extfield F323`: the monotonic epoch at start, the sum of the clock's
 *   offset corrections (what the monotonic receive timestamp leaves out) in
 *   that model, published with it;
 * - `smoothtime`: the main thread's smoothing plan, in a second shared model
 *   ({@link SmoothingModel}) republished after every change of it;
 * - an NTS server's cookie keys: copies at start and after every rotation or
 *   reload (nts_server.ts's key listeners, where the NTS-KE helpers get
 *   theirs; the same "keys" message);
 * - `allow`/`deny` (also at run time through chronyc), `ratelimit`,
 *   `clientloglimit`, `noclientlog`, `keyfile` (the worker reads the keys
 *   itself; `rekey` is forwarded), `bindaddress`, `binddevice`, `dscp`: at
 *   start and, for rules and rekey, by message;
 * - `serverstats` and `clients`: the main thread asks each worker
 *   synchronously through a second SharedArrayBuffer (request, Atomics.wait
 *   with a time limit; the worker answers from Atomics.waitAsync in its event
 *   loop), sums the counters and merges the client rows by address.
 * `broadcast` is sent by the main thread alone. Not supported yet with
 * workers (start-up says so and serves from the main thread alone):
 * `hwtimestamp` (the workers' sockets would get no NIC timestamps).
 *
 * @module
 */
import type { Config } from "../conf/config.ts";
import { close } from "../../ffi/libc.ts";
import type { ClientLog, ClientReport, RateLimit, ServerStatsReport } from "../ntp/clientlog.ts";
import type { AccessRule, AddressFilter } from "../ntp/addrfilt.ts";
import type { NtpServer, ServerReference } from "../ntp/server.ts";
import type { Timestamp } from "../time/timestamp.ts";
import { realNow } from "../io/realtime.ts";
import type { NtpServerSocketStats } from "../io/ntp_server.ts";
import type { TickingClock } from "./client_io.ts";
import type { Logger } from "./log.ts";
import { cookedAt } from "./system.ts";
import type { Smoothing, SmoothingOptions, SmoothingPlan } from "../clock/smoothing.ts";
import type { ServerKey, ServerKeyRing } from "../nts/cookie.ts";
import { copyKeys } from "./nts_ke_helpers.ts";

/** What the worker gets at start (structured clone). */
export interface WorkerStart {
  type: "start";
  /** Shard number (1..N-1; the main thread is 0). */
  index: number;
  /** Sockets in the SO_REUSEPORT group (N). */
  group: number;
  families: ("ipv4" | "ipv6")[];
  port: number;
  bindAddress: { ipv4?: string; ipv6?: string };
  device?: string;
  tos: number;
  clientLogLimit: number;
  noClientLog: boolean;
  rateLimit?: RateLimit;
  rules: AccessRule[];
  keyFile?: string;
  /** The NTS server's cookie keys (an NTS server is configured). */
  ntsKeys?: ServerKey[];
  /** `smoothtime`: its options and the shared {@link SmoothingModel}. */
  smoothing?: { options: SmoothingOptions; sab: SharedArrayBuffer };
  reference: ServerReference;
  cooked: SharedArrayBuffer;
  /** `extfield F323`: the main thread's monotonic epoch (its correction is in `cooked`). */
  monotonicEpoch?: number;
  query: SharedArrayBuffer;
}

/** Messages to a worker. */
export type ToWorker =
  | WorkerStart
  | { type: "reference"; reference: ServerReference }
  | { type: "rule"; rule: AccessRule }
  | { type: "rekey" }
  | { type: "keys"; keys: ServerKey[] }
  | { type: "ping"; id: number }
  | { type: "stop" };

/** Messages from a worker. */
export type FromWorker =
  | { type: "ready"; fds: number[] }
  | { type: "fds"; fds: number[] }
  | { type: "error"; message: string }
  | { type: "pong"; id: number }
  | { type: "stopped" };

/** A worker's answer to a stats query. */
export interface WorkerStats {
  log: ServerStatsReport;
  socket: NtpServerSocketStats;
}

// query channel: Int32 control words, then the data bytes
/** ctl[0]: idle, request written, answer written. */
export const Q_IDLE = 0;
export const Q_REQUEST = 1;
export const Q_ANSWER = 2;
/** ctl[1] commands. */
export const Q_STATS = 1;
export const Q_CLIENTS = 2;
export const Q_NEXT = 3;
/** ctl[2]: bytes in the data area; ctl[3]: answer bytes still to come; ctl[4]/[5]: request id sent/answered. */
export const Q_CONTROL_BYTES = 32;
/** Data area of the query channel (longer answers come in pieces). */
export const Q_DATA_BYTES = 256 * 1024;
/** How long the main thread waits for one answer, ms. */
const QUERY_TIMEOUT_MS = 2000;

/**
 * The cooked-minus-real offset as a piecewise-linear function of
 * CLOCK_REALTIME (one writer, the main thread; readers in the workers), in a
 * SharedArrayBuffer behind a sequence counter (odd while being written):
 * offset(r) = o0 + s1 (r - r0) before `end`, oEnd + s2 (r - end) after;
 * with it the F323 correction ({@link NtpServer.setMonotonic}), ns.
 */
export class CookedModel {
  readonly sab: SharedArrayBuffer;
  readonly #seq: Int32Array;
  readonly #t: BigInt64Array; // r0, end (ns; end < 0: none)
  readonly #f: Float64Array; // o0 (ns), s1, oEnd (ns), s2
  readonly #c: BigInt64Array; // the F323 correction (ns)
  /** Where {@link publishFrom} reads the F323 correction (main thread; default none, 0). */
  correctionSource: (() => bigint) | null = null;
  constructor(sab: SharedArrayBuffer = new SharedArrayBuffer(64)) {
    this.sab = sab;
    this.#seq = new Int32Array(sab, 0, 2);
    this.#t = new BigInt64Array(sab, 8, 2);
    this.#f = new Float64Array(sab, 24, 4);
    this.#c = new BigInt64Array(sab, 56, 1);
  }

  /** Writes a new model (main thread). */
  publish(
    r0: Timestamp,
    o0: number,
    s1: number,
    end: Timestamp | null,
    oEnd: number,
    s2: number,
    correction = 0n,
  ) {
    Atomics.add(this.#seq, 0, 1);
    Atomics.store(this.#c, 0, correction);
    Atomics.store(this.#t, 0, r0);
    Atomics.store(this.#t, 1, end ?? -1n);
    this.#f[0] = o0;
    this.#f[1] = s1;
    this.#f[2] = oEnd;
    this.#f[3] = s2;
    Atomics.add(this.#seq, 0, 1);
  }

  /** Samples `clock` now and publishes (main thread). */
  publishFrom(clock: TickingClock): void {
    const r0 = realNow();
    const off = (r: Timestamp) => Number(cookedAt(clock, r) - r);
    const o0 = off(r0);
    const tick = (clock as { nextTick?: Timestamp | null }).nextTick ?? null;
    const c = this.correctionSource?.() ?? 0n;
    if (tick !== null && tick > r0) {
      const oEnd = off(tick);
      const s1 = (oEnd - o0) / Number(tick - r0);
      this.publish(r0, o0, s1, tick, oEnd, (off(tick + 1_000_000_000n) - oEnd) / 1e9, c);
    } else {
      this.publish(r0, o0, (off(r0 + 1_000_000_000n) - o0) / 1e9, null, 0, 0, c);
    }
  }

  /** The F323 correction published with the model, ns (0 before the first publication). */
  correction(): bigint {
    for (let i = 0; i < 100; i++) {
      const s = Atomics.load(this.#seq, 0);
      if ((s & 1) !== 0) continue;
      const c = Atomics.load(this.#c, 0);
      if (Atomics.load(this.#seq, 0) === s) return c;
    }
    return 0n;
  }

  /** The cooked-minus-real offset at real time `r`, ns (0 before the first publication). */
  offsetAt(r: Timestamp): Timestamp {
    for (let i = 0; i < 100; i++) {
      const s = Atomics.load(this.#seq, 0);
      if ((s & 1) !== 0) continue;
      const r0 = Atomics.load(this.#t, 0), end = Atomics.load(this.#t, 1);
      const o0 = this.#f[0]!, s1 = this.#f[1]!, oEnd = this.#f[2]!, s2 = this.#f[3]!;
      if (Atomics.load(this.#seq, 0) !== s) continue;
      if (s === 0) return 0n;
      const v = end >= 0n && r >= end ? oEnd + s2 * Number(r - end) : o0 + s1 * Number(r - r0);
      return BigInt(Math.round(v));
    }
    return 0n;
  }
}

/**
 * The `smoothtime` process's plan ({@link SmoothingPlan}: start, offset,
 * frequency, up to three pieces of constant wander) in a SharedArrayBuffer
 * behind a sequence counter (odd while being written), as
 * {@link CookedModel}: the main thread publishes after every change of its
 * {@link Smoothing}, a worker's copy takes the plan when the counter moved,
 * so both serve the same offset at the same time.
 */
export class SmoothingModel {
  readonly sab: SharedArrayBuffer;
  readonly #i: Int32Array; // seq, active, pieces
  readonly #t: BigInt64Array; // start
  readonly #f: Float64Array; // o, f, (duration, wander) x 3
  #seen = 0;
  constructor(sab: SharedArrayBuffer = new SharedArrayBuffer(88)) {
    this.sab = sab;
    this.#i = new Int32Array(sab, 0, 4);
    this.#t = new BigInt64Array(sab, 16, 1);
    this.#f = new Float64Array(sab, 24, 8);
  }

  /** Writes `plan` (main thread). */
  publish(plan: SmoothingPlan): void {
    Atomics.add(this.#i, 0, 1);
    Atomics.store(this.#i, 1, plan.active ? 1 : 0);
    const n = Math.min(3, plan.pieces.length);
    Atomics.store(this.#i, 2, n);
    Atomics.store(this.#t, 0, plan.start);
    this.#f[0] = plan.o;
    this.#f[1] = plan.f;
    for (let k = 0; k < n; k++) {
      this.#f[2 + 2 * k] = plan.pieces[k]!.duration;
      this.#f[3 + 2 * k] = plan.pieces[k]!.wander;
    }
    Atomics.add(this.#i, 0, 1);
  }

  /** Gives `copy` the published plan if it changed since the last call (a worker). */
  update(copy: Smoothing): void {
    for (let i = 0; i < 100; i++) {
      const s = Atomics.load(this.#i, 0);
      if (s === this.#seen) return;
      if ((s & 1) !== 0) continue;
      const n = Atomics.load(this.#i, 2);
      const plan: SmoothingPlan = {
        active: Atomics.load(this.#i, 1) === 1,
        start: Atomics.load(this.#t, 0),
        o: this.#f[0]!,
        f: this.#f[1]!,
        pieces: Array.from({ length: n }, (_, k) => ({
          duration: this.#f[2 + 2 * k]!,
          wander: this.#f[3 + 2 * k]!,
        })),
      };
      if (Atomics.load(this.#i, 0) !== s) continue;
      copy.restore(plan);
      this.#seen = s;
      return;
    }
  }
}

/**
 * Why `serverworkers` cannot be used with this configuration (null: it can).
 * The workers' sockets would need the NIC's timestamps and the main thread's
 * conversion of them (lib/daemon/hwtimestamp.ts), which they do not have.
 */
export function serverWorkersBlocker(config: Config): string | null {
  if (config.hwTimestamps.length > 0) {
    return "hwtimestamp (the worker threads' sockets would get no NIC timestamps)";
  }
  return null;
}

/**
 * Sockets in the SO_REUSEPORT group for `config` (1: no workers), logging
 * why `serverworkers` is not used when something blocks it.
 */
export function serverWorkerGroup(config: Config, log: Logger): number {
  if (config.serverWorkers <= 1) return 1;
  const blocker = serverWorkersBlocker(config);
  if (blocker === null) return config.serverWorkers;
  log.warn(
    `serverworkers ${config.serverWorkers} not supported yet with ${blocker}; ` +
      "NTP served by the main thread alone",
  );
  return 1;
}

/** Options of {@link startServerWorkers}. */
export interface ServerWorkersOptions {
  /** Sockets in the group (N, counting the main thread's). */
  group: number;
  config: Config;
  families: ("ipv4" | "ipv6")[];
  /** The main thread's responder: its reference updates are forwarded. */
  server: NtpServer;
  /** The reference served now. */
  reference: ServerReference;
  /** The main thread's client log: `serverstats` and `clients` merge the workers' into it. */
  clientLog: ClientLog;
  /** The NTP access table: rules added at run time are forwarded. */
  filter: AddressFilter;
  /** The initial rules of that table (config order). */
  rules: AccessRule[];
  /** `rekey`: called by the daemon's key store reload (forwarded). */
  keys: { reload(): void };
  clock: TickingClock;
  log: Logger;
  rateLimit?: RateLimit;
  /** The NTS server: its cookie keys go to the workers at start and after each change. */
  nts?: { ring: ServerKeyRing; onKeysChanged(listener: () => void): void } | null;
  /** `smoothtime`: the main thread's process, copied to the workers after each change. */
  smoothing?: Smoothing | null;
  /**
   * `extfield F323`: the main thread's correction (read after each change of the clock's
   * parameters, its own listener having run first) and epoch, served by the workers too.
   */
  monotonic?: { correction(): bigint; epoch: number } | null;
}

interface Shard {
  index: number;
  worker: Worker;
  ctl: Int32Array;
  data: Uint8Array;
  fds: number[];
  alive: boolean;
  nextId: number;
}

/** The running worker threads; see the module documentation. */
export class ServerWorkers {
  readonly #shards: Shard[] = [];
  readonly #log: Logger;
  #mainStats: (() => ServerStatsReport) | null = null;
  readonly cooked = new CookedModel();
  #stopping = false;
  #unlisten: () => void = () => {};
  #pings = new Map<number, () => void>();
  #nextPing = 1;

  private constructor(log: Logger) {
    this.#log = log;
  }

  /** Shards running (workers, not counting the main thread). */
  get size(): number {
    return this.#shards.filter((s) => s.alive).length;
  }

  /** Per-worker socket and client-log counters (null for a worker that did not answer). */
  workerStats(): (WorkerStats | null)[] {
    return this.#shards.map((s) => this.#query(s, Q_STATS, null) as WorkerStats | null);
  }

  /** Client rows of every worker at `now` s (chronyc clients options). */
  workerClients(now: number, options: { minPackets?: number; reset?: boolean }): ClientReport[][] {
    return this.#shards.map((s) =>
      (this.#query(s, Q_CLIENTS, { now, ...options }) as ClientReport[] | null) ?? []
    );
  }

  /** Round trip of a message to every worker and back, ms each (bench: message latency). */
  async ping(): Promise<number[]> {
    const out: number[] = [];
    for (const s of this.#shards) {
      if (!s.alive) continue;
      const id = this.#nextPing++;
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        this.#pings.set(id, resolve);
        s.worker.postMessage({ type: "ping", id } satisfies ToWorker);
      });
      out.push(performance.now() - t0);
    }
    return out;
  }

  #post(m: ToWorker): void {
    for (const s of this.#shards) if (s.alive) s.worker.postMessage(m);
  }

  /** Synchronous query of one worker (see the module documentation); null without an answer. */
  #query(s: Shard, cmd: number, args: unknown): unknown {
    if (!s.alive) return null;
    const ctl = s.ctl;
    const chunks: Uint8Array[] = [];
    let c = cmd;
    let req = args === null ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(args));
    for (;;) {
      if (req.length > s.data.length) return null;
      s.data.set(req);
      ctl[2] = req.length;
      ctl[1] = c;
      const id = s.nextId++ | 0;
      ctl[4] = id;
      Atomics.store(ctl, 0, Q_REQUEST);
      Atomics.notify(ctl, 0);
      const deadline = performance.now() + QUERY_TIMEOUT_MS;
      while (Atomics.load(ctl, 0) === Q_REQUEST && performance.now() < deadline) {
        Atomics.wait(ctl, 0, Q_REQUEST, Math.max(1, deadline - performance.now()));
      }
      if (Atomics.compareExchange(ctl, 0, Q_REQUEST, Q_IDLE) === Q_REQUEST || ctl[5] !== id) {
        Atomics.store(ctl, 0, Q_IDLE);
        this.#log.warn(`Server worker ${s.index} did not answer`);
        return null;
      }
      chunks.push(s.data.slice(0, ctl[2]!));
      const more = ctl[3]!;
      Atomics.store(ctl, 0, Q_IDLE);
      if (more <= 0) break;
      c = Q_NEXT;
      req = new Uint8Array(0);
    }
    const total = chunks.reduce((n, b) => n + b.length, 0);
    const all = new Uint8Array(total);
    let off = 0;
    for (const b of chunks) {
      all.set(b, off);
      off += b.length;
    }
    return JSON.parse(new TextDecoder().decode(all));
  }

  /** Starts the workers one after another (their sockets join the group in order). */
  static async start(o: ServerWorkersOptions): Promise<ServerWorkers> {
    const w = new ServerWorkers(o.log);
    if (o.monotonic) w.cooked.correctionSource = o.monotonic.correction;
    w.cooked.publishFrom(o.clock);
    const smoothing = o.smoothing ?? null;
    const smoothModel = smoothing ? new SmoothingModel() : null;
    if (smoothing && smoothModel) {
      // every change of the process ends in reset, update or leap (activate resets)
      for (const m of ["reset", "update", "leap"] as const) {
        const f = smoothing[m].bind(smoothing) as (...a: unknown[]) => void;
        (smoothing as unknown as Record<string, unknown>)[m] = (...a: unknown[]) => {
          f(...a);
          smoothModel.publish(smoothing.plan());
        };
      }
      smoothModel.publish(smoothing.plan());
    }
    const c = o.config;
    for (let index = 1; index < o.group; index++) {
      const query = new SharedArrayBuffer(Q_CONTROL_BYTES + Q_DATA_BYTES);
      const shard: Shard = {
        index,
        worker: new Worker(new URL("./server_worker.ts", import.meta.url), {
          type: "module",
          name: `horae-ntp-${index}`,
        }),
        ctl: new Int32Array(query, 0, Q_CONTROL_BYTES / 4),
        data: new Uint8Array(query, Q_CONTROL_BYTES),
        fds: [],
        alive: true,
        nextId: 1,
      };
      const start: WorkerStart = {
        type: "start",
        index,
        group: o.group,
        families: o.families,
        port: c.port,
        bindAddress: {
          ...(c.bindAddress.ipv4 ? { ipv4: c.bindAddress.ipv4 } : {}),
          ...(c.bindAddress.ipv6 ? { ipv6: c.bindAddress.ipv6 } : {}),
        },
        ...(c.bindDevice ? { device: c.bindDevice } : {}),
        tos: c.dscp << 2,
        clientLogLimit: Math.floor(c.clientLogLimit / o.group),
        noClientLog: c.noClientLog,
        ...(o.rateLimit ? { rateLimit: o.rateLimit } : {}),
        rules: o.rules,
        ...(c.keyFile ? { keyFile: c.keyFile } : {}),
        ...(o.nts ? { ntsKeys: copyKeys(o.nts.ring) } : {}),
        ...(smoothing && smoothModel
          ? { smoothing: { options: { ...smoothing.options }, sab: smoothModel.sab } }
          : {}),
        reference: o.reference,
        cooked: w.cooked.sab,
        ...(o.monotonic ? { monotonicEpoch: o.monotonic.epoch } : {}),
        query,
      };
      const ready = new Promise<string | null>((resolve) => {
        shard.worker.onmessage = (e: MessageEvent<FromWorker>) => {
          const m = e.data;
          if (m.type === "ready") {
            shard.fds = m.fds;
            resolve(null);
          } else if (m.type === "fds") shard.fds = m.fds;
          else if (m.type === "error") o.log.error(`Server worker ${index}: ${m.message}`);
          else if (m.type === "pong") {
            w.#pings.get(m.id)?.();
            w.#pings.delete(m.id);
          }
        };
        shard.worker.onerror = (e: ErrorEvent) => {
          e.preventDefault();
          resolve(e.message);
          w.#lost(shard, e.message);
        };
      });
      shard.worker.postMessage(start);
      w.#shards.push(shard);
      const failed = await ready;
      if (failed !== null) o.log.error(`Server worker ${index} failed to start : ${failed}`);
    }
    // what the main thread changes reaches the workers: every change of the clock's frequency,
    // slew or step at once (shared memory), the reference with each update and refresh
    w.#unlisten = o.clock.onParameterChange(() => w.cooked.publishFrom(o.clock));
    const setReference = o.server.setReference.bind(o.server);
    o.server.setReference = (reference: ServerReference, now: Timestamp) => {
      setReference(reference, now);
      w.cooked.publishFrom(o.clock);
      w.#post({ type: "reference", reference });
    };
    const add = o.filter.add.bind(o.filter);
    o.filter.add = (rule: AccessRule) => {
      add(rule);
      w.#post({ type: "rule", rule });
    };
    // NTS cookie keys after each rotation and reload, when the NTS-KE helpers get theirs
    const nts = o.nts;
    nts?.onKeysChanged(() => w.#post({ type: "keys", keys: copyKeys(nts.ring) }));
    const reload = o.keys.reload.bind(o.keys);
    o.keys.reload = () => {
      reload();
      w.#post({ type: "rekey" });
    };
    // `serverstats` and `clients` (chronyc, the HTTP endpoint) read the main client log
    const stats = o.clientLog.serverStats.bind(o.clientLog);
    w.#mainStats = stats;
    o.clientLog.serverStats = () => sumStats(stats(), w.workerStats().map((s) => s?.log ?? null));
    const clients = o.clientLog.clients.bind(o.clientLog);
    o.clientLog.clients = (now, options = {}) =>
      mergeClients([clients(now, options), ...w.workerClients(now, options)]);
    return w;
  }

  /** A worker died: its sockets are closed so the kernel gives its clients to the others. */
  #lost(s: Shard, why: string): void {
    if (!s.alive) return;
    s.alive = false;
    if (!this.#stopping) this.#log.error(`Server worker ${s.index} stopped : ${why}`);
    for (const fd of s.fds) {
      try {
        close(fd);
      } catch { /* already closed by the worker */ }
    }
    s.fds = [];
    s.worker.terminate();
  }

  /** Stops every worker: each closes its sockets, then the thread ends. */
  async close(): Promise<void> {
    // what each shard did (client-log counters), for the operator and the tests
    const line = (i: number, st: ServerStatsReport) =>
      this.#log.info(`Server shard ${i}: ${st.ntpHits} NTP requests, ${st.ntpDrops} dropped`);
    if (this.#mainStats) line(0, this.#mainStats());
    this.workerStats().forEach((s, i) => {
      if (s !== null) line(i + 1, s.log);
    });
    this.#stopping = true;
    this.#unlisten();
    await Promise.all(this.#shards.map(async (s) => {
      if (!s.alive) return;
      const stopped = new Promise<boolean>((resolve) => {
        const prev = s.worker.onmessage;
        s.worker.onmessage = (e: MessageEvent<FromWorker>) => {
          if (e.data.type === "stopped") resolve(true);
          else prev?.call(s.worker, e);
        };
        setTimeout(() => resolve(false), 2000);
      });
      s.worker.postMessage({ type: "stop" } satisfies ToWorker);
      if (await stopped) s.fds = []; // closed by the worker itself
      s.alive = false;
      for (const fd of s.fds) close(fd);
      s.worker.terminate();
    }));
  }
}

/** Starts `serverworkers` (see {@link ServerWorkers.start}). */
export function startServerWorkers(o: ServerWorkersOptions): Promise<ServerWorkers> {
  return ServerWorkers.start(o);
}

/** Sums `serverstats` of the main thread and the workers (span and held: over all shards). */
export function sumStats(
  main: ServerStatsReport,
  workers: (ServerStatsReport | null)[],
): ServerStatsReport {
  const out = { ...main };
  for (const w of workers) {
    if (w === null) continue;
    for (const k of Object.keys(out) as (keyof ServerStatsReport)[]) {
      out[k] = k === "ntpSpanSeconds" ? Math.max(out[k], w[k]) : out[k] + w[k];
    }
  }
  return out;
}

/**
 * Merges client rows of all shards into one row per address: hits and drops
 * summed, the interval and last-access figures of each service from the
 * shard that saw it last (one shard per service and address in practice:
 * NTP on the shard the address is steered to, commands and NTS-KE on the
 * main thread).
 */
export function mergeClients(shards: ClientReport[][]): ClientReport[] {
  const by = new Map<string, ClientReport>();
  const out: ClientReport[] = [];
  const later = (a: number | null, b: number | null) => b !== null && (a === null || b < a);
  for (const rows of shards) {
    for (const r of rows) {
      const m = by.get(r.address);
      if (m === undefined) {
        const copy = { ...r };
        by.set(r.address, copy);
        out.push(copy);
        continue;
      }
      if (later(m.lastNtpAgo, r.lastNtpAgo)) {
        m.lastNtpAgo = r.lastNtpAgo;
        m.ntpIntervalLog2 = r.ntpIntervalLog2;
        m.ntpIntervalLimitedLog2 = r.ntpIntervalLimitedLog2;
      }
      if (later(m.lastCmdAgo, r.lastCmdAgo)) {
        m.lastCmdAgo = r.lastCmdAgo;
        m.cmdIntervalLog2 = r.cmdIntervalLog2;
      }
      if (later(m.lastNtsKeAgo, r.lastNtsKeAgo)) {
        m.lastNtsKeAgo = r.lastNtsKeAgo;
        m.ntsKeIntervalLog2 = r.ntsKeIntervalLog2;
      }
      m.ntpHits += r.ntpHits;
      m.ntpDrops += r.ntpDrops;
      m.cmdHits += r.cmdHits;
      m.cmdDrops += r.cmdDrops;
      m.ntsKeHits += r.ntsKeHits;
      m.ntsKeDrops += r.ntsKeDrops;
    }
  }
  return out;
}
