/**
 * chronyd's daemon mode: wires the configuration to the clock discipline,
 * the NTP client (engine + sockets), the NTP server, the command socket
 * (cmdmon) and the files chronyd owns (pidfile, driftfile), and runs until
 * SIGTERM/SIGINT, `chronyc shutdown` or `-t SEC`.
 *
 * Without `-d`/`-n` the process detaches: it starts itself again in the
 * foreground (`-n`), waits for the child to write its pidfile, and exits.
 *
 * @example
 * ```ts
 * import { runDaemon } from "./daemon.ts";
 * import type { ParseResult } from "../conf/parse.ts";
 * import type { ChronydOptions } from "../conf/cli.ts";
 * import type { Logger } from "./log.ts";
 * async function chronyd(conf: ParseResult, opts: ChronydOptions, log: Logger) {
 *   return await runDaemon(conf, opts, log); // the exit status
 * }
 * ```
 * @module
 */
import type { ParseResult } from "../conf/parse.ts";
import type { Config } from "../conf/config.ts";
import type { ChronydOptions } from "../conf/cli.ts";
import type { Logger } from "./log.ts";
import type { SourceManager } from "./source_manager.ts";
import { type KeyStore, loadKeys } from "./keys.ts";
import { mayAdjustClock, NO_CLOCK_CONTROL_MESSAGE } from "./system.ts";
import { TempCompError } from "../clock/tempcomp.ts";
import { adoptListenFds } from "../io/inherited_sockets.ts";
import { sdNotify } from "../../ffi/sd_notify.ts";
import { strerror, writeFileAtomic } from "./files.ts";
import { isOsError } from "../io/os_error.ts";
import { realNow } from "../io/realtime.ts";
import { HwTimestampError } from "./hwtimestamp.ts";
import {
  leapSecTzTaiOffset,
  RefclockStartError,
  type RunningRefclocks,
  startRefclocks,
} from "../io/refclock_drivers.ts";
import {
  applyProcessSettings,
  planPrivileges,
  prepareDirectories,
  PrivilegeError,
  type PrivilegePlan,
} from "./privileges.ts";
import { applySystemCallFilter, checkFilterLevel } from "./syscall_filter.ts";
import type { DaemonState } from "./state.ts";
import { setClockAtStart } from "./rtc_start.ts";
import { dumpTargets, startDumps, writeDumps } from "./dumps.ts";
import { openClockDevice } from "../../ffi/devices.ts";
import {
  buildAccess,
  buildClientIo,
  buildEngine,
  CLOCK_PRECISION_LOG2,
  driftSaver,
  enableHardware,
  loadReference,
  openClock,
  openLogFiles,
  ServedReference,
  startBroadcasts,
  startCmdmon,
  startNtpServer,
  startObserver,
  startSources,
} from "./startup.ts";

/** Runs the daemon; resolves with the exit code. */
export async function runDaemon(
  conf: ParseResult,
  o: ChronydOptions,
  log: Logger,
  keys?: KeyStore,
): Promise<number> {
  const config = restartAdjusted(conf.config, o);
  if (!o.foreground) return await detach(o, log, config.pidFile);
  let privileges: PrivilegePlan;
  try {
    privileges = planPrivileges(config, o, { log });
  } catch (e) {
    if (!(e instanceof PrivilegeError)) throw e;
    log.fatal(e.message);
    return 1;
  }
  try {
    checkFilterLevel(o.filterLevel);
  } catch (e) {
    log.fatal((e as Error).message);
    return 1;
  }
  if (!o.noClockControl && !mayAdjustClock()) {
    log.warn("CAP_SYS_TIME not present");
    log.fatal(NO_CLOCK_CONTROL_MESSAGE);
    return 1;
  }
  // Missing directories are created (given to the user of a switch), as chronyd does.
  for (const w of prepareDirectories(config, privileges.user)) log.warn(w);
  const pidFile = config.pidFile;
  if (pidFile) {
    const other = runningPid(pidFile);
    if (other !== null) {
      log.fatal(`Another chronyd may already be running (pid=${other}), check ${pidFile}`);
      return 1;
    }
    try {
      writeFileAtomic(pidFile, `${Deno.pid}\n`);
    } catch (e) {
      log.fatal(`Could not open ${pidFile} : ${strerror(e)}`);
      return 1;
    }
  }
  adoptListenFds(); // socket activation (chronyd 4.5+): sockets passed with LISTEN_FDS
  let state: RunningDaemon | null = null;
  try {
    const user = privileges.user;
    state = await start(config, o, log, user ? { uid: user.uid, gid: user.gid } : undefined, keys);
    // Every socket is open and the pidfile written: lock, schedule, switch user.
    applyProcessSettings(privileges, log);
    applySystemCallFilter(o.filterLevel, log);
    notifyServiceManager("READY=1", log);
    const code = await state.running;
    notifyServiceManager("STOPPING=1", log);
    return code;
  } catch (e) {
    if (
      !(e instanceof PrivilegeError || e instanceof HwTimestampError ||
        e instanceof RefclockStartError || e instanceof TempCompError)
    ) throw e;
    log.fatal(e.message);
    return 1;
  } finally {
    await state?.stop();
    if (pidFile) {
      try {
        Deno.removeSync(pidFile);
      } catch (e) {
        // already gone is fine; anything else is only worth a debug line on the way out
        if (!(e instanceof Deno.errors.NotFound)) {
          log.debug(`Could not remove ${pidFile} : ${strerror(e)}`);
        }
      }
    }
  }
}

interface RunningDaemon extends DaemonState {
  running: Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts everything, in chronyd's order of effects and log lines; each step
 * is a function of lib/daemon/startup.ts. Privileges are dropped by the
 * caller once this returns (every socket is open by then).
 */
async function start(
  config: Config,
  o: ChronydOptions,
  log: Logger,
  owner?: { uid: number; gid: number },
  loadedKeys?: KeyStore,
): Promise<RunningDaemon> {
  const { clock, cookedMinusReal } = openClock(config, o, log);
  // -s: the clock set from the RTC (or driftfile time) before anything reads it
  if (o.setFromRtc) {
    await setClockAtStart(config, {
      open: openClockDevice,
      clock,
      canStep: !o.noClockControl,
      log,
    });
  }
  const loaded = loadReference(config, o, log, clock);
  const { rtc, reference } = loaded;

  let stopRequested!: (code: number) => void;
  const running = new Promise<number>((r) => (stopRequested = r));
  const { logs, tempComp } = openLogFiles(config, log, clock, loaded);
  let onInitStepSlewEnd = () => {};
  const { discipline, engine, manual } = buildEngine(config, log, clock, reference, logs, {
    exit: () => stopRequested(1),
    initStepSlewEnd: () => onInitStepSlewEnd(),
  });
  const served = new ServedReference(config, log, clock, reference, engine);
  const { smoothing, serverReference } = served;

  const hardware = await enableHardware(config, o, log);
  let sources: SourceManager | null = null;
  const io = buildClientIo(config, log, clock, engine, hardware, {
    onUpdate: () => served.onUpdate(),
    onSourceLost: (id, reason) => {
      sources?.lost(id, reason).catch((e) => log.warn(`Could not replace source: ${e}`));
    },
  });
  const { clientLog, ntpAccess, cmdAccess } = buildAccess(config);

  // The digests of symmetric keys (node:crypto) are loaded only with a `keyfile` (issue 12).
  const keys = loadedKeys ?? await loadKeys(config, log);
  const { server, serverSockets, ntsServer, serverWorkers } = await startNtpServer(config, o, log, {
    served,
    clientLog,
    ntpAccess,
    keys,
    hardware,
    cookedMinusReal,
    clock,
  });
  served.server = server;

  const sourcing = await startSources(config, o, log, {
    clock,
    engine,
    io,
    keys,
    server,
    discipline,
    reference,
    served,
    setInitStepSlewEnd: (hook) => (onInitStepSlewEnd = hook),
  });
  sources = sourcing.sources;
  const drift = driftSaver(config, log, loaded);
  sourcing.wantRefresh();
  const stopBroadcasts = startBroadcasts(config, log, serverSockets);
  served.refresh();

  let refclocks: RunningRefclocks | null = null;
  let stopped = false;
  const state: RunningDaemon = {
    config,
    options: o,
    log,
    clock,
    engine,
    reference,
    discipline,
    manual,
    io,
    clientLog,
    ntpAccess,
    cmdAccess,
    server,
    serverHwStamps: () => ({
      // the PTP port's served NIC stamps count too
      rx: serverSockets.reduce((n, s) => n + s.stats.hwRx, hardware.ptpPort?.hwRx ?? 0),
      tx: serverSockets.reduce((n, s) => n + s.stats.hwTx, hardware.ptpPort?.hwTx ?? 0),
    }),
    serverReference,
    smoothing,
    rtc,
    activateSmoothing: () => served.activateSmoothing(),
    startTime: realNow(),
    shutdown: () => stopRequested(0),
    cycleLogs: () => logs?.cycle(),
    saveDrift: () => drift.save(),
    dumpHistories: () =>
      !config.dumpDir || writeDumps(config.dumpDir, dumpTargets(engine.historyHolders()), log),
    dumpNts: () => {
      sourcing.sources.saveNts();
      ntsServer?.saveKeys();
    },
    refreshServerReference: () => served.refresh(),
    addSource: sourcing.addSource,
    sources,
    keys,
    reloadNtsKeys: () => ntsServer?.reloadKeys(),
    running,
    async stop() {
      if (stopped) return;
      stopped = true;
      drift.stop();
      tempComp?.stop();
      await rtc?.stop();
      served.close();
      stopBroadcasts();
      sourcing.stop(); // the served-reference refresh, initstepslew and name timers
      if (timeoutTimer !== null) clearTimeout(timeoutTimer);
      for (const sig of ["SIGTERM", "SIGINT"] as const) Deno.removeSignalListener(sig, onSignal);
      drift.save(true);
      state.dumpHistories?.();
      await refclocks?.close();
      hardware.stopPolling();
      await hardware.hw?.close();
      await hardware.ptpPort?.close();
      await sourcing.sources.close();
      await ntsServer?.close();
      await cmdmon?.close();
      await observer?.close();
      logs?.close();
      await io.close();
      await serverWorkers?.close();
      await Promise.all(serverSockets.map((s) => s.close()));
      engine.close();
    },
  };

  const cmdmon = await startCmdmon(state, o, owner);
  const observer = await startObserver(state, o, discipline, () => ntsServer);

  const onSignal = () => stopRequested(0);
  for (const sig of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(sig, onSignal);
  const timeoutTimer = o.timeout !== null
    ? setTimeout(() => {
      log.info("Timeout reached");
      stopRequested(0);
    }, o.timeout * 1000)
    : null;

  refclocks = startRefclocks({
    engine,
    refclocks: config.refclocks,
    clock,
    run: (actions) => io.run(actions),
    log,
    precision: config.clockPrecision !== undefined && config.clockPrecision > 0
      ? config.clockPrecision
      : 2 ** CLOCK_PRECISION_LOG2,
    taiOffset: leapSecTzTaiOffset(config.leapSecTz),
    rtcInUse: config.rtcSync || config.rtcFile !== undefined,
    logRefclock: logs?.enabled("refclocks") ? (l) => logs.write("refclocks", l) : undefined,
  });
  if (refclocks.fatal !== null) {
    await refclocks.close();
    throw new RefclockStartError(refclocks.fatal);
  }
  // dumpdir: histories reloaded with -r, the files removed in any case
  const dumpDir = config.dumpDir;
  const reloaded = dumpDir
    ? startDumps(dumpDir, dumpTargets(engine.historyHolders()), o.reloadDumps, log)
    : 0;
  io.run(engine.start());
  if (reloaded > 0) io.run(engine.reselect());
  // chronyd says nothing about a configuration without sources (nor does horae)
  return state;
}

/**
 * `-R` (chronyd(8)): a restart ignores `initstepslew` and a `makestep` with a
 * positive limit (the clock was already set by the earlier run).
 */
export function restartAdjusted(config: Config, o: { restart: boolean }): Config {
  if (!o.restart) return config;
  const c = { ...config };
  delete c.initstepslew;
  if (c.makestep && c.makestep.limit > 0) delete c.makestep;
  return c;
}

/**
 * systemd readiness (`Type=notify`, chronyd 4.7+): with NOTIFY_SOCKET set,
 * `READY=1` once every socket is open and privileges are dropped, and
 * `STOPPING=1` on the way out. A socket that cannot be reached is logged.
 */
function notifyServiceManager(message: string, log: Logger): void {
  const path = Deno.env.get("NOTIFY_SOCKET");
  if (!path) return;
  try {
    sdNotify(path, message);
  } catch (e) {
    log.warn(`Could not send ${message} to ${path} : ${(e as Error).message}`);
  }
}

/** The PID in `path` if that process is running, else null. */
function runningPid(path: string): number | null {
  let pid: number;
  try {
    pid = Number(Deno.readTextFileSync(path).trim());
  } catch (e) {
    if (!isOsError(e)) throw e; // no pidfile (or unreadable): no other daemon known
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === Deno.pid) return null;
  try {
    Deno.statSync(`/proc/${pid}`);
    return pid;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e; // no such process: a stale pidfile
    return null;
  }
}

/**
 * Detaches like chronyd: starts this program again in the foreground (`-n`)
 * with the same arguments, waits until it has written its pidfile (or died),
 * then returns so the parent exits.
 */
export async function detach(o: ChronydOptions, log: Logger, pidFile: string): Promise<number> {
  const args = [...Deno.args];
  if (args[0] !== "chronyd" && !Deno.execPath().endsWith("/chronyd")) args.unshift("chronyd");
  args.splice(args[0] === "chronyd" ? 1 : 0, 0, "-n");
  const argv = [Deno.execPath(), ...execArgsPrefix(), ...args];
  // argv[0] "chronyd" (ps -f, pidof) through bash's exec -a when there is a bash.
  const bash = ["/bin/bash", "/usr/bin/bash"].find((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch (e) {
      if (!isOsError(e)) throw e; // not there (or not reachable): try the next one
      return false;
    }
  });
  const child = new Deno.Command(bash ?? argv[0]!, {
    args: bash ? ["-c", 'exec -a chronyd "$0" "$@"', ...argv] : argv.slice(1),
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  child.unref();
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 50));
    if (pidFile && runningPid(pidFile) === child.pid) return 0;
  }
  log.warn(o.logFile ? "chronyd did not start in time" : "chronyd did not confirm start");
  return 0;
}

/** Arguments that re-run this program: the runtime's flags and main module (none when compiled). */
function execArgsPrefix(): string[] {
  const main = Deno.mainModule;
  if (main.includes("deno-compile")) return [];
  return ["run", "-A", "--quiet", "--no-prompt", "--unstable-net", new URL(main).pathname];
}
