/**
 * The daemon's sans-IO core: NTP sources (lib/ntp) feeding per-source
 * statistics, selection and the reference (lib/clock). It reads time only
 * from the `Clock` it is given and returns actions (datagrams to send, the
 * next deadline, log lines) for the IO layer, or the simulator, to carry out.
 * The real daemon, the one-shot modes (`-q`/`-Q`) and `tests/sim` all drive
 * this same class.
 *
 * @example
 * ```ts
 * import { Engine } from "./engine.ts";
 * function startOne(engine: Engine) {
 *   const id = engine.addSource({ name: "192.0.2.1", address: "192.0.2.1", options: { iburst: true } });
 *   for (const a of engine.start()) if (a.kind === "send") console.log(a.address, a.bytes.length);
 * }
 * ```
 * @module
 */
import type { Clock, ParameterChange } from "../clock/clock.ts";
import type { ReferenceUpdate, Sample } from "../clock/sample.ts";
import { type Candidate, type SelectionMemory, selectSources } from "../clock/select.ts";
import type { SelectOptions, SourceSelectOptions, SourceStatus } from "../clock/select.ts";
import { type AuthSelectMode, effectiveSelectOptions } from "../clock/authselect.ts";
import { type SelectionData, type SourceEstimate, SourceStats } from "../clock/sourcestats.ts";
import {
  type LocalStatus,
  NtpSource,
  type NtpSourceOptions,
  type NtpSourceReport,
  type SourceAction,
  type SourceAuth,
} from "../ntp/source.ts";
import { refIdFromAddress } from "../ntp/reference_id.ts";
import { REACH_BITS } from "../ntp/reach.ts";
import {
  type DriverSample,
  followClock,
  RefclockSource,
  type RefclockSourceOptions,
  type SampleRejection,
} from "../refclock/source.ts";
import { diffSeconds, type Timestamp } from "../time/timestamp.ts";
import type { TrackingData } from "../clock/reference.ts";
import type { ModifiableOption } from "../ntp/source.ts";
import type {
  HistoryHolder,
  NtpSourceSnapshot,
  RefclockSnapshot,
  SourceHandle,
  SourceIdentity,
  SourceRef,
  SourceSnapshot,
  SourceSummary,
  SystemSnapshot,
} from "./snapshot.ts";

/** What the engine asks of the discipline (lib/clock Reference). */
export interface Discipline {
  /** A new combined estimate from selection: correct the clock. Returns log lines. */
  update(update: ReferenceUpdate, now: Timestamp): string[];
  /** Selection could not produce an estimate this time. */
  noUpdate?(now: Timestamp): void;
  /** The reference's tracking data at `now`, for {@link Engine.systemSnapshot}; absent: none. */
  tracking?(now: Timestamp): TrackingData;
}

/** One source to add. */
export interface EngineSourceSpec {
  /** Name shown in reports and logs (host name as configured, or the address). */
  name: string;
  /** Numeric address to send to. */
  address: string;
  /** NTP protocol options of the source. */
  options: Partial<NtpSourceOptions>;
  /** Selection options (noselect, prefer, trust, require). */
  select?: SourceSelectOptions;
  /** minsamples / maxsamples for this source's statistics. */
  minSamples?: number;
  maxSamples?: number;
  /** Name of the pool it came from, if any. */
  pool?: string;
  /** Authentication (NTS: lib/daemon/nts_client.ts `prepareNtsSource`); absent: none. */
  auth?: EngineSourceAuth;
  /** `copy`: selected, its reference ID and stratum become ours (chrony.conf(5)). */
  copy?: boolean;
}

/**
 * A {@link SourceAuth} that may also move the source's NTP address and port
 * (NTS-KE server and port negotiation, RFC 8915 §4.1.7-8).
 */
export interface EngineSourceAuth extends SourceAuth {
  /** Where requests go instead of the spec's address and the source's port, or null. */
  destination?(): { address: string; port: number } | null;
}

/** One reference clock to add (lib/refclock). */
export interface EngineRefclockSpec {
  /** Filter, offset, delay, poll... and the name (refid) shown in reports. */
  options: RefclockSourceOptions;
  /** Selection options (noselect, prefer, trust, require). */
  select?: SourceSelectOptions;
  /** minsamples / maxsamples for this refclock's statistics. */
  minSamples?: number;
  maxSamples?: number;
}

/** Per-refclock state kept by the engine. */
export interface EngineRefclock {
  readonly id: number;
  readonly spec: EngineRefclockSpec;
  readonly source: RefclockSource;
  readonly stats: SourceStats;
  status: SourceStatus | null;
}

/** An action for the IO layer. */
export type EngineAction =
  | { kind: "send"; source: number; address: string; port: number; bytes: Uint8Array }
  /** Call `onTimer` at this (cooked local) time; null: nothing scheduled. */
  | { kind: "timer"; at: Timestamp | null }
  | { kind: "log"; level: "info" | "warn"; message: string }
  /** The reference was updated from this estimate (one-shot modes stop here). */
  | { kind: "update"; update: ReferenceUpdate }
  /** A source became unreachable or was demobilised (pool replacement). */
  | { kind: "source-lost"; source: number; reason: string };

/** Global engine options. */
export interface EngineOptions {
  clock: Clock;
  discipline: Discipline;
  /** Random bytes (request transmit timestamps). */
  randomBytes: (n: number) => Uint8Array;
  /** Selection settings (minsources, maxdistance, ...). */
  select?: Omit<SelectOptions, "previous">;
  /** chrony.conf `maxclockerror`, ppm (default 1). */
  maxClockError?: number;
  /**
   * Our own reference ID as seen by the source at `address` (orphan mode,
   * `select.orphanStratum`); null when unknown. Absent: always unknown.
   */
  localRefId?: (address: string) => number | null;
  /** Observers (log files): a sample accumulated (with the estimate before it), a selection made. */
  onSample?: (source: SampledSource, sample: Sample, previous: SourceEstimate | null) => void;
  onSelection?: (sources: readonly SelectionRow[], now: Timestamp) => void;
  /** A refclock's filtered sample accumulated: its name, the estimate with it and before it. */
  onRefclockSample?: (
    name: string,
    estimate: SourceEstimate,
    previous: SourceEstimate | null,
  ) => void;
  /** Log selection changes ("Selected source", "Can't synchronise"); false in one-shot mode. */
  logSelection?: boolean;
}

/** The source of a sample, as the sample observer (measurements and statistics logs) sees it. */
export interface SampledSource {
  /** Engine id. */
  id: number;
  address: string;
  /** The protocol's report (the packet just accepted). */
  report(): NtpSourceReport;
  /** The statistics' estimate with the new sample. */
  estimate(): SourceEstimate | null;
}

/** A live source with a verdict after a selection (the selection log's row). */
export interface SelectionRow {
  address: string;
  status: SourceStatus;
  select: SourceSelectOptions;
  reach: number;
  /** Selection inputs at the selection's time (null: not enough samples). */
  selection: SelectionData | null;
}

/** Per-source state kept by the engine. */
export interface EngineSource {
  readonly id: number;
  readonly spec: EngineSourceSpec;
  readonly ntp: NtpSource;
  readonly stats: SourceStats;
  status: SourceStatus | null;
  removed: boolean;
  /** Consecutive selections that found this source a falseticker. */
  falsetickerRuns: number;
  /** What its sockets see of it ({@link Engine.sourceHandle}). */
  readonly handle: SourceHandle;
}

/** A pool member found a falseticker this many selections in a row is given up (our choice). */
export const POOL_FALSETICKER_LIMIT = 8;

/** The daemon core. */
export class Engine {
  readonly #clock: Clock;
  readonly #discipline: Discipline;
  readonly #randomBytes: (n: number) => Uint8Array;
  #selectOptions: Omit<SelectOptions, "previous">;
  readonly #maxClockError: number;
  readonly #localRefId: (address: string) => number | null;
  readonly #sampleObserver: EngineOptions["onSample"];
  readonly #selectionObserver: EngineOptions["onSelection"];
  readonly #refclockObserver: EngineOptions["onRefclockSample"];
  readonly #logSelection: boolean;
  readonly #sources: EngineSource[] = [];
  readonly #refclocks: EngineRefclock[] = [];
  #selectedRefclock: number | null = null;
  #memory: SelectionMemory | undefined;
  #selected: number | null = null;
  #lastUpdate: ReferenceUpdate | null = null;
  #started = false;
  readonly #unlisten: () => void;

  constructor(options: EngineOptions) {
    this.#clock = options.clock;
    this.#discipline = options.discipline;
    this.#randomBytes = options.randomBytes;
    this.#selectOptions = options.select ?? {};
    this.#maxClockError = options.maxClockError ?? 1;
    this.#localRefId = options.localRefId ?? (() => null);
    this.#sampleObserver = options.onSample;
    this.#selectionObserver = options.onSelection;
    this.#refclockObserver = options.onRefclockSample;
    this.#logSelection = options.logSelection ?? true;
    this.#unlisten = this.#clock.onParameterChange((c) => this.#onClockChange(c));
  }

  /** The sources, in the order added (removed ones stay, marked). */
  get sources(): readonly EngineSource[] {
    return this.#sources;
  }

  /** Index of the selected source, or null (also null when a refclock is selected). */
  get selected(): number | null {
    return this.#selected;
  }

  /** The reference clocks, in the order added. */
  get refclocks(): readonly EngineRefclock[] {
    return this.#refclocks;
  }

  /** `authselectmode` (default mix), as the daemon sets it. */
  authSelectMode: AuthSelectMode = "mix";

  /**
   * The selection options sources really have under `authselectmode`: the
   * live NTP sources (in order), then the reference clocks.
   */
  effectiveSelect(): { sources: SourceSelectOptions[]; refclocks: SourceSelectOptions[] } {
    const live = this.#sources.filter((s) => !s.removed);
    const all = effectiveSelectOptions(this.authSelectMode, [
      ...live.map((s) => ({ auth: s.spec.auth !== undefined, options: s.spec.select ?? {} })),
      ...this.#refclocks.map((r) => ({ auth: null, options: r.spec.select ?? {} })),
    ]);
    return { sources: all.slice(0, live.length), refclocks: all.slice(live.length) };
  }

  /** Index of the selected refclock, or null. */
  get selectedRefclock(): number | null {
    return this.#selectedRefclock;
  }

  /** Adds a reference clock; its poll timer starts at once if the engine is running. */
  addRefclock(spec: EngineRefclockSpec): { id: number; actions: EngineAction[] } {
    const id = this.#refclocks.length;
    const source = new RefclockSource(spec.options);
    const stats = new SourceStats({
      name: spec.options.name,
      ...(spec.minSamples !== undefined ? { minSamples: spec.minSamples } : {}),
      ...(spec.maxSamples !== undefined ? { maxSamples: spec.maxSamples } : {}),
      maxClockError: this.#maxClockError * 1e-6,
    });
    this.#refclocks.push({ id, spec, source, stats, status: null });
    if (this.#started) source.start(this.#clock.now());
    return { id, actions: this.#finish([]) };
  }

  /**
   * A raw sample from refclock `id`'s driver (time already on the cooked
   * local clock). Pulses are completed from the `lock` refclock's last
   * sample, or from the local clock while a source is selected. Returns
   * why it was refused, or null.
   */
  onRefclockSample(id: number, sample: DriverSample): SampleRejection | null {
    const r = this.#refclocks[id];
    if (!r) return null;
    const lockName = r.spec.options.lock;
    const lock = lockName === undefined
      ? null
      : this.#refclocks.find((o) => o.spec.options.name === lockName)?.source.lastSample ?? null;
    const synchronised = this.#selected !== null || this.#selectedRefclock !== null;
    return r.source.addSample(sample, { lock, synchronised });
  }

  /** The last estimate handed to the discipline, or null. */
  get lastUpdate(): ReferenceUpdate | null {
    return this.#lastUpdate;
  }

  /** Adds a source; polling starts at once if the engine is running. */
  addSource(spec: EngineSourceSpec): { id: number; actions: EngineAction[] } {
    const id = this.#sources.length;
    const ntp = new NtpSource(spec.address, {
      maxClockError: this.#maxClockError,
      ...spec.options,
    }, { randomBytes: this.#randomBytes, ...(spec.auth ? { auth: spec.auth } : {}) });
    const stats = new SourceStats({
      name: spec.name,
      ...(spec.minSamples !== undefined ? { minSamples: spec.minSamples } : {}),
      ...(spec.maxSamples !== undefined ? { maxSamples: spec.maxSamples } : {}),
      maxClockError: this.#maxClockError * 1e-6,
      ...(spec.options.asymmetry !== undefined ? { asymmetry: spec.options.asymmetry } : {}),
      floors: true,
    });
    const peer = spec.options.kind === "peer";
    const handle: SourceHandle = { id, peer, validReplies: () => ntp.validReplies };
    this.#sources.push({
      id,
      spec,
      ntp,
      stats,
      status: null,
      removed: false,
      falsetickerRuns: 0,
      handle,
    });
    const actions = this.#started ? this.#apply(id, ntp.start(this.#clock.now())) : [];
    return { id, actions: this.#finish(actions) };
  }

  /** Stops polling a source and drops it from selection. */
  removeSource(id: number): EngineAction[] {
    const s = this.#sources[id];
    if (!s || s.removed) return [];
    s.removed = true;
    s.ntp.setOnline(false, this.#clock.now());
    return this.#finish(this.#reselect(this.#clock.now()));
  }

  /** Starts polling every source. */
  start(): EngineAction[] {
    this.#started = true;
    const now = this.#clock.now();
    const out: EngineAction[] = [];
    for (const s of this.#sources) if (!s.removed) out.push(...this.#apply(s.id, s.ntp.start(now)));
    for (const r of this.#refclocks) r.source.start(now);
    return this.#finish(out);
  }

  /** Runs every source timer that is due at `now` (cooked local time). */
  onTimer(): EngineAction[] {
    const now = this.#clock.now();
    const out: EngineAction[] = [];
    // chronyd 4.6+ judges the start-up selection failure once a source made 8 polls
    let eighth = false;
    for (const s of this.#sources) {
      if (s.removed) continue;
      const at = s.ntp.nextTimer;
      const early = s.ntp.reachUpdates < REACH_BITS;
      if (at !== null && at <= now) out.push(...this.#apply(s.id, s.ntp.onTimer(now)));
      if (early && s.ntp.reachUpdates >= REACH_BITS) eighth = true;
    }
    for (const r of this.#refclocks) {
      const at = r.source.nextTimer;
      if (at === null || at > now) continue;
      const sample = r.source.onTimer(now);
      if (sample !== null) out.push(...this.#onRefclockSample(r, sample));
      else if (r.source.reach.polls === REACH_BITS) eighth = true;
    }
    if (eighth && !this.#memory?.startDone) out.push(...this.#reselect(now));
    return this.#finish(out);
  }

  /**
   * A datagram from source `id` arrived; `rx` is its receive time on the
   * cooked local clock (a kernel timestamp converted by the IO layer).
   * `ptp`: NTP-over-PTP with a NIC RX stamp (the PTP correctionField, F324).
   */
  onPacket(
    id: number,
    bytes: Uint8Array,
    rx: Timestamp,
    ptp?: { correction: number },
  ): EngineAction[] {
    const s = this.#sources[id];
    if (!s || s.removed) return [];
    return this.#finish(this.#apply(id, s.ntp.onPacket(bytes, rx, this.#clock.now(), ptp)));
  }

  /** The source's authentication became ready (NTS-KE done): it polls at once if it waited. */
  authReady(id: number): EngineAction[] {
    const s = this.#sources[id];
    if (!s || s.removed) return [];
    return this.#finish(this.#apply(id, s.ntp.authReady(this.#clock.now())));
  }

  /** Our synchronisation as symmetric peers see it (null: unsynchronised). */
  setLocalStatus(status: LocalStatus | null): void {
    for (const s of this.#sources) if (s.spec.options.kind === "peer") s.ntp.setLocalStatus(status);
  }

  /** A request to `id` could not be sent (`auto_offline` takes the source offline). */
  onSendError(id: number): EngineAction[] {
    const s = this.#sources[id];
    if (!s || s.removed) return [];
    return this.#finish(this.#apply(id, s.ntp.onSendError()));
  }

  /** The kernel's transmit timestamp (cooked) of the last request to `id`. */
  onTxTimestamp(id: number, tx: Timestamp): void {
    this.#sources[id]?.ntp.onTxTimestamp(tx);
  }

  /** Sets a source online/offline (`chronyc online/offline`). */
  setOnline(id: number, online: boolean): EngineAction[] {
    const s = this.#sources[id];
    if (!s || s.removed) return [];
    return this.#finish(this.#apply(id, s.ntp.setOnline(online, this.#clock.now())));
  }

  /** `chronyc burst good/total` for one source. */
  burst(id: number, good: number, total: number): EngineAction[] {
    const s = this.#sources[id];
    if (!s || s.removed) return [];
    return this.#finish(this.#apply(id, s.ntp.burst(good, total, this.#clock.now())));
  }

  /** `chronyc reselect`: forgets the previous selection and selects again. */
  reselect(): EngineAction[] {
    this.#memory = undefined;
    return this.#finish(this.#reselect(this.#clock.now()));
  }

  /** `chronyc reselectdist DIST`: the reselection distance, seconds. */
  setReselectDistance(seconds: number): void {
    this.#selectOptions = { ...this.#selectOptions, reselectDist: seconds };
  }

  /** `chronyc reset sources`: drops every source's samples and selects again. */
  resetSources(): EngineAction[] {
    for (const s of this.#sources) {
      s.stats.reset();
      s.ntp.resetHistory();
    }
    for (const r of this.#refclocks) {
      r.stats.reset();
      r.source.reset();
    }
    return this.reselect();
  }

  // --- Snapshots and commands: what readers outside the engine (the cmdmon
  // backend) use instead of the live sources. Report order: the live NTP
  // sources as added, then the reference clocks.

  /** How many rows the source reports have (live NTP sources and reference clocks). */
  sourceCount(): number {
    return this.#sources.filter((s) => !s.removed).length + this.#refclocks.length;
  }

  /** Who each report row is (cheap: no statistics computed). */
  sourceList(): SourceIdentity[] {
    return [
      ...this.#sources.filter((s) => !s.removed).map((s) => ({
        kind: "ntp" as const,
        id: s.id,
        name: s.spec.name,
        address: s.spec.address,
      })),
      ...this.#refclocks.map((r) => ({
        kind: "refclock" as const,
        id: r.id,
        name: r.spec.options.name,
        refId: r.source.refId,
      })),
    ];
  }

  /** The source in report row `index` as it is now, or null past the end. */
  sourceSnapshot(index: number): SourceSnapshot | null {
    const now = this.#clock.now();
    const live = this.#sources.filter((s) => !s.removed);
    if (!Number.isInteger(index) || index < 0) return null;
    const effective = this.effectiveSelect();
    const s = live[index];
    if (s) return this.#ntpSnapshot(s, effective.sources[index] ?? s.spec.select ?? {}, now);
    const r = this.#refclocks[index - live.length];
    if (!r) return null;
    return this.#refclockSnapshot(r, effective.refclocks[r.id] ?? r.spec.select ?? {}, now);
  }

  /** Every source as it is now, in report order. */
  sourceSnapshots(): SourceSnapshot[] {
    const out: SourceSnapshot[] = [];
    for (let i = 0, n = this.sourceCount(); i < n; i++) out.push(this.sourceSnapshot(i)!);
    return out;
  }

  /** The selection and the reference as they are now. */
  systemSnapshot(): SystemSnapshot {
    const now = this.#clock.now();
    const selected: SourceRef | null = this.#selected !== null
      ? { kind: "ntp", id: this.#selected }
      : this.#selectedRefclock !== null
      ? { kind: "refclock", id: this.#selectedRefclock }
      : null;
    const chosen = selected === null
      ? undefined
      : selected.kind === "ntp"
      ? this.#sources[selected.id]
      : this.#refclocks[selected.id];
    return {
      now,
      selected,
      selectedScore: chosen?.status?.score ?? null,
      lastUpdate: this.#lastUpdate,
      tracking: this.#discipline.tracking?.(now) ?? null,
    };
  }

  /** `chronyc minpoll/maxpoll/maxdelay/...`: changes one option; false: no such live source. */
  modifySource(id: number, option: ModifiableOption, value: number): boolean {
    const s = this.#sources[id];
    if (!s || s.removed) return false;
    s.ntp.modify(option, value);
    return true;
  }

  /** `chronyc offset` (4.8): replaces the source's offset correction; false: no such source. */
  setSourceOffset(ref: SourceRef, offset: number): boolean {
    if (ref.kind === "refclock") {
      const r = this.#refclocks[ref.id];
      r?.source.setOffset(offset);
      return r !== undefined;
    }
    return this.modifySource(ref.id, "offset", offset);
  }

  /** The selection options of a source as configured; null: no such source. */
  selectOptions(ref: SourceRef): SourceSelectOptions | null {
    const s = ref.kind === "ntp" ? this.#sources[ref.id] : this.#refclocks[ref.id];
    if (!s || ("removed" in s && s.removed)) return null;
    return { ...(s.spec.select ?? {}) };
  }

  /** `chronyc selectopts` (4.8): new selection options, used from the next selection. */
  setSelectOptions(ref: SourceRef, options: SourceSelectOptions): boolean {
    const s = ref.kind === "ntp" ? this.#sources[ref.id] : this.#refclocks[ref.id];
    if (!s || ("removed" in s && s.removed)) return false;
    s.spec.select = { ...options };
    return true;
  }

  // --- What the daemon's own wiring (source lines, sockets, the one-shot
  // modes, refclock drivers, the simulator's outcome) asks of sources, by
  // engine id, without holding them.

  /** Whether NTP source `id` exists and was not removed. */
  isLive(id: number): boolean {
    const s = this.#sources[id];
    return s !== undefined && !s.removed;
  }

  /** The address NTP source `id` was added with (also once removed); null: no such source. */
  sourceAddress(id: number): string | null {
    return this.#sources[id]?.spec.address ?? null;
  }

  /** The ids of the live NTP sources, in the order added. */
  liveIds(): number[] {
    const out: number[] = [];
    for (const s of this.#sources) if (!s.removed) out.push(s.id);
    return out;
  }

  /** The addresses of the live NTP sources. */
  liveAddresses(): Set<string> {
    const out = new Set<string>();
    for (const s of this.#sources) if (!s.removed) out.add(s.spec.address);
    return out;
  }

  /**
   * What the sockets of NTP source `id` need on the packet path (one object
   * per source, made when it was added: no allocation per packet); null: no
   * such source.
   */
  sourceHandle(id: number): SourceHandle | null {
    return this.#sources[id]?.handle ?? null;
  }

  /**
   * The one-shot modes' view of NTP source `id`: polls decided so far (see
   * `NtpSource.reachUpdates`) and samples held; null: removed or no such source.
   */
  pollProgress(id: number): { reachUpdates: number; samples: number } | null {
    const s = this.#sources[id];
    if (!s || s.removed) return null;
    return { reachUpdates: s.ntp.reachUpdates, samples: s.stats.sampleCount };
  }

  /** Refclock `id`'s next poll and its last accepted sample's offset (the refclocks log). */
  refclockProgress(id: number): { nextTimer: Timestamp | null; lastOffset: number | null } | null {
    const r = this.#refclocks[id];
    if (!r) return null;
    return { nextTimer: r.source.nextTimer, lastOffset: r.source.lastSample?.offset ?? null };
  }

  /** Every NTP source ever added, removed ones included, in the order added. */
  sourceSummaries(): SourceSummary[] {
    return this.#sources.map((s) => ({
      id: s.id,
      address: s.spec.address,
      removed: s.removed,
      selected: s.id === this.#selected,
      status: s.status,
      poll: s.ntp.poll,
      reach: s.ntp.reach.value,
    }));
  }

  /**
   * The sources whose measurement histories `dumpdir` keeps (lib/daemon/dumps.ts):
   * live NTP sources by address, reference clocks by refid, each with its
   * statistics and reachability, which a dump reads and `-r` restores.
   */
  historyHolders(): HistoryHolder[] {
    const out: HistoryHolder[] = [];
    for (const s of this.#sources) {
      if (s.removed) continue;
      out.push({ kind: "ntp", address: s.spec.address, stats: s.stats, reach: s.ntp.reach });
    }
    for (const r of this.#refclocks) {
      out.push({
        kind: "refclock",
        refId: r.source.refId,
        name: r.spec.options.name,
        stats: r.stats,
        reach: r.source.reach,
      });
    }
    return out;
  }

  /** `chronyc makestep`: steps away the correction still to be slewed; returns that step, s. */
  makestep(): number {
    const remaining = this.#clock.remainingCorrection();
    if (remaining !== 0) this.#clock.step(remaining);
    return remaining;
  }

  #ntpSnapshot(s: EngineSource, effective: SourceSelectOptions, now: Timestamp): NtpSourceSnapshot {
    const report = s.ntp.report();
    return {
      kind: "ntp",
      now,
      id: s.id,
      name: s.spec.name,
      address: s.spec.address,
      port: s.ntp.options.port,
      remotePort: s.spec.auth?.destination?.()?.port ?? s.ntp.options.port,
      peer: s.spec.options.kind === "peer",
      version: s.ntp.options.version,
      poll: s.ntp.poll,
      reach: report.reach,
      online: s.ntp.online,
      inBurst: s.ntp.inBurst,
      authenticated: s.spec.auth !== undefined,
      select: { ...(s.spec.select ?? {}) },
      effectiveSelect: effective,
      status: s.status,
      statistics: s.stats.report(now),
      offsetSd: s.stats.estimate()?.offsetSd ?? null,
      selection: s.stats.getSelectionData(now),
      report,
      asymmetry: s.stats.asymmetry,
    };
  }

  #refclockSnapshot(
    r: EngineRefclock,
    effective: SourceSelectOptions,
    now: Timestamp,
  ): RefclockSnapshot {
    return {
      kind: "refclock",
      now,
      id: r.id,
      name: r.spec.options.name,
      refId: r.source.refId,
      stratum: r.spec.options.stratum ?? 0,
      poll: r.source.poll,
      reach: r.source.reach.value,
      select: { ...(r.spec.select ?? {}) },
      effectiveSelect: effective,
      status: r.status,
      statistics: r.stats.report(now),
      offsetSd: r.stats.estimate()?.offsetSd ?? null,
      selection: r.stats.getSelectionData(now),
    };
  }

  /** Detaches from the clock. */
  close(): void {
    this.#unlisten();
  }

  #apply(id: number, actions: SourceAction[]): EngineAction[] {
    const s = this.#sources[id]!;
    const out: EngineAction[] = [];
    for (const a of actions) {
      switch (a.kind) {
        case "send": {
          const to = s.spec.auth?.destination?.() ?? null;
          out.push({
            kind: "send",
            source: id,
            address: to?.address ?? s.spec.address,
            port: to?.port ?? s.ntp.options.port,
            bytes: a.bytes,
          });
          break;
        }
        case "timer":
          break; // collected from every source's nextTimer in #finish
        case "sample":
          out.push(...this.#onSample(s, a.sample));
          break;
        case "unreachable":
          out.push({ kind: "source-lost", source: id, reason: "unreachable" });
          out.push(...this.#reselect(this.#clock.now()));
          break;
        case "kod":
          out.push({
            kind: "log",
            level: "warn",
            message: `Received KoD ${a.code} from ${s.spec.name}`,
          });
          break;
        case "demobilize":
          s.removed = true;
          out.push({ kind: "source-lost", source: id, reason: a.reason });
          break;
      }
    }
    return out;
  }

  #onSample(s: EngineSource, sample: Sample): EngineAction[] {
    const predicted = s.stats.predictOffset(sample.time);
    const before = s.stats.estimate();
    s.stats.accumulate(sample);
    this.#sampleObserver?.(
      {
        id: s.id,
        address: s.spec.address,
        report: () => s.ntp.report(),
        estimate: () => s.stats.estimate(),
      },
      sample,
      before,
    );
    s.ntp.setDelayStatistics(s.stats.delayTestInputs());
    const out = this.#reselect(this.#clock.now(), { refclock: false, id: s.id });
    out.push(
      ...this.#apply(
        s.id,
        s.ntp.setPollAdjustment(pollAdjustment(s, sample, predicted, before?.stdDev ?? null)),
      ),
    );
    return out;
  }

  #onRefclockSample(r: EngineRefclock, sample: Sample): EngineAction[] {
    const before = r.stats.estimate();
    const est = r.stats.accumulate(sample);
    this.#refclockObserver?.(r.spec.options.name, est, before);
    // refclock `local`: the system clock follows the stable clock's changes
    const follow = r.source.follow(est, this.#clock.now());
    if (follow) followClock(this.#clock, follow);
    return this.#reselect(this.#clock.now(), { refclock: true, id: r.id });
  }

  /**
   * Runs selection. The reference is updated only when `sampled` (the source
   * that just produced a sample) is the selected or a combined source, so
   * that a clock update always carries new information (as chronyd does).
   * Without `sampled` (a source lost or removed) only the statuses change.
   */
  /** Sources found falsetickers by the last selection that selected one (names). */
  #falsetickers = new Set<string>();

  #reselect(now: Timestamp, sampled?: { refclock: boolean; id: number }): EngineAction[] {
    const live = this.#sources.filter((s) => !s.removed);
    const effective = this.effectiveSelect();
    const ntpCandidates: Candidate[] = live.map((s, i) => ({
      name: s.spec.name,
      refId: refIdFromAddress(s.spec.address),
      address: s.spec.address,
      reachable: s.ntp.reach.value !== 0,
      unreachablePolls: s.ntp.reach.unreachablePolls,
      reachUpdates: s.ntp.reachUpdates,
      pollInterval: 2 ** s.ntp.poll,
      options: effective.sources[i] ?? {},
      data: s.stats.getSelectionData(now),
      localRefId: this.#localRefId(s.spec.address),
    }));
    const candidates = ntpCandidates.concat(this.#refclocks.map((r, i) => ({
      name: r.spec.options.name,
      refId: r.source.refId,
      address: null,
      reachable: r.source.reach.value !== 0,
      unreachablePolls: r.source.reach.unreachablePolls,
      reachUpdates: r.source.reach.polls,
      pollInterval: 2 ** r.source.poll,
      options: effective.refclocks[i] ?? {},
      data: r.stats.getSelectionData(now),
    })));
    const result = selectSources(candidates, {
      ...this.#selectOptions,
      ...(this.#memory ? { previous: this.#memory } : {}),
    }, now);
    this.#memory = result.memory;
    // chronyd 4.4+ warns when a selection that found a majority (and a
    // source) finds a new falseticker, before "Selected source"; failed
    // selections (no majority marks every source) are not counted
    const falsetickers: string[] = [];
    if (result.selected !== null) {
      const names = [
        ...live.map((s) => s.spec.name),
        ...this.#refclocks.map((r) => r.spec.options.name),
      ];
      const found = names.filter((_, i) => result.statuses[i]?.state === "falseticker");
      for (const n of found) if (!this.#falsetickers.has(n)) falsetickers.push(n);
      this.#falsetickers = new Set(found);
    }
    for (const s of this.#sources) s.status = null;
    const lost: EngineAction[] = [];
    live.forEach((s, i) => {
      s.status = result.statuses[i] ?? null;
      s.falsetickerRuns = s.status?.state === "falseticker" ? s.falsetickerRuns + 1 : 0;
      if (s.spec.pool !== undefined && s.falsetickerRuns === POOL_FALSETICKER_LIMIT) {
        // A pool can do better than a falseticker: ask for another address.
        lost.push({ kind: "source-lost", source: s.id, reason: "falseticker" });
      }
    });
    this.#refclocks.forEach((r, i) => (r.status = result.statuses[live.length + i] ?? null));
    const sel = result.selected;
    this.#selected = sel === null || sel >= live.length ? null : live[sel]!.id;
    for (const s of this.#sources) s.ntp.setSelected(s.id === this.#selected);
    this.#selectedRefclock = sel === null || sel < live.length
      ? null
      : this.#refclocks[sel - live.length]!.id;
    if (this.#selectionObserver) {
      const rows: SelectionRow[] = [];
      for (const s of live) {
        if (!s.status) continue;
        rows.push({
          address: s.spec.address,
          status: s.status,
          select: s.spec.select ?? {},
          reach: s.ntp.reach.value,
          selection: s.stats.getSelectionData(now),
        });
      }
      for (const r of this.#refclocks) {
        if (!r.status) continue;
        rows.push({
          address: r.spec.options.name,
          status: r.status,
          select: r.spec.select ?? {},
          reach: r.source.reach.value,
          selection: r.stats.getSelectionData(now),
        });
      }
      this.#selectionObserver(rows, now);
    }
    const out: EngineAction[] = !this.#logSelection ? [] : falsetickers.map((name) => ({
      kind: "log" as const,
      level: "warn" as const,
      message: `Detected falseticker ${name}`,
    }));
    out.push(...(this.#logSelection ? result.events : []).map((e) => {
      // chronyd names a source given by name "ADDRESS (NAME)"
      const named = e.kind === "selected"
        ? live.find((s) => s.spec.name === e.source && s.spec.address !== s.spec.name)
        : undefined;
      return {
        kind: "log" as const,
        level: e.kind === "selected" ? "info" as const : "warn" as const,
        message: named ? `Selected source ${named.spec.address} (${named.spec.name})` : e.message,
      };
    }));
    out.push(...lost);
    const sampledState = sampled === undefined
      ? undefined
      : sampled.refclock
      ? this.#refclocks[sampled.id]?.status?.state
      : this.#sources[sampled.id]?.status?.state;
    const fresh = sampledState === "selected" || sampledState === "combined";
    // copy: the selected server's reference ID and stratum are taken as they are
    const copied = this.#selected === null ? undefined : this.#sources[this.#selected];
    if (result.update && copied?.spec.copy) {
      const r = copied.ntp.report();
      result.update = { ...result.update, refId: r.refId, stratum: r.stratum };
    }
    if (result.update && fresh) {
      this.#lastUpdate = result.update;
      for (const line of this.#discipline.update(result.update, now)) {
        out.push({ kind: "log", level: "info", message: line });
      }
      out.push({ kind: "update", update: result.update });
    } else if (!result.update) {
      this.#discipline.noUpdate?.(now);
    }
    return out;
  }

  #onClockChange(change: ParameterChange): void {
    for (const s of this.#sources) {
      s.stats.correctForClockChange(change);
      if (change.isStep) s.ntp.resetHistory();
    }
    for (const r of this.#refclocks) {
      r.stats.correctForClockChange(change);
      r.source.correctForClockChange(change);
    }
  }

  #finish(actions: EngineAction[]): EngineAction[] {
    let next: Timestamp | null = null;
    for (const s of this.#sources) {
      if (s.removed) continue;
      const at = s.ntp.nextTimer;
      if (at !== null && (next === null || at < next)) next = at;
    }
    for (const r of this.#refclocks) {
      const at = r.source.nextTimer;
      if (at !== null && (next === null || at < next)) next = at;
    }
    actions.push({ kind: "timer", at: next });
    return actions;
  }
}

/**
 * Poll adaptation input after a sample, following chrony.conf(5)'s
 * description of `polltarget` (keep about that many samples in the
 * regression): when the new sample lies further from the prediction than its
 * own peer distance, the source is not being tracked well and the poll is
 * shortened by log2 of how far off it was; otherwise the poll drifts in
 * proportion to how far the regression's sample count is from the target,
 * twice as fast downwards.
 */
function pollAdjustment(
  s: EngineSource,
  sample: Sample,
  predicted: number | null,
  stdDev: number | null,
): number {
  const limit = Math.max(
    Math.min(sample.peerDelay / 2 + sample.peerDispersion, TRACKING_SDS * (stdDev ?? Infinity)),
    1e-9,
  );
  if (predicted !== null) {
    const error = Math.abs(s.stats.correctedOffset(sample) - predicted);
    if (error > limit) return -Math.log2(error / limit);
  }
  const target = s.ntp.options.polltarget;
  const n = s.stats.estimate()?.samples ?? 0;
  const adj = (n / target - 1) / target;
  return n < target ? 2 * adj : adj;
}

/**
 * A sample further than this many residual deviations from the prediction means the source is
 * not tracked well (our choice, tuned on the simulator's lan, wan-asym and loss30 over 5 seeds).
 */
const TRACKING_SDS = 2.5;

/**
 * The members of {@link Engine} that readers outside the engine's own
 * wiring may use (lib/daemon/cmdmon_backend.ts, the HTTP observer;
 * tests/architecture_test.ts holds every user outside lib/engine to this list
 * and its own part of {@link ENGINE_WIRING}): snapshots and commands, never
 * the live sources, statistics or selection state.
 */
export const ENGINE_API = [
  "sourceCount",
  "sourceList",
  "sourceSnapshot",
  "sourceSnapshots",
  "systemSnapshot",
  "setOnline",
  "burst",
  "modifySource",
  "setSourceOffset",
  "selectOptions",
  "setSelectOptions",
  "makestep",
  "reselect",
  "setReselectDistance",
  "resetSources",
] as const satisfies readonly (keyof Engine)[];

/** The engine as the cmdmon backend sees it: {@link ENGINE_API} only. */
export type EngineApi = Pick<Engine, typeof ENGINE_API[number]>;

/**
 * The members the daemon's wiring and the simulator drive the engine with
 * besides {@link ENGINE_API}: sources and refclocks added and removed, time,
 * packets and send results handed in, and the per-id views of sources
 * (lib/daemon's source lines, sockets, one-shot modes, refclock drivers,
 * lib/sim's outcome). tests/architecture_test.ts gives each file outside
 * lib/engine that holds the engine its own list drawn from these two.
 */
export const ENGINE_WIRING = [
  "start",
  "close",
  "onTimer",
  "onPacket",
  "onTxTimestamp",
  "onSendError",
  "addSource",
  "removeSource",
  "authReady",
  "addRefclock",
  "onRefclockSample",
  "setLocalStatus",
  "authSelectMode",
  "isLive",
  "sourceAddress",
  "liveIds",
  "liveAddresses",
  "sourceHandle",
  "pollProgress",
  "refclockProgress",
  "sourceSummaries",
  "historyHolders",
] as const satisfies readonly (keyof Engine)[];

/** Seconds from `a` to `b` (for the IO layer's timer arithmetic). */
export function secondsUntil(a: Timestamp, b: Timestamp): number {
  return diffSeconds(b, a);
}
