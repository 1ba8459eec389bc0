/**
 * The daemon's side of cmdmon: fills chronyc's reports from the running
 * daemon and carries out control requests. The engine is reached only
 * through its snapshots and commands (`EngineApi`; tests/architecture_test.ts
 * holds this file to that list), the reports about sources are built by the
 * pure functions of lib/engine/cmdmon_reports.ts, and what touches the system
 * (files, the time now, sourcedir reads) comes in as {@link BackendServices}.
 * A request for something not built gets chronyd's status for it (the
 * handler's default for a missing method, or FAILED here).
 *
 * @example
 * ```ts
 * import { DaemonBackend } from "./cmdmon_backend.ts";
 * import { systemBackendServices } from "./backend_services.ts";
 * import type { DaemonState } from "./state.ts";
 * function tracking(state: DaemonState) {
 *   return new DaemonBackend(state, systemBackendServices(state.clock)).tracking();
 * }
 * ```
 * @module
 */
import type { CmdmonBackend, ControlRequest, Maybe } from "../cmdmon/handlers.ts";
import type {
  ActivityReport,
  AuthDataReport,
  ClientAccessesPage,
  ManualSample,
  ManualTimestampReport,
  NtpDataReport,
  RtcReport,
  SelectDataReport,
  ServerStatsReport,
  SmoothingReport,
  SourceReport,
  SourceStatsReport,
  TrackingReport,
} from "../cmdmon/reports.ts";
import { type CmdAddress, Status, type StatusCode } from "../cmdmon/wire.ts";
import type { DaemonState } from "./state.ts";
import { keyAuthData } from "./keys.ts";
import type { EngineApi } from "../engine/engine.ts";
import type { SourceIdentity, SourceRef } from "../engine/snapshot.ts";
import {
  activityReport,
  cmdAddress,
  NEVER,
  ntpDataReport,
  selectDataReport,
  sourceReport,
  sourceStatsReport,
  trackingReport,
} from "../engine/cmdmon_reports.ts";
import { type AddSourceParams, AddSrcFlag, AddSrcType } from "../cmdmon/request.ts";
import type { SourceConfig } from "../conf/config.ts";
import { parseCommandLine } from "../conf/parse.ts";
import { parseIp } from "../net/address.ts";
import { AddressFilterError } from "../ntp/addrfilt.ts";
import type { ModifiableOption } from "../ntp/source.ts";
import type { LocalOptions } from "../ntp/server.ts";
import type { LocalReference } from "../clock/reference.ts";
import { withLocal } from "../clock/advertised.ts";
import type { Timestamp } from "../time/timestamp.ts";
import type { SourceSelectOptions } from "../clock/select.ts";
import type { ReferenceControl } from "../engine/discipline.ts";

/** chrony.conf(5): poll range, log2 s. */
const MIN_POLL = -7;
const MAX_POLL = 24;
/** chrony.conf(5): the largest maxdelay, seconds. */
const MAX_MAXDELAY = 1000;

/** What the backend asks of the system, injected so that tests can stand in for it. */
export interface BackendServices {
  /** Cooked local time now (the daemon's clock). */
  now(): Timestamp;
  /** CLOCK_REALTIME now (the NTP server's reference is updated at a real time). */
  realNow(): Timestamp;
  /** The source lines of the sourcedir files (`reload sources`); throws when unreadable. */
  readSourceDirs(dirs: readonly string[]): SourceConfig[];
}

/**
 * The daemon as the backend sees it: the engine through {@link EngineApi},
 * the reference and the clock's frequency through {@link ReferenceControl}.
 */
export type BackendState = Omit<DaemonState, "engine" | "reference" | "clock" | "discipline"> & {
  engine: EngineApi;
  discipline: ReferenceControl;
};

function sameAddress(a: CmdAddress, address: string): boolean {
  return (a.family === "inet4" || a.family === "inet6") && a.address === address;
}

type NtpIdentity = Extract<SourceIdentity, { kind: "ntp" }>;

/** The cmdmon backend of a running daemon. */
export class DaemonBackend implements CmdmonBackend {
  readonly #d: BackendState;
  readonly #sys: BackendServices;

  constructor(state: BackendState, services: BackendServices) {
    this.#d = state;
    this.#sys = services;
    this.#dirSources = state.config.sources.filter((sc) => sc.fromSourceDir);
  }

  /** Numeric addresses of `add` requests still being added (duplicate check). */
  readonly #pending = new Set<string>();
  /** The sourcedir lines in use (replaced by `reload sources`). */
  #dirSources: SourceConfig[];

  /** The live NTP sources, in report order. */
  #live(): NtpIdentity[] {
    return this.#d.engine.sourceList().filter((s): s is NtpIdentity => s.kind === "ntp");
  }

  #now(): Timestamp {
    return this.#sys.now();
  }

  nSources(): number {
    return this.#d.engine.sourceCount();
  }

  sourceData(index: number): Maybe<SourceReport> {
    const s = this.#d.engine.sourceSnapshot(index);
    return s ? sourceReport(s) : { status: Status.NOSUCHSOURCE };
  }

  sourceStats(index: number): Maybe<SourceStatsReport> {
    const s = this.#d.engine.sourceSnapshot(index);
    return s ? sourceStatsReport(s) : { status: Status.NOSUCHSOURCE };
  }

  selectData(index: number): Maybe<SelectDataReport> {
    const s = this.#d.engine.sourceSnapshot(index);
    if (!s) return { status: Status.NOSUCHSOURCE };
    return selectDataReport(s, this.#d.engine.systemSnapshot());
  }

  tracking(): TrackingReport {
    return trackingReport(this.#d.engine.systemSnapshot().tracking);
  }

  activity(): ActivityReport {
    return activityReport(this.#d.engine.sourceSnapshots(), this.#d.sources.unresolved());
  }

  serverStats(): ServerStatsReport {
    const c = this.#d.clientLog.serverStats();
    const hwStamps = this.#d.serverHwStamps?.() ?? { rx: 0, tx: 0 }; // hwtimestamp
    return {
      version: 4,
      ntpHits: c.ntpHits,
      nkeHits: c.ntsKeHits,
      cmdHits: c.cmdHits,
      ntpDrops: c.ntpDrops,
      nkeDrops: c.ntsKeDrops,
      cmdDrops: c.cmdDrops,
      logDrops: c.logDrops,
      ntpAuthHits: c.ntpAuthHits,
      ntpInterleavedHits: c.ntpInterleavedHits,
      ntpTimestamps: c.ntpTimestamps,
      ntpSpanSeconds: c.ntpSpanSeconds,
      ntpDaemonRxTimestamps: 0,
      ntpDaemonTxTimestamps: 0,
      ntpKernelRxTimestamps: c.ntpHits - c.ntpDrops - hwStamps.rx,
      ntpKernelTxTimestamps: 0,
      ntpHwRxTimestamps: hwStamps.rx,
      ntpHwTxTimestamps: hwStamps.tx,
    };
  }

  clientAccesses(
    first: number,
    options: { nClients: number; minHits: number; reset: boolean },
  ): Maybe<ClientAccessesPage> {
    if (this.#d.config.noClientLog) return { status: Status.INACTIVE };
    const nowS = Number(this.#now()) / 1e9;
    const all = this.#d.clientLog.clients(nowS, {
      minPackets: options.minHits,
      reset: options.reset,
    });
    const page = all.slice(first, first + options.nClients);
    const ago = (x: number | null) => (x === null ? NEVER : Math.round(x));
    // log2 intervals go out as whole numbers, the nearest one, halves away from zero (as chronyd)
    const intv = (x: number | null) => (x === null ? 127 : Math.sign(x) * Math.round(Math.abs(x)));
    return {
      nIndices: all.length,
      nextIndex: first + page.length,
      clients: page.map((c) => ({
        address: cmdAddress(c.address),
        ntpHits: c.ntpHits,
        nkeHits: c.ntsKeHits,
        cmdHits: c.cmdHits,
        ntpDrops: c.ntpDrops,
        nkeDrops: c.ntsKeDrops,
        cmdDrops: c.cmdDrops,
        ntpInterval: intv(c.ntpIntervalLog2),
        nkeInterval: intv(c.ntsKeIntervalLog2),
        cmdInterval: intv(c.cmdIntervalLog2),
        ntpTimeoutInterval: intv(c.ntpIntervalLimitedLog2),
        lastNtpHitAgo: ago(c.lastNtpAgo),
        lastNkeHitAgo: ago(c.lastNtsKeAgo),
        lastCmdHitAgo: ago(c.lastCmdAgo),
      })),
    };
  }

  ntpData(address: CmdAddress): Maybe<NtpDataReport> {
    const found = this.#find(address);
    const s = found ? this.#ntpSnapshot(found.id) : null;
    if (!s) return { status: Status.NOSUCHSOURCE };
    return ntpDataReport(s, {
      localAddress: this.#d.io.localAddress(s.id),
      // hwtimestamp: H when the NIC's stamps were used
      timestamps: this.#d.io.timestampSources?.(s.id) ?? { tx: "K", rx: "K", hwTx: 0, hwRx: 0 },
    });
  }

  /** The snapshot of live NTP source `id`, or null. */
  #ntpSnapshot(id: number) {
    const index = this.#d.engine.sourceList().findIndex((s) => s.kind === "ntp" && s.id === id);
    const s = index < 0 ? null : this.#d.engine.sourceSnapshot(index);
    return s?.kind === "ntp" ? s : null;
  }

  authData(address: CmdAddress): Maybe<AuthDataReport> {
    const s = this.#find(address);
    if (!s) return { status: Status.NOSUCHSOURCE };
    const nts = this.#d.sources.nts(s.id);
    if (nts) return nts.authData(this.#now());
    const keyAuth = this.#d.sources.keyAuth(s.id);
    if (keyAuth) return keyAuthData(keyAuth.keyId, keyAuth.key());
    return {
      mode: 0,
      keyType: 0,
      keyId: 0,
      keyLength: 0,
      keAttempts: 0,
      lastKeAgo: NEVER,
      cookies: 0,
      cookieLength: 0,
      nak: 0,
    };
  }

  sourceName(address: CmdAddress): Maybe<string> {
    const s = this.#find(address);
    return s ? s.name : { status: Status.NOSUCHSOURCE };
  }

  smoothing(): Maybe<SmoothingReport> {
    const sm = this.#d.smoothing ?? null;
    return sm === null ? { status: Status.NOTENABLED } : sm.report(this.#now());
  }

  rtcReport(): Maybe<RtcReport> {
    const rtc = this.#d.rtc ?? null;
    return rtc === null ? { status: Status.NORTC } : rtc.report();
  }

  manualList(): Maybe<ManualSample[]> {
    // chronyd lists the manual samples even without `manual`
    return this.#d.manual.list().map((m) => ({
      when: m.when,
      slewedOffset: m.slewedOffset,
      origOffset: m.origOffset,
      residual: m.residual,
    }));
  }

  /** `settime`: a manual sample; the fitted offset, frequency change and new frequency. */
  settime(ts: Timestamp): Maybe<ManualTimestampReport> {
    const d = this.#d;
    const r = d.manual.accept(this.#now(), ts);
    if (!r.ok) return { status: r.reason === "disabled" ? Status.NOTENABLED : Status.FAILED };
    const withFrequency = d.manual.list().length > 1;
    this.#logAll(d.discipline.manual(r.correction, r.dfreq, withFrequency));
    this.#afterManual();
    return { offset: r.offset, dfreqPpm: r.dfreq * 1e6, newAfreqPpm: d.discipline.frequency() };
  }

  #logAll(messages: string[]): void {
    for (const m of messages) this.#d.log.info(m);
  }

  /** A manual correction changes what the NTP server serves and the driftfile. */
  #afterManual(): void {
    this.#d.refreshServerReference?.();
    this.#d.saveDrift();
  }

  control(req: ControlRequest): StatusCode {
    const d = this.#d;
    switch (req.kind) {
      case "online":
      case "offline": {
        const matched = this.#matching(req.mask, req.address);
        for (const s of matched) d.io.run(d.engine.setOnline(s.id, req.kind === "online"));
        return matched.length > 0 ? Status.SUCCESS : Status.NOSUCHSOURCE;
      }
      case "onoffline":
        // every source here is reachable by a route (loopback or default): online
        for (const s of this.#live()) d.io.run(d.engine.setOnline(s.id, true));
        return Status.SUCCESS;
      case "burst": {
        const matched = this.#matching(req.mask, req.address);
        for (const s of matched) {
          d.io.run(d.engine.burst(s.id, req.nGoodSamples, req.nTotalSamples));
        }
        return matched.length > 0 ? Status.SUCCESS : Status.NOSUCHSOURCE;
      }
      case "modify_minpoll":
      case "modify_maxpoll":
      case "modify_maxdelay":
      case "modify_maxdelayratio":
      case "modify_maxdelaydevratio":
      case "modify_minstratum":
      case "modify_polltarget": {
        const s = this.#find(req.address);
        if (!s) return Status.NOSUCHSOURCE;
        const m = modification(req.kind, req.value);
        if (m !== null) d.engine.modifySource(s.id, m.option, m.value);
        return Status.SUCCESS;
      }
      case "modify_maxupdateskew":
        if (Number.isFinite(req.value) && req.value >= 0) d.discipline.setMaxUpdateSkew(req.value);
        return Status.SUCCESS;
      case "modify_makestep":
        d.discipline.setMakestep(req.threshold, req.limit);
        return Status.SUCCESS;
      case "manual":
        if (req.option === 2) d.manual.reset();
        else d.manual.setEnabled(req.option !== 0);
        return Status.SUCCESS;
      case "manual_delete": {
        const r = d.manual.delete(req.index);
        if (r === null) return Status.BADSAMPLE;
        if (r.correction !== null) {
          const c = r.correction;
          this.#logAll(d.discipline.manual(c.correction, c.dfreq, d.manual.list().length > 1));
          this.#afterManual();
        }
        return Status.SUCCESS;
      }
      case "dfreq":
        if (!Number.isFinite(req.value)) return Status.INVALID;
        this.#logAll(d.discipline.adjustFrequency(req.value));
        return Status.SUCCESS;
      case "doffset2":
        if (!Number.isFinite(req.value)) return Status.INVALID;
        this.#logAll(d.discipline.adjustOffset(req.value));
        return Status.SUCCESS;
      case "makestep": {
        // chronyd -x cannot step the clock: the command fails (500 Failure), logged as chronyd
        if (d.options.noClockControl) {
          d.log.warn("Could not step system clock");
          return Status.FAILED;
        }
        d.engine.makestep();
        return Status.SUCCESS;
      }
      case "add_source":
        return this.#addSource(req);
      case "del_source": {
        const s = this.#find(req.ip);
        if (!s) return Status.NOSUCHSOURCE;
        d.sources.remove(s.id);
        return Status.SUCCESS;
      }
      case "allow":
      case "allowall":
      case "deny":
      case "denyall":
      case "cmdallow":
      case "cmdallowall":
      case "cmddeny":
      case "cmddenyall":
        return this.#access(req.kind, req.ip, req.subnetBits);
      case "accheck":
      case "cmdaccheck": {
        if (req.ip.family !== "inet4" && req.ip.family !== "inet6") return Status.INVALIDAF;
        const filter = req.kind === "accheck" ? d.ntpAccess : d.cmdAccess;
        return filter.isAllowed(req.ip.address) ? Status.ACCESSALLOWED : Status.ACCESSDENIED;
      }
      case "local2":
      case "local3":
        this.#setLocal(
          req.onOff !== 0
            ? {
              stratum: req.stratum,
              orphan: req.orphan !== 0,
              distance: req.distance,
              // LOCAL3 (chrony 4.5+): activate, waitsynced, waitunsynced (negative: the default)
              ...(req.kind === "local3"
                ? {
                  activate: req.activate,
                  waitSynced: req.waitSynced,
                  waitUnsynced: req.waitUnsynced >= 0
                    ? req.waitUnsynced
                    : req.orphan !== 0
                    ? 300
                    : 0,
                }
                : {}),
            }
            : null,
        );
        return Status.SUCCESS;
      case "reselect":
        d.io.run(d.engine.reselect());
        return Status.SUCCESS;
      case "reselectdistance":
        if (Number.isFinite(req.value) && req.value >= 0) d.engine.setReselectDistance(req.value);
        return Status.SUCCESS;
      case "reset_sources":
        d.io.run(d.engine.resetSources());
        return Status.SUCCESS;
      case "reload_sources":
        this.#reloadSources();
        return Status.SUCCESS;
      case "refresh":
        d.sources.refresh().catch((e) => d.log.warn(`Could not refresh sources : ${e}`));
        return Status.SUCCESS;
      case "dump":
        return this.#dump();
      case "rekey":
        // re-reads the keyfile (bad lines logged); chronyd answers SUCCESS without keys too
        d.keys.reload();
        d.reloadNtsKeys?.(); // ntskeys, with ntsrotate 0
        return Status.SUCCESS;
      case "cyclelogs":
        d.cycleLogs();
        return Status.SUCCESS;
      case "shutdown":
        d.shutdown();
        return Status.SUCCESS;
      case "writertc": {
        const rtc = d.rtc ?? null;
        if (rtc === null) return Status.NORTC;
        return rtc.write() ? Status.SUCCESS : Status.FAILED;
      }
      case "trimrtc": {
        const rtc = d.rtc ?? null;
        if (rtc === null) return Status.NORTC;
        try {
          return rtc.trim() ? Status.SUCCESS : Status.FAILED;
        } catch (e) {
          d.log.warn(`Could not trim RTC : ${(e as Error).message}`);
          return Status.FAILED;
        }
      }
      case "smoothtime": {
        // chronyc: 0 reset, 1 activate; 505 without the smoothtime directive
        const sm = d.smoothing ?? null;
        if (sm === null) return Status.NOTENABLED;
        if (req.option === 0) sm.reset(this.#now());
        else if (req.option === 1) d.activateSmoothing();
        else return Status.FAILED;
        return Status.SUCCESS;
      }
      case "modify_selectopts":
      case "modify_offset":
        return this.#modifySource(req);
      default:
        return Status.FAILED;
    }
  }

  /**
   * chronyc 4.8 `selectopts` and `offset`: an NTP source by address, or a
   * refclock by refid (the address then unspecified). `selectopts` changes
   * the options whose bits (selectdata's N=1 P=2 T=4 R=8) are in `mask`,
   * each set when its `add server` flag is in `options`; the next selection
   * uses them. `offset` replaces the source's offset correction.
   */
  #modifySource(
    req: Extract<ControlRequest, { kind: "modify_selectopts" | "modify_offset" }>,
  ): StatusCode {
    const rc = req.address.family === "unspec"
      ? this.#d.engine.sourceList().find((r) => r.kind === "refclock" && r.refId === req.refId)
      : undefined;
    const s = rc ?? (req.address.family === "unspec" ? undefined : this.#find(req.address));
    if (!s) return Status.NOSUCHSOURCE;
    const ref: SourceRef = { kind: s.kind, id: s.id };
    // chronyd 4.4+ logs the changes made by command requests
    const name = s.kind === "refclock" ? s.name : s.address;
    if (req.kind === "modify_offset") {
      if (!Number.isFinite(req.value)) return Status.INVALID;
      this.#d.engine.setSourceOffset(ref, req.value);
      this.#d.log.info(`Source ${name} new offset ${req.value.toFixed(6)}`);
      return Status.SUCCESS;
    }
    const o: SourceSelectOptions = this.#d.engine.selectOptions(ref) ?? {};
    const bits: [number, number, "noselect" | "prefer" | "trust" | "require"][] = [
      [1, AddSrcFlag.NOSELECT, "noselect"],
      [2, AddSrcFlag.PREFER, "prefer"],
      [4, AddSrcFlag.TRUST, "trust"],
      [8, AddSrcFlag.REQUIRE, "require"],
    ];
    for (const [bit, flag, name] of bits) {
      if (req.mask & bit) o[name] = (req.options & flag) !== 0;
    }
    this.#d.engine.setSelectOptions(ref, o);
    this.#d.log.info(`Source ${name} selection options modified`);
    return Status.SUCCESS;
  }

  #find(address: CmdAddress): NtpIdentity | undefined {
    return this.#live().find((s) => sameAddress(address, s.address));
  }

  /**
   * Sources matching chronyc's mask/address pair, as chronyd matches them:
   * an unspecified address means every source; otherwise a source matches
   * when its address and `address` agree in the bits set in `mask`.
   */
  #matching(mask: CmdAddress, address: CmdAddress): NtpIdentity[] {
    if (address.family === "unspec") return this.#live();
    if (address.family !== "inet4" && address.family !== "inet6") return [];
    const want = addressBytes(address.address);
    const maskBytes = mask.family === address.family
      ? addressBytes(mask.address)
      : new Uint8Array(want?.length ?? 0).fill(0xff);
    if (want === null || maskBytes === null) return [];
    return this.#live().filter((s) => {
      const have = addressBytes(s.address);
      if (have === null || have.length !== want.length) return false;
      return have.every((b, i) => ((b ^ want[i]!) & maskBytes[i]!) === 0);
    });
  }

  /** `add server|pool|peer`: the request's parameters through the conf parser's defaults. */
  #addSource(req: AddSourceParams): StatusCode {
    const d = this.#d;
    const kind = req.type === AddSrcType.PEER
      ? "peer"
      : req.type === AddSrcType.POOL
      ? "pool"
      : req.type === AddSrcType.SERVER
      ? "server"
      : null;
    if (kind === null) return Status.INVALID;
    const name = req.name;
    if (name === "" || /\s/.test(name) || name.length > 255) return Status.INVALIDNAME;
    const parsed = parseCommandLine([`${kind} ${name}`]);
    const sc = parsed.config.sources[0];
    if (parsed.errors.length > 0 || !sc) return Status.INVALIDNAME;
    applyAddParams(sc, req);
    if (isAddress(name)) {
      const known = this.#live().some((s) => s.address === name) || this.#pending.has(name);
      if (known) return Status.SOURCEALREADYKNOWN;
      this.#pending.add(name);
    }
    d.addSource(sc)
      .catch((e) => d.log.warn(`Could not add source ${name} : ${(e as Error).message}`))
      .finally(() => this.#pending.delete(name));
    return Status.SUCCESS;
  }

  /** allow/deny and cmdallow/cmddeny: one more rule in the NTP or command access table. */
  #access(kind: AccessKind, ip: CmdAddress, bits: number): StatusCode {
    const cmd = kind.startsWith("cmd");
    const allow = kind.includes("allow");
    const all = kind.endsWith("all");
    let subnet: string | null;
    if (ip.family === "unspec") {
      subnet = null;
    } else if (ip.family === "inet4" || ip.family === "inet6") {
      const max = ip.family === "inet4" ? 32 : 128;
      if (!Number.isInteger(bits) || bits > max) return Status.BADSUBNET;
      subnet = `${ip.address}/${bits < 0 ? max : bits}`;
    } else {
      return Status.INVALIDAF;
    }
    try {
      (cmd ? this.#d.cmdAccess : this.#d.ntpAccess).add({ allow, all, subnet });
    } catch (e) {
      if (!(e instanceof AddressFilterError)) throw e;
      return Status.BADSUBNET; // not an address or a prefix too long for its family
    }
    return Status.SUCCESS;
  }

  /** `local ...` / `local off`: the reference's and the NTP server's local options. */
  #setLocal(local: (LocalOptions & LocalReference) | null): void {
    const d = this.#d;
    d.discipline.setLocal(local);
    Object.assign(d.serverReference, withLocal(d.serverReference, local, this.#now()));
    d.server?.setReference(d.serverReference, this.#sys.realNow());
  }

  /**
   * `reload sources`: reads the sourcedir files again; sources of lines that
   * are gone (or changed) are removed, new lines are added.
   */
  #reloadSources(): void {
    const d = this.#d;
    let fresh: SourceConfig[];
    try {
      fresh = this.#sys.readSourceDirs(d.config.sourceDirs);
    } catch (e) {
      d.log.warn(`Could not reload sources : ${(e as Error).message}`);
      return;
    }
    const before = new Map(this.#dirSources.map((sc) => [sourceKey(sc), sc]));
    const after = new Map(fresh.map((sc) => [sourceKey(sc), sc]));
    for (const s of this.#live()) {
      const line = d.sources.lineOf(s.id);
      if (line?.fromSourceDir && !after.has(sourceKey(line))) {
        d.sources.remove(s.id);
      }
    }
    for (const [key, sc] of after) {
      if (before.has(key)) continue;
      d.addSource(sc).catch((e) =>
        d.log.warn(`Could not add source ${sc.name} : ${(e as Error).message}`)
      );
    }
    this.#dirSources = fresh;
  }

  /**
   * `dump`: with an ntsdumpdir, the NTS cookies and server keys (as chronyd); with a
   * dumpdir, each source's measurement history (lib/daemon/dumps.ts).
   */
  #dump(): StatusCode {
    this.#d.dumpNts?.();
    if (!this.#d.config.dumpDir) return Status.SUCCESS;
    return this.#d.dumpHistories?.() ? Status.SUCCESS : Status.FAILED;
  }
}

type AccessKind =
  | "allow"
  | "allowall"
  | "deny"
  | "denyall"
  | "cmdallow"
  | "cmdallowall"
  | "cmddeny"
  | "cmddenyall";

/** The NtpSource option a modify_* request changes, with the value chronyd would accept. */
function modification(
  kind:
    | "modify_minpoll"
    | "modify_maxpoll"
    | "modify_maxdelay"
    | "modify_maxdelayratio"
    | "modify_maxdelaydevratio"
    | "modify_minstratum"
    | "modify_polltarget",
  value: number,
): { option: ModifiableOption; value: number } | null {
  if (!Number.isFinite(value)) return null;
  switch (kind) {
    case "modify_minpoll":
    case "modify_maxpoll":
      // chrony.conf(5): poll range -7..24 log2 s; outside it the request changes nothing
      if (value < MIN_POLL || value > MAX_POLL) return null;
      return { option: kind === "modify_minpoll" ? "minpoll" : "maxpoll", value };
    case "modify_maxdelay":
      return { option: "maxdelay", value: Math.min(Math.max(value, 0), MAX_MAXDELAY) };
    case "modify_maxdelayratio":
      return { option: "maxdelayratio", value: Math.max(value, 1) };
    case "modify_maxdelaydevratio":
      return { option: "maxdelaydevratio", value: Math.max(value, 0) };
    case "modify_minstratum":
      return { option: "minstratum", value: Math.min(Math.max(value, 0), 16) };
    case "modify_polltarget":
      return { option: "polltarget", value: Math.max(value, 1) };
  }
}

/** Overrides the parser's defaults with what chronyc sent (it always sends every field). */
function applyAddParams(sc: SourceConfig, p: AddSourceParams): void {
  const f = (bit: number) => (p.flags & bit) !== 0;
  sc.port = p.port;
  sc.minpoll = p.minpoll;
  sc.maxpoll = p.maxpoll;
  if (p.presendMinpoll > 0 && p.presendMinpoll <= MAX_POLL) sc.presend = p.presendMinpoll;
  sc.minstratum = p.minStratum;
  sc.polltarget = p.pollTarget;
  if (p.version > 0) sc.version = p.version;
  if (p.maxSources > 0) sc.maxsources = p.maxSources;
  if (p.minSamples >= 0) sc.minsamples = p.minSamples;
  if (p.maxSamples >= 0) sc.maxsamples = p.maxSamples;
  if (p.authkey > 0) sc.key = p.authkey;
  if (p.ntsPort > 0) sc.ntsport = p.ntsPort;
  sc.maxdelay = p.maxDelay;
  if (p.maxDelayRatio > 0) sc.maxdelayratio = p.maxDelayRatio;
  sc.maxdelaydevratio = p.maxDelayDevRatio;
  if (p.minDelay > 0) sc.mindelay = p.minDelay;
  if (p.asymmetry !== 0) sc.asymmetry = p.asymmetry;
  sc.offset = p.offset;
  if (p.filterLength > 0) sc.filter = p.filterLength;
  sc.certset = p.certSet;
  if (p.maxDelayQuant > 0) sc.maxdelayquant = p.maxDelayQuant;
  if (p.maxUnreach > 0) sc.maxunreach = p.maxUnreach;
  sc.offline = !f(AddSrcFlag.ONLINE);
  sc.autoOffline = f(AddSrcFlag.AUTOOFFLINE);
  sc.iburst = f(AddSrcFlag.IBURST);
  sc.burst = f(AddSrcFlag.BURST);
  sc.prefer = f(AddSrcFlag.PREFER);
  sc.noselect = f(AddSrcFlag.NOSELECT);
  sc.trust = f(AddSrcFlag.TRUST);
  sc.require = f(AddSrcFlag.REQUIRE);
  sc.xleave = f(AddSrcFlag.INTERLEAVED);
  sc.nts = f(AddSrcFlag.NTS);
  sc.copy = f(AddSrcFlag.COPY);
  sc.ipv4 = f(AddSrcFlag.IPV4);
  sc.ipv6 = f(AddSrcFlag.IPV6);
}

/** Identity of a sourcedir line for `reload sources` (everything but where it was read). */
function sourceKey(sc: SourceConfig): string {
  const { origin: _origin, ...rest } = sc;
  return JSON.stringify(rest, Object.keys(rest).sort());
}

/** Whether `name` is a numeric IPv4 or IPv6 address. */
function isAddress(name: string): boolean {
  return addressBytes(name) !== null;
}

/** Bytes of a numeric address, or null for anything else (host names, subnets). */
function addressBytes(text: string): Uint8Array | null {
  return parseIp(text)?.bytes ?? null;
}
