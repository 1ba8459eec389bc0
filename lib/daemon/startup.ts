/**
 * The steps of the daemon's start (lib/daemon/daemon.ts `start()` runs them
 * in this order, which is chronyd's order of effects and log lines):
 * 1. {@link openClock}: the system clock (read-only with `-x`);
 * 2. {@link loadReference}: the RTC, stale temporaries, the driftfile, the
 *    leap-second source and the reference built from them;
 * 3. {@link openLogFiles}: `log`/`logdir` files, the first tracking line, tempcomp;
 * 4. {@link buildEngine}: the discipline, the engine, manual input;
 * 5. {@link ServedReference}: smoothing, what the server advertises, the leap timer;
 * 6. {@link enableHardware}: hwtimestamp NICs (still privileged) and the PTP port;
 * 7. {@link buildClientIo}: the client sockets' IO layer;
 * 8. {@link buildAccess}: the client log and the access tables;
 * 9. {@link startNtpServer}: the NTP server, NTS-KE and the server sockets;
 * 10. {@link startSources}: the configured sources (initstepslew first);
 * 11. {@link driftSaver} and {@link startBroadcasts}: periodic driftfile and broadcasts;
 * 12. {@link startCmdmon} and {@link startObserver}: the command socket and HTTP endpoint.
 * Refclocks start last, then the engine; privileges are dropped by the caller.
 *
 * @example
 * ```ts
 * import { openClock } from "./startup.ts";
 * import type { Config } from "../conf/config.ts";
 * import type { ChronydOptions } from "../conf/cli.ts";
 * import type { Logger } from "./log.ts";
 * function clockOf(config: Config, o: ChronydOptions, log: Logger) {
 *   return openClock(config, o, log).clock;
 * }
 * ```
 * @module
 */
import { parseCommandLine } from "../conf/parse.ts";
import type { Config, SourceConfig } from "../conf/config.ts";
import { subnetText } from "../conf/access.ts";
import type { ChronydOptions } from "../conf/cli.ts";
import type { Logger } from "./log.ts";
import { Engine, type SampledSource, type SelectionRow } from "../engine/engine.ts";
import type { Sample } from "../clock/sample.ts";
import type { SourceEstimate } from "../clock/sourcestats.ts";
import type { Timestamp } from "../time/timestamp.ts";
import { CLIENT_IO_OF, ClientIo, measurementSources, type TickingClock } from "./client_io.ts";
import { eventMessage, ReferenceDiscipline } from "../engine/discipline.ts";
import { ManualInput } from "../clock/manual.ts";
import { numericFirst, SourceManager } from "./source_manager.ts";
import type { KeyStore } from "./keys.ts";
import { KeyServerAuth } from "../ntp/key_auth.ts";
import { selectOptions } from "../engine/source_spec.ts";
import type { NtsServerHandle } from "./nts_server.ts";
import { openSystemClock, resolveInitStepSlew, systemResolver } from "./system.ts";
import { Reference } from "../clock/reference.ts";
import { advertisedReference, peerView, withLocal } from "../clock/advertised.ts";
import {
  leapAtEndOfDay,
  type LeapRecord,
  parseLeapSecondsList,
  parseTzifLeaps,
  TzifError,
} from "../clock/leap.ts";
import type { LeapAction } from "../clock/clock.ts";
import {
  type Drift,
  driftExceededMessage,
  driftReadMessage,
  formatDriftfile,
  limitDrift,
  parseDriftfile,
  UNKNOWN_SKEW_PPM,
} from "../clock/driftfile.ts";
import { AddressFilter } from "../ntp/addrfilt.ts";
import { ClientLog, RATE_RESPOND, type RateDecision, type RateLimit } from "../ntp/clientlog.ts";
import { addressFamily } from "../../ffi/libc.ts";
import { parseIp, parseIpv4 } from "../net/address.ts";
import type { CmdAddress } from "../cmdmon/wire.ts";
import { NtpServer, type ServerReference, unsynchronisedReference } from "../ntp/server.ts";
import { Smoothing } from "../clock/smoothing.ts";
import { type RunningTempComp, startTempComp } from "./tempcomp.ts";
import { type RtcDeps, type RunningRtc, startRtc } from "./rtc.ts";
import { openClockDevice } from "../../ffi/devices.ts";
import { mailOnChangeText, sendMail } from "./mail.ts";
import { NtpServerSocket } from "../io/ntp_server.ts";
import { type CmdmonServer, startCmdmonServer } from "../io/cmdmon_server.ts";
import { openRequestKinds } from "../cmdmon/handlers.ts";
import { DaemonBackend } from "./cmdmon_backend.ts";
import { systemBackendServices } from "./backend_services.ts";
import type { Observer } from "../http/observe.ts";
import { readBytesAsText, removeStaleFiles, writeFileAtomic } from "./files.ts";
import { isOsError } from "../io/os_error.ts";
import { realNow } from "../io/realtime.ts";
import { refIdFromAddress } from "../ntp/reference_id.ts";
import { LogWriter } from "./log_writer.ts";
import { enabledMessage, HwTimestampError, HwTimestamping } from "./hwtimestamp.ts";
import { PtpPort } from "../io/ptp_port.ts";
import {
  measurementFromReport,
  measurementsLine,
  selectionLine,
  startTrackingEntry,
  statisticsFromEstimate,
  statisticsLine,
  trackingLine,
  wantsStatistics,
} from "../engine/logfiles.ts";
import type { DaemonState } from "./state.ts";

/** chronyd's precision of the system clock, log2 s (measured by chronyd; typical Linux value). */
export const CLOCK_PRECISION_LOG2 = -25;
/** initstepslew gives up after this long without a correction, seconds (chronyd 4.3: 10 s, observed). */
const INIT_STEP_SLEW_TIMEOUT = 10;
/** How often the driftfile is written while running, seconds (chrony.conf(5) driftfile interval). */
const DEFAULT_DRIFT_INTERVAL = 3600;

/** Step 1: the system clock, and cooked minus CLOCK_REALTIME for the server sockets. */
export function openClock(
  config: Config,
  o: ChronydOptions,
  log: Logger,
): { clock: TickingClock; cookedMinusReal: () => Timestamp } {
  const clock = openSystemClock({
    readOnly: o.noClockControl,
    maxSlewRate: config.maxSlewRate,
    // chrony 4.7: another process adjusting the clock (only when we control it: not with -x)
    onInterference: () => log.warn("System clock interference detected (another NTP client?)"),
  });
  // Cooked minus CLOCK_REALTIME: clock.now() reads the real clock itself, so the real
  // time it stands for is taken as the middle of two reads around it (one read after it
  // biased every served timestamp by the FFI call's few µs).
  const cookedMinusReal = (): Timestamp => {
    const r1 = realNow();
    const c = clock.now();
    const r2 = realNow();
    return c - (r1 + r2) / 2n;
  };
  return { clock, cookedMinusReal };
}

/** What {@link loadReference} read and built. */
export interface LoadedReference {
  rtc: RunningRtc | null;
  /** The RTC's dependencies (its log files are set by {@link openLogFiles}). */
  rtcDeps: RtcDeps;
  /** What the driftfile gave, or null. */
  restored: Drift | null;
  reference: Reference;
}

/**
 * Step 2: the RTC (chronyd opens it before it reads the driftfile), stale
 * temporary files, the driftfile, the leap-second source, and the reference.
 */
export function loadReference(
  config: Config,
  o: ChronydOptions,
  log: Logger,
  clock: TickingClock,
): LoadedReference {
  // rtcfile: RTC tracking (null without a device: chronyc then gets 513)
  const rtcDeps: RtcDeps = {
    open: openClockDevice,
    now: () => clock.now(),
    log,
    logs: null, // set by openLogFiles, once the log files are open
    canSet: !o.noClockControl,
    synced: () => reference.synchronised,
  };
  const rtc = startRtc(config, rtcDeps);
  removeStaleFiles(config, log);
  // read before the leap second zone is loaded (chronyd 4.3's log order)
  const restored = readDrift(config, log);
  const reference = new Reference(clock, {
    makestep: config.makestep ?? null,
    maxchange: config.maxChange ?? null,
    maxUpdateSkew: config.maxUpdateSkew,
    maxDrift: config.maxDrift,
    corrTimeRatio: config.corrTimeRatio,
    maxClockError: config.maxClockError,
    logChange: config.logChange,
    leapSecMode: config.leapSecMode,
    leapSecTz: leapSecTz(config, log),
    local: config.local
      ? {
        stratum: config.local.stratum,
        orphan: config.local.orphan,
        distance: config.local.distance,
        activate: config.local.activate,
        waitSynced: config.local.waitSynced,
        waitUnsynced: config.local.waitUnsynced,
      }
      : null,
    fallbackDrift: config.fallbackDrift ?? null,
    // Without `rtcsync` the kernel is never told the clock is synchronised, so its
    // 11-minute mode stays off (chrony.conf(5) rtcsync); the error estimates are still given.
    rtcSync: config.rtcSync,
  });
  if (restored) reference.restoreDrift(restored.frequency, restored.skew);
  return { rtc, rtcDeps, restored, reference };
}

/** Step 3: the log files, the first tracking line (the drift read), tempcomp. */
export function openLogFiles(
  config: Config,
  log: Logger,
  clock: TickingClock,
  loaded: LoadedReference,
): { logs: LogWriter | null; tempComp: RunningTempComp | null } {
  const { reference, restored } = loaded;
  const logs = config.logDir && config.log.length > 0
    ? new LogWriter({
      dir: config.logDir,
      kinds: config.log,
      logBanner: config.logBanner,
      onError: (m) => log.warn(m),
    })
    : null;
  loaded.rtcDeps.logs = logs;
  logs?.write(
    "tracking",
    trackingLine(startTrackingEntry(
      clock.now(),
      restored?.frequency ?? reference.driftValues().frequency,
      restored?.skew ?? UNKNOWN_SKEW_PPM,
    )),
  );
  // tempcomp: the compensation sits between the discipline and the clock
  const tempComp = config.tempComp ? startTempComp(config.tempComp, clock, log, logs) : null;
  return { logs, tempComp };
}

/** Step 4: the discipline over the reference, the engine, manual input. */
export function buildEngine(
  config: Config,
  log: Logger,
  clock: TickingClock,
  reference: Reference,
  logs: LogWriter | null,
  hooks: { exit(): void; initStepSlewEnd(): void },
): { discipline: ReferenceDiscipline; engine: Engine; manual: ManualInput } {
  const discipline = new ReferenceDiscipline(reference, {
    onExit: () => hooks.exit(),
    onInitStepSlewEnd: () => hooks.initStepSlewEnd(),
    onTracking: (entry) => {
      logs?.write("tracking", trackingLine(entry));
      // mailonchange: the correction (the opposite of the offset) beyond the threshold
      const mail = config.mailOnChange;
      if (mail && Math.abs(entry.offset) > mail.threshold) {
        sendMail(
          mailOnChangeText(mail.email, Deno.hostname(), entry.time, -entry.offset, mail.threshold),
          log,
        );
      }
    },
  });
  const engine: Engine = new Engine({
    clock,
    discipline,
    randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
    select: selectOptions(config),
    maxClockError: config.maxClockError,
    localRefId: localRefIds(config),
    ...(logs ? { onSample: sampleLogger(logs, (): Engine => engine) } : {}),
    ...(logs?.enabled("selection") ? { onSelection: selectionLogger(logs) } : {}),
    ...(logs?.enabled("statistics")
      ? {
        onRefclockSample: (name: string, est: SourceEstimate, previous: SourceEstimate | null) => {
          if (!wantsStatistics(est)) return;
          logs.write(
            "statistics",
            statisticsLine(statisticsFromEstimate(est, { address: name, previous })),
          );
        },
      }
      : {}),
  });
  engine.authSelectMode = config.authSelectMode;

  // chrony.conf(5) manual: settime samples move with every clock adjustment
  const manual = new ManualInput({ enabled: config.manual });
  clock.onParameterChange((c) => manual.onClockChange(c));
  return { discipline, engine, manual };
}

/**
 * Step 5: what the NTP server and symmetric peers are told (the policy is
 * lib/clock/advertised.ts), `smoothtime`, and the leap-second timer of
 * `leapsecmode step/slew`.
 */
export class ServedReference {
  /** `smoothtime`: the served time absorbs the clock's corrections; null without it. */
  readonly smoothing: Smoothing | null;
  /** What the server serves (shared with the server and `chronyc local`). */
  readonly serverReference: ServerReference;
  /** The NTP server to hand each refresh to (set once it is built). */
  server: NtpServer | null = null;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #clock: TickingClock;
  readonly #reference: Reference;
  readonly #engine: Engine;
  #leapTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    config: Config,
    log: Logger,
    clock: TickingClock,
    reference: Reference,
    engine: Engine,
  ) {
    this.#config = config;
    this.#log = log;
    this.#clock = clock;
    this.#reference = reference;
    this.#engine = engine;
    // smoothtime: the served time absorbs the clock's corrections (lib/clock/smoothing.ts)
    const smoothing = config.smoothTime
      ? new Smoothing({
        maxFreqPpm: config.smoothTime.maxFreq,
        maxWanderPpm: config.smoothTime.maxWander,
        leapOnly: config.smoothTime.leapOnly,
      })
      : null;
    this.smoothing = smoothing;
    if (smoothing) clock.onParameterChange((c) => smoothing.onClockChange(c));
    // clockprecision: the served precision is its rounded log2, as chronyd 4.3 serves it
    this.serverReference = unsynchronisedReference(
      config.clockPrecision !== undefined && config.clockPrecision > 0
        ? Math.round(Math.log2(config.clockPrecision))
        : CLOCK_PRECISION_LOG2,
    );
    if (config.local) {
      const local = {
        stratum: config.local.stratum,
        distance: config.local.distance,
        orphan: config.local.orphan,
      };
      Object.assign(this.serverReference, withLocal(this.serverReference, local, clock.now()));
      this.serverReference.localEligible = reference.localEligible(clock.now());
    }
  }

  /** `smoothtime activate` (and the automatic start): logs "Time smoothing activated". */
  activateSmoothing(): void {
    if (this.smoothing?.activate(this.#clock.now())) this.#log.info("Time smoothing activated");
  }

  /** After a clock update: smoothing may start, then the served reference is refreshed. */
  onUpdate(): void {
    const smoothing = this.smoothing;
    const smoothTime = this.#config.smoothTime;
    // smoothing starts when 1/10000 of the skew is below the wander limit (chrony.conf(5))
    if (smoothing && !smoothing.active && smoothTime) {
      const skew = this.#reference.trackingData(this.#clock.now()).skew;
      if (skew / 1e4 < smoothTime.maxWander) this.activateSmoothing();
    }
    this.refresh();
  }

  /** Recomputes what is served (and arms the leap timer); the server and peers get it. */
  refresh(): void {
    this.#armLeap();
    const clock = this.#clock, reference = this.#reference, config = this.#config;
    const serverReference = this.serverReference;
    const now = clock.now();
    const t = reference.trackingData(now);
    Object.assign(
      serverReference,
      advertisedReference(serverReference, {
        now,
        tracking: t,
        synchronised: reference.synchronised,
        localEligible: reference.localEligible(now),
        localActive: reference.localActive(now),
        localConfigured: Boolean(config.local),
        // a leap smear (smoothtime with leapsecmode slew) hides the leap from clients
        hideLeap: this.smoothing !== null && config.leapSecMode === "slew",
        maxClockErrorPpm: config.maxClockError,
      }),
    );
    this.server?.setReference(serverReference, realNow());
    // Symmetric peers learn our state from our own packets.
    this.#engine.setLocalStatus(peerView(t));
  }

  /** Stops the leap timer. */
  close(): void {
    if (this.#leapTimer !== null) clearTimeout(this.#leapTimer);
  }

  // leapsecmode step/slew: the reference applies the leap second at midnight (its own timer);
  // a leap smear (smoothtime leaponly) takes the second into the served time
  #armLeap(): void {
    const clock = this.#clock, reference = this.#reference, config = this.#config;
    const smoothing = this.smoothing;
    if (config.leapSecMode !== "step" && config.leapSecMode !== "slew") return; // ignore: nothing
    const at = reference.nextTimer();
    if (at === null || this.#leapTimer !== null) return;
    const ms = Math.max(0, Number(at - clock.now()) / 1e6);
    if (ms > 2 ** 31 - 1) return; // re-armed by a later refresh
    this.#leapTimer = setTimeout(() => {
      this.#leapTimer = null;
      for (const e of reference.onTimer(clock.now())) {
        const m = eventMessage(e);
        if (m !== null) this.#log.info(m);
        if (e.kind === "leapApplied" && e.mode === "slew" && smoothing?.options.leapOnly) {
          smoothing.leap(clock.now(), e.leap);
        }
      }
    }, ms);
  }
}

/** What {@link enableHardware} set up. */
export interface Hardware {
  hw: HwTimestamping | null;
  ptpPort: PtpPort | null;
  /** Stops reading the NICs' clocks. */
  stopPolling(): void;
}

/**
 * Step 6: hwtimestamp NICs set up now (still privileged), their clocks read
 * on a timer; `ptpport` opened as `port` and `allow` say (as chronyd), its
 * responder set by {@link startNtpServer}.
 * @throws {HwTimestampError} when a NIC named without a wildcard cannot be used
 */
export async function enableHardware(
  config: Config,
  o: ChronydOptions,
  log: Logger,
): Promise<Hardware> {
  const hwSetup = config.hwTimestamps.length > 0
    ? HwTimestamping.enable(config.hwTimestamps, realNow())
    : null;
  if (hwSetup?.fatal) {
    await hwSetup.hw.close();
    throw new HwTimestampError(hwSetup.fatal);
  }
  const hw = hwSetup?.hw ?? null;
  for (const i of hw?.interfaces ?? []) {
    log.info(enabledMessage(i));
  }
  let hwTimer: ReturnType<typeof setTimeout> | null = null;
  const pollHw = () => {
    const next = hw?.poll(realNow()) ?? null;
    if (next !== null) hwTimer = setTimeout(pollHw, Math.max(1, Number(next - realNow()) / 1e6));
  };
  if (hw) pollHw();
  let ptpPort: PtpPort | null = null;
  if (config.ptpPort !== 0) {
    try {
      ptpPort = PtpPort.open({
        port: config.ptpPort,
        domain: config.ptpDomain,
        server: null,
        families: families(o),
        addresses: config.bindAddress,
        hwTimestamping: (hw?.interfaces.length ?? 0) > 0,
      });
    } catch (e) {
      log.error(`Could not open PTP socket on port ${config.ptpPort} : ${(e as Error).message}`);
    }
  }
  return {
    hw,
    ptpPort,
    stopPolling: () => {
      if (hwTimer !== null) clearTimeout(hwTimer);
    },
  };
}

/** Step 7: the IO layer of the client sockets. */
export function buildClientIo(
  config: Config,
  log: Logger,
  clock: TickingClock,
  engine: Engine,
  hardware: Hardware,
  hooks: { onUpdate(): void; onSourceLost(id: number, reason: string): void },
): ClientIo {
  const { hw, ptpPort } = hardware;
  return new ClientIo({
    engine,
    clock,
    log,
    hw,
    ptp: ptpPort ? { port: config.ptpPort, channel: ptpPort } : null,
    hwTsTimeout: config.hwTsTimeout,
    ...(config.acquisitionPort !== undefined ? { port: config.acquisitionPort } : {}),
    bindAddress: config.bindAcqAddress,
    tos: config.dscp << 2,
    ...(config.bindAcqDevice ? { device: config.bindAcqDevice } : {}),
    onUpdate: () => hooks.onUpdate(),
    onSourceLost: (id, reason) => hooks.onSourceLost(id, reason),
  });
}

/** Step 8: the client log (rate limits) and the NTP and command access tables. */
export function buildAccess(
  config: Config,
): { clientLog: ClientLog; ntpAccess: AddressFilter; cmdAccess: AddressFilter } {
  const clientLog = new ClientLog({
    limitBytes: config.clientLogLimit,
    disabled: config.noClientLog,
    ...(config.rateLimit ? { ntpRateLimit: rateLimit(config.rateLimit) } : {}),
    ...(config.cmdRateLimit ? { cmdRateLimit: rateLimit(config.cmdRateLimit) } : {}),
    ...(config.ntsRateLimit ? { ntsRateLimit: rateLimit(config.ntsRateLimit) } : {}),
    seed: crypto.getRandomValues(new Uint32Array(1))[0]!,
    random: Math.random,
  });
  const ntpAccess = AddressFilter.fromRules(accessRules(config.ntpAccess));
  const cmdAccess = AddressFilter.fromRules(accessRules(config.cmdAccess));
  return { clientLog, ntpAccess, cmdAccess };
}

/** What {@link startNtpServer} started. */
export interface ServerParts {
  server: NtpServer | null;
  /** The open server sockets (one per family; `allow`/`deny` open and close them). */
  serverSockets: NtpServerSocket[];
  ntsServer: NtsServerHandle | null;
  /** horae only: the `serverworkers` threads, or null. */
  serverWorkers: { close(): Promise<void> } | null;
}

/**
 * Step 9: chronyd's NTP server runs whenever `port` is not 0 (NTS-KE also with 0); a
 * family's socket is open while `allow` admits some of its addresses (also
 * after `chronyc allow/deny`). A PTP port gets a responder too.
 */
export async function startNtpServer(
  config: Config,
  o: ChronydOptions,
  log: Logger,
  parts: {
    served: ServedReference;
    clientLog: ClientLog;
    ntpAccess: AddressFilter;
    keys: KeyStore;
    hardware: Hardware;
    cookedMinusReal: () => Timestamp;
    clock: TickingClock;
  },
): Promise<ServerParts> {
  const { clientLog, ntpAccess, keys, cookedMinusReal } = parts;
  const { serverReference, smoothing } = parts.served;
  const { hw, ptpPort } = parts.hardware;
  let server: NtpServer | null = null;
  const serverSockets: NtpServerSocket[] = [];
  let ntsServer: NtsServerHandle | null = null;
  let serverWorkers: { close(): Promise<void> } | null = null; // horae only: `serverworkers`
  try {
    // NTS (OpenSSL, TLS, cookies) is loaded only when configured: an idle daemon without it
    // does not hold that code (issue 12). NTS-KE runs with `port 0` too (announcing port 0, as
    // chronyd 4.3 and 4.8): a server dedicated to NTS-KE (`ntsntpserver`).
    if (Math.min(config.ntsServerCerts.length, config.ntsServerKeys.length) > 0) {
      const { startNtsServer } = await import("./nts_server.ts");
      ntsServer = await startNtsServer(config, log, {
        clientLog,
        access: ntpAccess,
        families: families(o),
      });
    }
  } catch (e) {
    log.error(`Could not start NTS server : ${(e as Error).message}`);
  }
  if (config.port !== 0) {
    server = new NtpServer({ reference: serverReference, clientLog, filter: ntpAccess });
    // the sockets serve cooked time (cookedOffset); smoothing adds its offset on top
    if (smoothing) server.setSmoothing((now) => smoothing.offsetAt(now));
    if (keys.configured) server.setKeyAuth(new KeyServerAuth(keys.lookup, realNow));
    // extfield F323: monotonic receive timestamps leave out the clock's offset corrections
    let monoNs = 0n;
    parts.clock.onParameterChange((c) => monoNs += BigInt(Math.round(c.doffset * 1e9)));
    const monoEpoch = crypto.getRandomValues(new Uint32Array(1))[0]!;
    server.setMonotonic(() => monoNs, monoEpoch);
    if (ntsServer) server.setAuth(ntsServer.auth);
    const responder = server;
    // horae only: `serverworkers` N > 1 shares the port with N-1 worker threads (server_workers.ts)
    const workers = config.serverWorkers > 1 ? await import("./server_workers.ts") : null;
    const group = workers?.serverWorkerGroup(config, log) ?? 1;
    const syncServerSockets = () => {
      for (const family of families(o)) {
        // a `broadcast` address of the family opens the socket too (chronyd sends from it)
        const want = ntpAccess.isAnyAllowed(family === "ipv4" ? 4 : 6) ||
          config.broadcasts.some((b) => addressFamily(b.address) === family);
        const open = serverSockets.find((s) => s.localAddress().family === family);
        if (!want && open) {
          serverSockets.splice(serverSockets.indexOf(open), 1);
          open.close();
        }
        if (!want || open) continue;
        const address = family === "ipv4" ? config.bindAddress.ipv4 : config.bindAddress.ipv6;
        try {
          serverSockets.push(NtpServerSocket.open(responder, {
            family,
            ...(address ? { address } : {}),
            port: config.port,
            ...(config.bindDevice ? { device: config.bindDevice } : {}),
            ...(hw && hw.interfaces.length > 0 ? { hw } : {}),
            cookedOffset: cookedMinusReal,
            tos: config.dscp << 2, // dscp: the DSCP field of the TOS byte
            broadcast: config.broadcasts.length > 0,
            ...(group > 1 ? { reusePortGroup: group } : {}),
          }));
        } catch (e) {
          log.error(
            `Could not open NTP socket on ${address ?? family} port ${config.port} : ${
              (e as Error).message
            }`,
          );
        }
      }
    };
    syncServerSockets();
    ntpAccess.onChange = syncServerSockets;
    if (workers && group > 1) {
      serverWorkers = await workers.startServerWorkers({
        group,
        config,
        families: families(o),
        server,
        reference: serverReference,
        clientLog,
        filter: ntpAccess,
        rules: accessRules(config.ntpAccess),
        keys,
        clock: parts.clock,
        log,
        nts: ntsServer,
        smoothing,
        monotonic: { correction: () => monoNs, epoch: monoEpoch },
        ...(config.rateLimit ? { rateLimit: rateLimit(config.rateLimit) } : {}),
      });
    }
  }
  if (ptpPort) {
    server ??= new NtpServer({ reference: serverReference, clientLog, filter: ntpAccess });
    ptpPort.setServer(server, hw && hw.interfaces.length > 0 ? hw : null);
  }
  return { server, serverSockets, ntsServer, serverWorkers };
}

/** What {@link startSources} runs. */
export interface RunningSources {
  sources: SourceManager;
  /** Adds a source line (chronyc add, sourcedir reloads); starts the refresh it may need. */
  addSource(sc: SourceConfig): Promise<number>;
  /** Starts the 1 s refresh of the served reference when something reads it. */
  wantRefresh(kind?: string): void;
  /** Stops its timers (refresh, initstepslew, name refresh); no refresh starts after. */
  stop(): void;
}

/**
 * Step 10: the source manager, the periodic refresh of the served reference
 * and of host names, and the configured sources, after `initstepslew`'s when
 * it has servers (its correction, or its timeout, ends it).
 */
export async function startSources(
  config: Config,
  o: ChronydOptions,
  log: Logger,
  parts: {
    clock: TickingClock;
    engine: Engine;
    io: ClientIo;
    keys: KeyStore;
    server: NtpServer | null;
    discipline: ReferenceDiscipline;
    reference: Reference;
    served: ServedReference;
    /** Where the reference's end-of-initstepslew event goes from now on. */
    setInitStepSlewEnd(hook: () => void): void;
  },
): Promise<RunningSources> {
  const { clock, engine, io, keys, server, discipline, reference, served } = parts;
  const sources = new SourceManager({
    engine,
    config,
    resolve: systemResolver(log),
    family: o.family,
    log,
    run: (actions) => io.run(actions),
    keys,
  });
  // The served reference also changes without updates (dispersion, local activation): it is
  // refreshed every second while something reads it (the NTP server, symmetric peers), and
  // `fallbackdrift` is checked then too. A client without them sleeps until its next poll
  // (issue 12: no periodic wake-ups nothing needs).
  let refreshTimer: ReturnType<typeof setInterval> | null = null;
  let stopped = false;
  const wantRefresh = (kind?: string) => {
    if (refreshTimer !== null || stopped) return;
    if (server === null && kind !== "peer" && !config.fallbackDrift) return;
    refreshTimer = setInterval(() => {
      for (const m of discipline.tick(clock.now())) log.info(m); // fallbackdrift
      served.refresh();
    }, 1000);
  };
  const addSource = (sc: SourceConfig): Promise<number> => {
    wantRefresh(sc.kind);
    return sources.add(sc);
  };
  // `refresh`: names resolved again periodically (chrony.conf(5); 0 disables).
  const resolveTimer = config.refresh > 0
    ? setInterval(() => {
      sources.refresh().catch((e) => log.warn(`Could not refresh sources : ${e}`));
    }, Math.min(config.refresh, 2 ** 31 / 1000 - 1) * 1000)
    : null;
  const addConfiguredSources = async () => {
    for (const sc of numericFirst(config.sources)) {
      try {
        await addSource(sc);
      } catch (e) {
        log.warn(`Could not add source ${sc.name} : ${(e as Error).message}`);
      }
    }
  };
  // chrony.conf(5) initstepslew: its servers (iburst) first; after their one
  // correction (or INIT_STEP_SLEW_TIMEOUT without one) they are removed and
  // normal operation begins with the configured sources.
  const init = config.initstepslew;
  let initTimer: ReturnType<typeof setTimeout> | null = null;
  // chronyd resolves the initstepslew names once, at start, and drops those that fail
  const initAddresses = await resolveInitStepSlew(
    init?.hosts ?? [],
    o.family === "any" ? undefined : o.family,
    log,
  );
  if (init && initAddresses.length > 0) {
    reference.setInitStepSlew(init.threshold);
    const initLines: SourceConfig[] = [];
    let ended = false;
    const endInit = () => {
      if (ended) return;
      ended = true;
      if (initTimer !== null) clearTimeout(initTimer);
      initTimer = null;
      if (reference.initStepSlewActive) {
        reference.setInitStepSlew(null);
        log.info("No suitable source for initstepslew");
      }
      for (const id of engine.liveIds()) {
        const line = sources.lineOf(id);
        if (engine.isLive(id) && line !== undefined && initLines.includes(line)) sources.remove(id);
      }
      addConfiguredSources().catch((e) => log.warn(`Could not add sources : ${e}`));
    };
    parts.setInitStepSlewEnd(() => setTimeout(endInit, 0));
    initTimer = setTimeout(endInit, INIT_STEP_SLEW_TIMEOUT * 1000);
    for (const address of initAddresses) {
      const sc = parseCommandLine([`server ${address} iburst`]).config.sources[0];
      if (!sc) continue;
      initLines.push(sc);
      try {
        await addSource(sc);
      } catch (e) {
        log.warn(`Could not add source ${address} : ${(e as Error).message}`);
      }
    }
  } else {
    await addConfiguredSources();
  }
  return {
    sources,
    addSource,
    wantRefresh,
    stop: () => {
      stopped = true;
      if (refreshTimer !== null) clearInterval(refreshTimer);
      if (initTimer !== null) clearTimeout(initTimer);
      if (resolveTimer !== null) clearInterval(resolveTimer);
    },
  };
}

/**
 * Step 11a: the driftfile written every `driftfile` interval (after an
 * update) and at exit; never updated, what was read, else the clock's
 * frequency with chronyd's unknown skew.
 */
export function driftSaver(
  config: Config,
  log: Logger,
  loaded: LoadedReference,
): { save(atExit?: boolean): void; stop(): void } {
  const { reference, restored } = loaded;
  const driftPath = config.driftFile?.path;
  const saveDrift = (atExit = false) => {
    if (!driftPath || !atExit && !reference.synchronised && reference.updates === 0) return;
    // Never updated: what was read, else the clock's frequency with chronyd's unknown skew.
    const drift = reference.updates > 0 ? reference.driftValues() : restored ?? {
      frequency: reference.driftValues().frequency,
      skew: UNKNOWN_SKEW_PPM,
    };
    try {
      writeFileAtomic(driftPath, formatDriftfile(drift));
    } catch (e) {
      log.warn((e as Error).message);
    }
  };
  const driftTimer = driftPath
    ? setInterval(saveDrift, (config.driftFile?.interval || DEFAULT_DRIFT_INTERVAL) * 1000)
    : null;
  return {
    save: saveDrift,
    stop: () => {
      if (driftTimer !== null) clearInterval(driftTimer);
    },
  };
}

/**
 * Step 11b: `broadcast`: a mode-5 packet every interval from the server
 * socket of the address's family. Returns a function that stops them.
 */
export function startBroadcasts(
  config: Config,
  log: Logger,
  serverSockets: readonly NtpServerSocket[],
): () => void {
  const broadcastTimers = config.broadcasts.map((b) =>
    setInterval(() => {
      const family = addressFamily(b.address);
      const sock = serverSockets.find((s) => s.localAddress().family === family);
      if (!sock || family === null) return; // no server socket of that family (port 0, no allow)
      try {
        sock.sendBroadcast(Math.round(Math.log2(b.interval)), {
          family,
          address: b.address,
          port: b.port,
        });
      } catch (e) {
        log.debug(`Could not send broadcast to ${b.address} : ${(e as Error).message}`);
      }
    }, Math.max(1, b.interval) * 1000)
  );
  return () => {
    for (const t of broadcastTimers) clearInterval(t);
  };
}

/** Step 12a: the command socket(s) (Unix socket and UDP), or null when none could open. */
export async function startCmdmon(
  state: DaemonState,
  o: ChronydOptions,
  owner: { uid: number; gid: number } | undefined,
): Promise<CmdmonServer | null> {
  const { config, clientLog, cmdAccess, log } = state;
  const socketPath = config.bindCmdAddress.unixPath;
  try {
    return await startCmdmonServer(new DaemonBackend(state, systemBackendServices(state.clock)), {
      socketPath,
      port: config.cmdPort,
      ...(config.bindCmdDevice ? { device: config.bindCmdDevice } : {}),
      addresses: [
        config.bindCmdAddress.ipv4 ?? "127.0.0.1",
        config.bindCmdAddress.ipv6 ?? "::1",
      ].filter((a) => o.family === "any" || (o.family === "ipv4") === !a.includes(":")),
      cmdAllowed: (a) =>
        a.family === "inet4" || a.family === "inet6" ? cmdAccess.isAllowed(a.address) : false,
      // Client log: every command request counted; `cmdratelimit` drops network ones.
      rateLimited: (a) => cmdLogged(clientLog, a) !== RATE_RESPOND,
      counted: (a) => {
        if (a === undefined) clientLog.countCommand();
        else cmdLogged(clientLog, a);
      },
      log: (m) => log.warn(m),
      openKinds: openRequestKinds(config.openCommands),
      ...(owner ? { owner } : {}),
    });
  } catch (e) {
    log.warn(`Could not open command socket : ${(e as Error).message}`);
    return null;
  }
}

/** Step 12b: horae only: the read-only HTTP endpoint (`httpport`; lib/http), or null. */
export async function startObserver(
  state: DaemonState,
  o: ChronydOptions,
  discipline: ReferenceDiscipline,
  ntsServer: () => NtsServerHandle | null,
): Promise<Observer | null> {
  try {
    // Loaded only with `httpport` (it holds node:crypto; issue 12: idle memory).
    const { startDaemonObserver } = state.config.httpPort !== 0
      ? await import("./observer.ts")
      : { startDaemonObserver: () => null };
    return startDaemonObserver(
      state,
      discipline,
      () => ntsServer()?.keServer.stats ?? null,
      accessRules,
      o.family,
    );
  } catch (e) {
    state.log.warn(`Could not start HTTP endpoint : ${(e as Error).message}`);
    return null;
  }
}

/** Writes measurements.log and statistics.log lines after each sample. */
function sampleLogger(
  logs: LogWriter,
  engine: () => Engine,
): (src: SampledSource, sample: Sample, previous: SourceEstimate | null) => void {
  return (src, sample, previous) => {
    const io = CLIENT_IO_OF.get(engine()) ?? null;
    logs.write(
      "measurements",
      measurementsLine(
        measurementFromReport(src.report(), sample, measurementSources(io, src.id)),
      ),
    );
    const est = src.estimate();
    if (est && wantsStatistics(est)) {
      logs.write(
        "statistics",
        statisticsLine(statisticsFromEstimate(est, { address: src.address, previous })),
      );
    }
  };
}

/** Writes selection.log lines after each selection. */
function selectionLogger(
  logs: LogWriter,
): (sources: readonly SelectionRow[], now: Timestamp) => void {
  return (sources, now) => {
    for (const src of sources) {
      const data = src.selection;
      logs.write(
        "selection",
        selectionLine({
          time: now,
          name: src.address,
          state: src.status.state,
          options: src.select,
          reach: src.reach,
          // Not status.score (a distance, s): horae has no chronyd-style reselection score (its
          // reselectdist penalty is in that distance); 1.00 as chronyd shows a source no better
          // than the * one.
          score: 1,
          lastSampleAgo: data ? Number(now - data.lastSampleTime) / 1e9 : 0,
          low: data?.lo ?? 0,
          high: data?.hi ?? 0,
        }),
      );
    }
  };
}

/**
 * `leapsectz NAME`: the leap seconds of a right/ zone from the system's
 * tzdata (/usr/share/zoneinfo/NAME), checked by the reference at each update.
 */
function leapSecTz(config: Config, log: Logger): ((t: Timestamp) => LeapAction) | null {
  if (config.leapSecList) {
    // `leapseclist FILE` (chronyd 4.6+): a NIST/IERS leap-seconds.list, else as leapsectz;
    // the messages are chronyd 4.8's
    const path = config.leapSecList;
    let text: string;
    try {
      text = Deno.readTextFileSync(path);
    } catch (e) {
      if (!isOsError(e)) throw e; // missing, unreadable, a directory: chronyd's message
      log.warn(`Failed to open leap seconds list ${path}`);
      log.warn(`Leap second list ${path} failed check, ignoring`);
      return null;
    }
    let leaps: LeapRecord[] = [];
    try {
      leaps = parseLeapSecondsList(text).leaps;
    } catch (e) {
      if (!(e instanceof TzifError)) throw e; // a malformed list: reported below as empty
    }
    if (leaps.length === 0) {
      log.warn(`Failed to parse leap seconds list ${path}`);
      log.warn(`Leap second list ${path} failed check, ignoring`);
      return null;
    }
    log.info(`Using leap second list ${path}`);
    return (t) => leapAtEndOfDay(leaps, t);
  }
  if (!config.leapSecTz) return null;
  const path = config.leapSecTz.startsWith("/")
    ? config.leapSecTz
    : `/usr/share/zoneinfo/${config.leapSecTz}`;
  try {
    const leaps = parseTzifLeaps(Deno.readFileSync(path));
    if (leaps.length === 0) {
      log.warn(`Timezone ${config.leapSecTz} failed leap second check, ignoring`);
      return null;
    }
    log.info(`Using ${config.leapSecTz} timezone to obtain leap second data`);
    return (t) => leapAtEndOfDay(leaps, t);
  } catch (e) {
    log.warn(`Could not read leap seconds from ${path} : ${(e as Error).message}`);
    return null;
  }
}

/** Logs a command request from `a` in the client log; returns its rate-limit decision. */
function cmdLogged(clientLog: ClientLog, a: CmdAddress): RateDecision {
  if (a.family !== "inet4" && a.family !== "inet6") return RATE_RESPOND;
  const bytes = parseIp(a.address)?.bytes ?? null;
  if (bytes === null) return RATE_RESPOND;
  return clientLog.cmdAccess(bytes, 0, a.family === "inet4" ? 4 : 6, Number(realNow()) / 1e9)
    .decision;
}

function rateLimit(r: NonNullable<Config["rateLimit"]>): RateLimit {
  return { interval: r.interval, burst: r.burst, leak: r.leak, kod: r.kod > 0 };
}

/**
 * Our reference ID towards a source (orphan mode): the reference ID of
 * `bindacqaddress`, else of `bindaddress` (the address others poll us at),
 * else of the first interface address whose IPv4 subnet holds the source's
 * address (what the kernel would choose); null when none is known.
 */
function localRefIds(config: Config): (address: string) => number | null {
  const cache = new Map<string, number | null>();
  const pick = (address: string): string | null => {
    const v6 = address.includes(":");
    const unspecified = (a: string | undefined) =>
      a === undefined || a === "0.0.0.0" || a === "::" ? null : a;
    const bound = v6
      ? unspecified(config.bindAcqAddress.ipv6) ?? unspecified(config.bindAddress.ipv6)
      : unspecified(config.bindAcqAddress.ipv4) ?? unspecified(config.bindAddress.ipv4);
    if (bound !== null || v6) return bound;
    const target = ipv4Number(address);
    if (target === null) return null;
    try {
      for (const i of Deno.networkInterfaces()) {
        const own = i.family === "IPv4" ? ipv4Number(i.address) : null;
        const mask = i.family === "IPv4" ? ipv4Number(i.netmask) : null;
        if (own !== null && mask !== null && ((own ^ target) & mask) === 0) return i.address;
      }
    } catch (e) {
      // no interface list (not permitted, not supported here): our address stays unknown
      if (!isOsError(e)) throw e;
    }
    return null;
  };
  return (address) => {
    if (!cache.has(address)) {
      const a = pick(address);
      cache.set(address, a === null ? null : refIdFromAddress(a));
    }
    return cache.get(address) ?? null;
  };
}

/** An IPv4 dotted quad as a 32-bit number, or null. */
function ipv4Number(a: string): number | null {
  const p = parseIpv4(a);
  return p === null ? null : ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

/** The address families `-4`/`-6` allow. */
export function families(o: ChronydOptions): ("ipv4" | "ipv6")[] {
  return o.family === "any" ? ["ipv4", "ipv6"] : [o.family];
}

function accessRules(rules: Config["ntpAccess"]) {
  return rules.flatMap((r) => {
    const subnet = subnetText(r);
    if (r.subnet.kind === "host") return []; // host names are resolved at start (not yet)
    return [{ allow: r.allow, all: r.all, subnet }];
  });
}

/**
 * What the driftfile gives (limited as chronyd limits it, both logged), or
 * null; written back at exit if no update changed it, as chronyd does.
 */
function readDrift(config: Config, log: Logger): Drift | null {
  const driftPath = config.driftFile?.path;
  if (!driftPath) return null;
  try {
    const read = parseDriftfile(readBytesAsText(driftPath));
    log.info(driftReadMessage(read, driftPath));
    const limited = limitDrift(read, config.maxDrift);
    if (limited.exceeded) log.warn(driftExceededMessage(read));
    return limited.drift;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      log.warn(`Could not read valid frequency and skew from driftfile ${driftPath}`);
    }
    return null;
  }
}
