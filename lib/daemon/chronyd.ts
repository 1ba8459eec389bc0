/**
 * `chronyd`: reads the command line and the configuration, then runs one of
 * chronyd(8)'s modes: print the version or the configuration, the one-shot
 * modes `-q` (set the clock once) and `-Q` (print the offset only), or the
 * daemon.
 *
 * @example
 * ```ts
 * import { runChronyd } from "./chronyd.ts";
 * const code = await runChronyd(["-Q", "-t", "5", "server 127.0.0.1 port 11123 iburst maxsamples 1"]);
 * ```
 * @module
 */
import { CHRONYD_USAGE, type ChronydOptions, parseChronydArgs, UsageError } from "../conf/cli.ts";
import { featureList, VERSION, versionLine } from "../version.ts";
import { Logger } from "./log.ts";
import { ConfigError } from "../conf/config_error.ts";
import { loadConfigFile } from "../conf/load.ts";
import { parseCommandLine, type ParseResult } from "../conf/parse.ts";
import { formatConfig } from "../conf/format.ts";
import { formatUnsupported, unsupportedUses } from "../conf/support.ts";
import { checkAccessRules } from "../conf/access.ts";
import { checkHwTimestamping } from "./hwtimestamp.ts";
import { isOsError } from "../io/os_error.ts";
import { dropExecutableCode, prepareDrop } from "../../ffi/residency.ts";

const encoder = new TextEncoder();

function print(text: string): void {
  Deno.stdout.writeSync(encoder.encode(text.endsWith("\n") ? text : text + "\n"));
}

function printErr(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text.endsWith("\n") ? text : text + "\n"));
}

/** Reads the configuration: the command-line directives if any, else the file (chronyd(8)). */
export function readConfiguration(o: ChronydOptions): ParseResult {
  if (o.configLines.length > 0) return parseCommandLine(o.configLines);
  return loadConfigFile(o.configFile);
}

function makeLogger(o: ChronydOptions): Logger {
  const level = o.debugLevel >= 2 ? -1 : o.logLevel;
  if (o.logFile !== null) return new Logger({ sink: { file: o.logFile }, level });
  // -p runs in the foreground too (its few messages go to stderr, as chronyd's)
  if (o.foreground || o.mode === "print-config") return new Logger({ sink: "stderr", level });
  return new Logger({ sink: "syslog", level });
}

/** Runs chronyd with `args` (without the program name); returns the exit code. */
export async function runChronyd(args: readonly string[]): Promise<number> {
  let o: ChronydOptions;
  try {
    o = parseChronydArgs(args);
  } catch (e) {
    if (e instanceof UsageError) {
      printErr(`chronyd: ${e.message}`);
      printErr(CHRONYD_USAGE);
      return 1;
    }
    throw e;
  }
  if (o.mode === "version") {
    print(versionLine("chronyd"));
    return 0;
  }
  if (o.mode === "help") {
    print(CHRONYD_USAGE);
    return 0;
  }

  const log = makeLogger(o);
  let conf: ParseResult;
  try {
    conf = readConfiguration(o);
  } catch (e) {
    if (e instanceof ConfigError) {
      if (o.mode === "print-config") printErr(`chronyd: ${e.message}`);
      else log.fatal(e.message);
      log.close();
      return 1;
    }
    throw e;
  }
  if (o.mode === "print-config") {
    for (const w of conf.warnings ?? []) if (w.bare) log.warn(w.message); // as chronyd -p
    // chronyd resolves the initstepslew names while reading the configuration, also with -p
    const hosts = conf.config.initstepslew?.hosts ?? [];
    if (hosts.length > 0) {
      const { resolveInitStepSlew } = await import("./system.ts");
      await resolveInitStepSlew(hosts, o.family === "any" ? undefined : o.family, log);
    }
    const text = formatConfig(conf);
    if (text !== "") print(text); // nothing at all for an empty configuration, as chronyd
    return 0;
  }

  if (o.mode === "daemon" && !o.foreground) {
    // The detached child logs the start; the parent only waits for it.
    const { detach } = await import("./daemon.ts");
    return await detach(o, log, conf.config.pidFile);
  }
  log.info(`chronyd version ${VERSION} (horae) starting (${featureList()})`);
  for (const w of conf.warnings ?? []) {
    log.warn(w.bare ? w.message : `${w.file}:${w.line}: ${w.message}`);
  }
  for (const u of unsupportedUses(conf)) {
    if (u.what !== "hwtimestamp") log.warn(formatUnsupported(u)); // judged per interface below
  }
  if (o.noClockControl || o.mode === "offset-only") log.info("Disabled control of system clock");
  // chronyd: a named interface without hardware timestamping is fatal, `*` skips those.
  const hw = checkHwTimestamping(conf.directives);
  for (const u of hw.unsupported) log.warn(formatUnsupported(u));
  if (hw.fatal !== null) {
    log.fatal(hw.fatal);
    log.close();
    return 1;
  }
  // chronyd (-Q/-q too): a prefix longer than its address is fatal ("Bad subnet in ...").
  const badRule = checkAccessRules([...conf.config.ntpAccess, ...conf.config.cmdAccess]);
  if (badRule !== null) {
    log.fatal(badRule);
    log.close();
    return 1;
  }

  // chronyd 4.3 creates its refclock sockets before it reads the keyfile: one whose directory
  // is missing stops it there (the socket itself is created with the other refclocks)
  if (o.mode === "daemon") {
    for (const rc of conf.config.refclocks) {
      if (rc.driver !== "SOCK" || directoryExists(rc.parameter)) continue;
      log.fatal(`Could not open socket ${rc.parameter}`);
      log.close();
      return 1;
    }
  }
  // the keyfile is read (and a missing one logged) before the privileges line, as chronyd 4.3
  const { loadKeys } = await import("./keys.ts");
  const keys = await loadKeys(conf.config, log);
  // after the start-up checks that are fatal before chronyd drops its privileges
  if ((o.user ?? conf.config.user) != null && Deno.uid() === 0) {
    const { staysRoot } = await import("./privileges.ts");
    if (staysRoot(conf.config, o)) log.warn("Running with root privileges");
  }
  try {
    if (o.mode === "set-once" || o.mode === "offset-only") {
      // chronyd -q/-Q creates the missing directories too (no switch of user here).
      const { prepareDirectories } = await import("./privileges.ts");
      for (const w of prepareDirectories(conf.config, null)) log.warn(w);
      // chronyd loads its system call filter in -q/-Q too (before anything is opened).
      const { applySystemCallFilter } = await import("./syscall_filter.ts");
      try {
        applySystemCallFilter(o.filterLevel, log);
      } catch (e) {
        log.fatal((e as Error).message);
        return 1;
      }
      const { runOneShot } = await import("./oneshot.ts");
      return await runOneShot(conf.config, o, log, keys);
    }
    const { runDaemon } = await import("./daemon.ts");
    // issue 12: once started (iburst done), the executable's code that only start-up ran is given back
    prepareDrop(); // still root and unfiltered: pagemap is root's after the switch, -F 1 has no readlink
    const release = setTimeout(() => releaseStartupCode(log), RELEASE_STARTUP_CODE_MS);
    Deno.unrefTimer(release);
    try {
      return await runDaemon(conf, o, log, keys);
    } finally {
      clearTimeout(release);
    }
  } finally {
    if (!log.fatalLogged) log.info("chronyd exiting");
    log.close();
  }
}

/** Milliseconds after start at which a daemon gives back its start-up code pages (ffi/residency.ts). */
export const RELEASE_STARTUP_CODE_MS = 12_000;

/** Drops the mappings of the executable's code pages (they fault back in when run again). */
function releaseStartupCode(log: Logger): void {
  try {
    const r = dropExecutableCode();
    log.debug(`Released start-up code pages (RSS ${r.beforeKiB} -> ${r.afterKiB} KiB)`);
  } catch (e) {
    log.debug(`Could not release start-up code pages : ${(e as Error).message}`);
  }
}

/** Whether the directory of `path` exists (a relative path: the working directory's). */
function directoryExists(path: string): boolean {
  const i = path.lastIndexOf("/");
  try {
    return Deno.statSync(i > 0 ? path.slice(0, i) : i === 0 ? "/" : ".").isDirectory;
  } catch (e) {
    if (!isOsError(e)) throw e;
    return false; // missing or not searchable: as good as absent for the caller
  }
}

/** The version line, for tests and `-v`. */
export { versionLine };
