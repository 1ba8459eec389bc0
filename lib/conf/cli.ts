/**
 * chronyd's command line, as chronyd(8) defines it: short flags, some with a
 * value (`-f FILE`, `-t SEC`), flags that may be grouped (`-dd`, `-Qx`), and
 * the remaining arguments taken as configuration lines.
 *
 * @example
 * ```ts
 * import { parseChronydArgs } from "./cli.ts";
 * const o = parseChronydArgs(["-Q", "-t", "5", "server 127.0.0.1 port 11123 iburst"]);
 * o.mode; // "offset-only"
 * ```
 * @module
 */

/** What chronyd was asked to do. */
export type ChronydMode =
  | "daemon" //       the normal service
  | "set-once" //     -q: set the clock once and exit
  | "offset-only" //  -Q: print the offset, do not touch the clock, exit
  | "print-config" // -p
  | "version" //      -v
  | "help"; //        -h

/** Parsed chronyd flags. Field docs name the flag; defaults follow chronyd(8). */
export interface ChronydOptions {
  mode: ChronydMode;
  /** -f: configuration file. chronyd(8): default /etc/chrony/chrony.conf on Debian. */
  configFile: string;
  /** -f was given explicitly. */
  configFileGiven: boolean;
  /** -4 / -6: address family restriction. */
  family: "any" | "ipv4" | "ipv6";
  /** -d (count: -d -d enables debug messages), -n: stay in the foreground. */
  foreground: boolean;
  debugLevel: number;
  /** -l FILE: log file. */
  logFile: string | null;
  /** -L LEVEL: minimum severity logged (0 informational .. 3 fatal; -1 debug). */
  logLevel: number;
  /** -r: reload dump files at start. */
  reloadDumps: boolean;
  /** -R: adapt configuration for restart (ignore initstepslew, makestep at start). */
  restart: boolean;
  /** -s: set the system clock from the RTC at start. */
  setFromRtc: boolean;
  /** -t SEC: exit after this many seconds (float), or null. */
  timeout: number | null;
  /** -u USER: user to drop privileges to. */
  user: string | null;
  /** -U: do not check for root. */
  noRootCheck: boolean;
  /** -F LEVEL: seccomp filter level. */
  filterLevel: number;
  /** -P PRIORITY: SCHED_FIFO priority. */
  priority: number;
  /** -m: lock memory. */
  lockMemory: boolean;
  /** -x: never control the system clock. */
  noClockControl: boolean;
  /** Configuration lines given as arguments. */
  configLines: string[];
}

/** A command-line error: chronyd prints the usage and exits 1. */
export class UsageError extends Error {
  override name = "UsageError";
  constructor(message: string, readonly option: string) {
    super(message);
  }
}

/** chronyd(8) usage text, in chronyd's layout. */
export const CHRONYD_USAGE = `Usage: chronyd [OPTION]... [DIRECTIVE]...

Options:
  -4\t\tUse IPv4 addresses only
  -6\t\tUse IPv6 addresses only
  -f FILE\tSpecify configuration file (/etc/chrony/chrony.conf)
  -n\t\tDon't run as daemon
  -d\t\tDon't run as daemon and log to stderr
  -l FILE\tLog to file
  -L LEVEL\tSet logging threshold (0)
  -p\t\tPrint configuration and exit
  -q\t\tSet clock and exit
  -Q\t\tLog offset and exit
  -r\t\tReload dump files
  -R\t\tAdapt configuration for restart
  -s\t\tSet clock from RTC
  -t SECONDS\tExit after elapsed time
  -u USER\tSpecify user (_chrony)
  -U\t\tDon't check for root
  -F LEVEL\tSet system call filter level (0)
  -P PRIORITY\tSet process priority (0)
  -m\t\tLock memory
  -x\t\tDon't control clock
  -v, --version\tPrint version and exit
  -h, --help\tPrint usage and exit
`;

/** chronyd(8): the default configuration file (Debian's path). */
export const DEFAULT_CONFIG_FILE = "/etc/chrony/chrony.conf";

const WITH_VALUE = new Set(["f", "l", "L", "t", "u", "F", "P"]);

function defaults(): ChronydOptions {
  return {
    mode: "daemon",
    configFile: DEFAULT_CONFIG_FILE,
    configFileGiven: false,
    family: "any",
    foreground: false,
    debugLevel: 0,
    logFile: null,
    logLevel: 0,
    reloadDumps: false,
    restart: false,
    setFromRtc: false,
    timeout: null,
    user: null,
    noRootCheck: false,
    filterLevel: 0,
    priority: 0,
    lockMemory: false,
    noClockControl: false,
    configLines: [],
  };
}

function integer(flag: string, value: string): number {
  if (!/^-?\d+$/.test(value)) throw new UsageError(`invalid value for -${flag}: ${value}`, flag);
  return Number(value);
}

function applyValue(o: ChronydOptions, flag: string, value: string): void {
  switch (flag) {
    case "f":
      o.configFile = value;
      o.configFileGiven = true;
      break;
    case "l":
      o.logFile = value;
      break;
    case "L":
      o.logLevel = integer(flag, value);
      break;
    case "t": {
      const t = Number(value);
      if (value.trim() === "" || !Number.isFinite(t) || t < 0) {
        throw new UsageError(`invalid value for -t: ${value}`, flag);
      }
      o.timeout = t;
      break;
    }
    case "u":
      o.user = value;
      break;
    case "F":
      o.filterLevel = integer(flag, value);
      break;
    case "P":
      o.priority = integer(flag, value);
      break;
  }
}

function applyFlag(o: ChronydOptions, flag: string): void {
  switch (flag) {
    case "4":
      o.family = "ipv4";
      break;
    case "6":
      o.family = "ipv6";
      break;
    case "d":
      o.foreground = true;
      o.debugLevel++;
      break;
    case "n":
      o.foreground = true;
      break;
    case "p":
      o.mode = "print-config";
      break;
    case "q":
      o.mode = "set-once";
      break;
    case "Q":
      o.mode = "offset-only";
      break;
    case "r":
      o.reloadDumps = true;
      break;
    case "R":
      o.restart = true;
      break;
    case "s":
      o.setFromRtc = true;
      break;
    case "U":
      o.noRootCheck = true;
      break;
    case "m":
      o.lockMemory = true;
      break;
    case "x":
      o.noClockControl = true;
      break;
    case "v":
      o.mode = "version";
      break;
    case "h":
      o.mode = "help";
      break;
    default:
      throw new UsageError(`invalid option -- '${flag}'`, flag);
  }
}

/**
 * Parses chronyd's arguments (without the program name). Options come first;
 * the first argument that is not an option and everything after it are
 * configuration lines, as chronyd treats them.
 */
export function parseChronydArgs(args: readonly string[]): ChronydOptions {
  const o = defaults();
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      i++;
      break;
    }
    if (arg === "--version") {
      o.mode = "version";
      continue;
    }
    if (arg === "--help") {
      o.mode = "help";
      continue;
    }
    if (arg.startsWith("--")) throw new UsageError(`unrecognized option '${arg}'`, arg);
    if (!arg.startsWith("-") || arg === "-") break;
    for (let k = 1; k < arg.length; k++) {
      const flag = arg[k]!;
      if (WITH_VALUE.has(flag)) {
        const rest = arg.slice(k + 1);
        let value: string;
        if (rest !== "") value = rest;
        else {
          const next = args[++i];
          if (next === undefined) {
            throw new UsageError(`option requires an argument -- '${flag}'`, flag);
          }
          value = next;
        }
        applyValue(o, flag, value);
        break;
      }
      applyFlag(o, flag);
    }
  }
  o.configLines = args.slice(i).map((s) => s);
  if (o.mode === "set-once" || o.mode === "offset-only") o.foreground = true;
  return o;
}
