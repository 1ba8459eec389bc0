/**
 * The typed chrony.conf model: every directive of chrony.conf(5) (chrony 4.x)
 * has a home here, with chrony's defaults. `defaultConfig()` is what chronyd
 * runs with when the file is empty; the parser fills in what the file says.
 * Absent optional fields (`makestep`, `driftFile`, `rateLimit`...) mean "not
 * configured", which for those directives means the feature is off.
 *
 * @example
 * ```ts
 * import { defaultConfig } from "./config.ts";
 * const c = defaultConfig();
 * c.port; // 123
 * c.maxSlewRate; // 83333.333 (ppm)
 * c.makestep; // undefined: no stepping
 * ```
 * @module
 */

/** Where a directive came from. */
export interface Origin {
  file: string;
  /** 1-based line number. */
  line: number;
}

/** Kinds of NTP source directives. */
export type SourceKind = "server" | "pool" | "peer";

/** One `server`, `pool` or `peer` directive with all of its options. */
export interface SourceConfig {
  kind: SourceKind;
  /** Host name or address as written. */
  name: string;
  origin: Origin;
  /** True when read from a `sourcedir` file (replaced on `reload sources`). */
  fromSourceDir: boolean;
  /** log2 seconds. chrony.conf(5): minpoll default 6, range -7..24. */
  minpoll: number;
  /** log2 seconds. chrony.conf(5): maxpoll default 10, range -7..24. */
  maxpoll: number;
  iburst: boolean;
  burst: boolean;
  /** Key ID 1..2^32-1 in the keyfile; absent means no symmetric key. */
  key?: number;
  nts: boolean;
  /** chrony.conf(5): certset default 0. */
  certset: number;
  /** Seconds. chrony.conf(5): maxdelay default 3, maximum 1000. */
  maxdelay: number;
  /** Absent: the test is disabled (chrony.conf(5)). */
  maxdelayratio?: number;
  /** chrony.conf(5): maxdelaydevratio default 10.0. */
  maxdelaydevratio: number;
  /** Quantile 0.05..0.95; absent: disabled in favour of maxdelaydevratio. */
  maxdelayquant?: number;
  /** Seconds; absent: the minimum of the buffered measurements is used. */
  mindelay?: number;
  /** -0.5..+0.5; absent: estimated automatically. */
  asymmetry?: number;
  /** Seconds. chrony.conf(5): offset default 0.0. */
  offset: number;
  /** Absent: the `minsamples` directive applies. */
  minsamples?: number;
  /** Absent: the `maxsamples` directive applies. */
  maxsamples?: number;
  /** Polls. chrony.conf(5) 4.x: maxunreach default 100000. */
  maxunreach: number;
  /** Median filter length in polls; absent: no filter. */
  filter?: number;
  offline: boolean;
  autoOffline: boolean;
  prefer: boolean;
  noselect: boolean;
  trust: boolean;
  require: boolean;
  xleave: boolean;
  /** chrony.conf(5): polltarget default 8. */
  polltarget: number;
  /** UDP port. chrony.conf(5): port default 123. */
  port: number;
  /** TCP port of NTS-KE. chrony.conf(5): ntsport default 4460. */
  ntsport: number;
  /** log2 seconds; absent: no presend. */
  presend?: number;
  /** chrony.conf(5): minstratum option default 0 (no change). */
  minstratum: number;
  /**
   * NTP version of requests; absent: automatic (4, or 3 when `key` uses a
   * hash longer than 160 bits and neither xleave nor extfield is set).
   */
  version?: number;
  copy: boolean;
  /** Extension field types enabled by `extfield` (e.g. 0xF323). */
  extfields: number[];
  /** Only IPv4 / only IPv6 addresses for this source (4.x options). */
  ipv4: boolean;
  ipv6: boolean;
  /** Desired number of pool sources. chrony.conf(5): maxsources default 4, maximum 16. */
  maxsources: number;
}

/** Refclock drivers known to chrony 4.x. */
export type RefclockDriver = "PPS" | "SHM" | "SOCK" | "PHC" | "RTC";

/** One `refclock` directive. */
export interface RefclockConfig {
  driver: RefclockDriver;
  /** Driver parameter without its `:options` (device path, SHM unit...). */
  parameter: string;
  /** Driver options after `:` (e.g. `perm=0644` -> {perm: "0644"}, `clear` -> {clear: ""}). */
  driverOptions: Record<string, string>;
  origin: Origin;
  /** log2 seconds. chrony.conf(5): refclock poll default 4. */
  poll: number;
  /** log2 seconds. chrony.conf(5): dpoll default 0. */
  dpoll: number;
  /** Up to 4 ASCII characters; absent: driver name prefix + index. */
  refid?: string;
  lock?: string;
  /** Hz. chrony.conf(5): rate default 1. */
  rate: number;
  /** Pulses. chrony.conf(5): maxlockage default 2. */
  maxlockage: number;
  /** Seconds; absent: not filtered by width. */
  width?: number;
  pps: boolean;
  /** Seconds. chrony.conf(5): offset default 0.0. */
  offset: number;
  /** Seconds. chrony.conf(5): delay default 1e-9. */
  delay: number;
  /** chrony.conf(5): stratum default 0. */
  stratum: number;
  /** Seconds; absent: the system clock's precision. */
  precision?: number;
  /** Seconds; absent: disabled. */
  maxdispersion?: number;
  /** Samples. chrony.conf(5): filter default 64. */
  filter: number;
  prefer: boolean;
  noselect: boolean;
  trust: boolean;
  require: boolean;
  tai: boolean;
  local: boolean;
  minsamples?: number;
  maxsamples?: number;
  /** chrony.conf(5) 4.x: maxunreach default 100000. */
  maxunreach: number;
}

/** `hwtimestamp` receive filters. */
export type RxFilter = "all" | "ntp" | "ptp" | "none";

/** One `hwtimestamp` directive. */
export interface HwTimestampConfig {
  /** Interface name or `*` for all. */
  interface: string;
  origin: Origin;
  /** log2 seconds. chrony.conf(5): minpoll default 0, range -6..20. */
  minpoll: number;
  /** log2 seconds. chrony.conf(5) 4.x: maxpoll default minpoll + 1. */
  maxpoll: number;
  /** chrony.conf(5): minsamples default 2. */
  minsamples: number;
  /** chrony.conf(5): maxsamples default 16. */
  maxsamples: number;
  /** Seconds. chrony.conf(5): precision default 100e-9. */
  precision: number;
  /** Seconds. chrony.conf(5): txcomp default 0. */
  txcomp: number;
  /** Seconds. chrony.conf(5): rxcomp default 0. */
  rxcomp: number;
  nocrossts: boolean;
  /** Absent: the most specific filter for NTP that the NIC supports. */
  rxfilter?: RxFilter;
}

/** One allow/deny rule (NTP or command access), in file order. */
export interface AccessRule {
  allow: boolean;
  /** The `all` form: overrides earlier rules for subnets inside this one. */
  all: boolean;
  /**
   * What the rule covers: every address of both families (no subnet given),
   * an IP subnet, or a host name to resolve at start.
   */
  subnet:
    | { kind: "any" }
    | { kind: "ip"; family: 4 | 6; address: string; prefix: number }
    | { kind: "host"; name: string };
  origin: Origin;
}

/** Response rate limiting (`ratelimit`, `ntsratelimit`, `cmdratelimit`). */
export interface RateLimitConfig {
  /** log2 seconds between responses. */
  interval: number;
  /** Responses. chrony.conf(5): burst default 8, range 1..255. */
  burst: number;
  /** Power of 1/2. chrony.conf(5): leak default 2, range 1..4. */
  leak: number;
  /** Power of 1/2; 0 disables KoD RATE. chrony.conf(5) 4.x: kod default 0 (ratelimit only). */
  kod: number;
}

/** `local` reference mode. */
export interface LocalConfig {
  /** chrony.conf(5): stratum default 10, range 1..15. */
  stratum: number;
  /** Seconds of root distance. chrony.conf(5): distance default 1. */
  distance: number;
  /** Seconds of root distance. chrony.conf(5) 4.x: activate default 0 (none). */
  activate: number;
  orphan: boolean;
  /** Seconds. chrony.conf(5) 4.x: waitsynced default 0. */
  waitSynced: number;
  /** Seconds. chrony.conf(5) 4.x: waitunsynced default 300 with orphan, else 0. */
  waitUnsynced: number;
}

/** `log` kinds. */
export type LogKind =
  | "measurements"
  | "rawmeasurements"
  | "statistics"
  | "tracking"
  | "rtc"
  | "refclocks"
  | "tempcomp"
  | "selection";

/** All `log` kinds, in man page order. */
export const LOG_KINDS: readonly LogKind[] = [
  "rawmeasurements",
  "measurements",
  "statistics",
  "selection",
  "tracking",
  "rtc",
  "refclocks",
  "tempcomp",
];

/** `leapsecmode` values. */
export type LeapSecMode = "system" | "step" | "slew" | "ignore";
/** `authselectmode` values. */
export type AuthSelectMode = "require" | "prefer" | "mix" | "ignore";

/** `tempcomp`: either coefficients or a points file. */
export type TempCompConfig =
  | { file: string; interval: number; t0: number; k0: number; k1: number; k2: number }
  | { file: string; interval: number; pointsFile: string };

/** A pair of per-family bind addresses (and the Unix socket path for commands). */
export interface BindAddresses {
  ipv4?: string;
  ipv6?: string;
}

/** The whole configuration. Units are in each field's doc. */
export interface Config {
  // --- time sources
  sources: SourceConfig[];
  refclocks: RefclockConfig[];
  /** Deprecated one-shot initial correction. */
  initstepslew?: { threshold: number; hosts: string[] };
  manual: boolean;
  /** Absent: a new random source port per request (chrony.conf(5)). */
  acquisitionPort?: number;
  bindAcqAddress: BindAddresses;
  bindAcqDevice?: string;
  /** chrony.conf(5): dscp default 0, maximum 63. */
  dscp: number;
  dumpDir?: string;
  /** chrony.conf(5): maxsamples default 0 (no configurable limit). */
  maxSamples: number;
  /** chrony.conf(5): minsamples default 6. */
  minSamples: number;
  /** AEAD IDs in priority order. chrony.conf(5) 4.x: default 30 15. */
  ntsAeads: number[];
  /** `ntsdumpdir` (alias `ntscachedir`). */
  ntsDumpDir?: string;
  /** Seconds. chrony.conf(5): ntsrefresh default 2419200 (4 weeks). */
  ntsRefresh: number;
  ntsTrustedCerts: { setId: number; path: string }[];
  noSystemCert: boolean;
  /** Clock updates. chrony.conf(5): nocerttimecheck default 0. */
  noCertTimeCheck: number;
  /** Seconds. chrony.conf(5) 4.x: refresh default 1209600 (2 weeks). */
  refresh: number;
  // --- source selection
  /** chrony.conf(5): authselectmode default mix. */
  authSelectMode: AuthSelectMode;
  /** chrony.conf(5): combinelimit default 3. */
  combineLimit: number;
  /** Seconds. chrony.conf(5): maxdistance default 3. */
  maxDistance: number;
  /** Seconds. chrony.conf(5): maxjitter default 1. */
  maxJitter: number;
  /** chrony.conf(5): minsources default 1. */
  minSources: number;
  /** Seconds. chrony.conf(5): reselectdist default 100 microseconds. */
  reselectDist: number;
  /** Seconds per stratum. chrony.conf(5): stratumweight default 0.001. */
  stratumWeight: number;
  // --- system clock
  /** Seconds; absent: measured at start. */
  clockPrecision?: number;
  /** chrony.conf(5): corrtimeratio default 3. */
  corrTimeRatio: number;
  /** Drift file and its minimum update interval (seconds, 4.x default 3600). */
  driftFile?: { path: string; interval: number };
  /** log2 seconds; absent: no fallback drifts. */
  fallbackDrift?: { min: number; max: number };
  /** chrony.conf(5): leapsecmode default system (Linux supports leap seconds). */
  leapSecMode: LeapSecMode;
  leapSecTz?: string;
  leapSecList?: string;
  /** Step when |offset| > threshold seconds in the first `limit` updates (negative: always). */
  makestep?: { threshold: number; limit: number };
  /** Seconds, updates, count. */
  maxChange?: { offset: number; start: number; ignore: number };
  /** ppm. chrony.conf(5): maxclockerror default 1. */
  maxClockError: number;
  /** ppm. chrony.conf(5): maxdrift default 500000. */
  maxDrift: number;
  /** ppm. chrony.conf(5): maxupdateskew default 1000. */
  maxUpdateSkew: number;
  /** ppm. chrony.conf(5): maxslewrate default 83333.333. */
  maxSlewRate: number;
  tempComp?: TempCompConfig;
  // --- NTP server
  ntpAccess: AccessRule[];
  bindAddress: BindAddresses;
  bindDevice?: string;
  broadcasts: { interval: number; address: string; port: number; origin: Origin }[];
  /** Bytes. chrony.conf(5): clientloglimit default 524288. */
  clientLogLimit: number;
  noClientLog: boolean;
  local?: LocalConfig;
  ntpSignDSocket?: string;
  /** TCP port. chrony.conf(5): ntsport default 4460. */
  ntsPort: number;
  ntsServerCerts: string[];
  ntsServerKeys: string[];
  /** chrony.conf(5): ntsprocesses default 1. */
  ntsProcesses: number;
  /** chrony.conf(5): maxntsconnections default 100. */
  maxNtsConnections: number;
  ntsNtpServer?: string;
  /** Seconds. chrony.conf(5): ntsrotate default 604800 (1 week). */
  ntsRotate: number;
  /** UDP port; 0 never opens the server port. chrony.conf(5): port default 123. */
  port: number;
  /** Absent: no rate limiting. */
  rateLimit?: RateLimitConfig;
  ntsRateLimit?: RateLimitConfig;
  /** ppm, ppm/s. */
  smoothTime?: { maxFreq: number; maxWander: number; leapOnly: boolean };
  // --- command access
  cmdAccess: AccessRule[];
  /** UDP command sockets and Unix socket path. chrony.conf(5): 127.0.0.1, ::1 and /run/chrony/chronyd.sock. */
  bindCmdAddress: BindAddresses & { unixPath: string };
  bindCmdDevice?: string;
  /** chrony.conf(5): cmdport default 323. */
  cmdPort: number;
  cmdRateLimit?: RateLimitConfig;
  /** Monitoring commands open to `cmdallow` hosts (4.x `opencommands`). */
  openCommands: string[];
  // --- horae only: the observability HTTP endpoint (lib/http)
  /** `httpport`: TCP port of the read-only HTTP endpoint; 0 (the default) keeps it off. */
  httpPort: number;
  /** `bindhttpaddress`: default 127.0.0.1 and ::1. */
  bindHttpAddress: BindAddresses;
  /** `httpallow`/`httpdeny` (cmdallow's syntax); 127.0.0.1 and ::1 are always allowed. */
  httpAccess: AccessRule[];
  /** horae only: `serverworkers`, threads answering NTP on the port (default 1: the main thread). */
  serverWorkers: number;
  // --- RTC
  hwClockFile?: string;
  /** Seconds; 0 disabled. */
  rtcAutoTrim: number;
  /** chrony.conf(5): rtcdevice default /dev/rtc. */
  rtcDevice: string;
  rtcFile?: string;
  rtcOnUtc: boolean;
  rtcSync: boolean;
  // --- logging
  log: LogKind[];
  /** Entries. chrony.conf(5): logbanner default 32. */
  logBanner: number;
  /** Seconds. chrony.conf(5): logchange default 1. */
  logChange: number;
  logDir?: string;
  mailOnChange?: { email: string; threshold: number };
  // --- miscellaneous
  /** Directories of `sourcedir` directives, in order. */
  sourceDirs: string[];
  hwTimestamps: HwTimestampConfig[];
  /** Seconds. chrony.conf(5) 4.x: hwtstimeout default 0.001. */
  hwTsTimeout: number;
  keyFile?: string;
  lockAll: boolean;
  /** chrony.conf(5): pidfile default /run/chrony/chronyd.pid; "/" disables. */
  pidFile: string;
  /** chrony.conf(5): ptpport default 0 (disabled). */
  ptpPort: number;
  /** chrony.conf(5) 4.x: ptpdomain default 123. */
  ptpDomain: number;
  /** chrony.conf(5): sched_priority default 0 (off). */
  schedPriority: number;
  /** Absent: the compiled-in default user. */
  user?: string;
}

// opencommands default: what chronyd 4.8 (and 4.3) answer over UDP without the
// directive (observed: sourcestats is open and serverstats is not, although
// chrony.conf(5) 4.8 marks serverstats and not sourcestats).
const DEFAULT_OPEN_COMMANDS = [
  "activity",
  "manual",
  "rtcdata",
  "smoothing",
  "sourcename",
  "sources",
  "sourcestats",
  "tracking",
];

/** The configuration chronyd runs with when the file says nothing. */
export function defaultConfig(): Config {
  return {
    sources: [],
    refclocks: [],
    manual: false,
    bindAcqAddress: {},
    dscp: 0, // chrony.conf(5): dscp default 0
    maxSamples: 0, // chrony.conf(5): maxsamples default 0
    minSamples: 6, // chrony.conf(5): minsamples default 6
    ntsAeads: [30, 15], // chrony.conf(5) 4.x: ntsaeads default "30 15"
    ntsRefresh: 2419200, // chrony.conf(5): ntsrefresh default 2419200 s
    ntsTrustedCerts: [],
    noSystemCert: false,
    noCertTimeCheck: 0, // chrony.conf(5): nocerttimecheck default 0
    refresh: 1209600, // chrony.conf(5) 4.x: refresh default 1209600 s
    authSelectMode: "mix", // chrony.conf(5): authselectmode default mix
    combineLimit: 3, // chrony.conf(5): combinelimit default 3
    maxDistance: 3, // chrony.conf(5): maxdistance default 3 s
    maxJitter: 1, // chrony.conf(5): maxjitter default 1 s
    minSources: 1, // chrony.conf(5): minsources default 1
    reselectDist: 1e-4, // chrony.conf(5): reselectdist default 100 us
    stratumWeight: 1e-3, // chrony.conf(5): stratumweight default 0.001 s
    corrTimeRatio: 3, // chrony.conf(5): corrtimeratio default 3
    leapSecMode: "system", // chrony.conf(5): leapsecmode default system where supported
    maxClockError: 1, // chrony.conf(5): maxclockerror default 1 ppm
    maxDrift: 500000, // chrony.conf(5): maxdrift default 500000 ppm
    maxUpdateSkew: 1000, // chrony.conf(5): maxupdateskew default 1000 ppm
    maxSlewRate: 83333.333, // chrony.conf(5): maxslewrate default 83333.333 ppm
    ntpAccess: [],
    bindAddress: {},
    broadcasts: [],
    clientLogLimit: 524288, // chrony.conf(5): clientloglimit default 524288 bytes
    noClientLog: false,
    ntsPort: 4460, // chrony.conf(5): ntsport default 4460
    ntsServerCerts: [],
    ntsServerKeys: [],
    ntsProcesses: 1, // chrony.conf(5): ntsprocesses default 1
    maxNtsConnections: 100, // chrony.conf(5): maxntsconnections default 100
    ntsRotate: 604800, // chrony.conf(5): ntsrotate default 604800 s
    port: 123, // chrony.conf(5): port default 123
    cmdAccess: [],
    // chrony.conf(5): bindcmdaddress default 127.0.0.1 and ::1, socket /run/chrony/chronyd.sock
    bindCmdAddress: { ipv4: "127.0.0.1", ipv6: "::1", unixPath: "/run/chrony/chronyd.sock" },
    cmdPort: 323, // chrony.conf(5): cmdport default 323
    openCommands: [...DEFAULT_OPEN_COMMANDS],
    httpPort: 0, // horae: the HTTP endpoint is off unless asked for
    bindHttpAddress: { ipv4: "127.0.0.1", ipv6: "::1" },
    httpAccess: [],
    serverWorkers: 1, // horae: one thread serves NTP, as chronyd
    rtcAutoTrim: 0,
    rtcDevice: "/dev/rtc", // chrony.conf(5): rtcdevice default /dev/rtc
    rtcOnUtc: false,
    rtcSync: false,
    log: [],
    logBanner: 32, // chrony.conf(5): logbanner default 32
    logChange: 1, // chrony.conf(5): logchange default 1 s
    sourceDirs: [],
    hwTimestamps: [],
    hwTsTimeout: 0.001, // chrony.conf(5) 4.x: hwtstimeout default 0.001 s
    lockAll: false,
    pidFile: "/run/chrony/chronyd.pid", // chrony.conf(5): pidfile default /run/chrony/chronyd.pid
    ptpPort: 0, // chrony.conf(5): ptpport default 0
    ptpDomain: 123, // chrony.conf(5) 4.x: ptpdomain default 123
    schedPriority: 0, // chrony.conf(5): sched_priority default 0
  };
}
