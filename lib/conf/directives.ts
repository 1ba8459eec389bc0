/**
 * The table of every chrony.conf(5) directive (chrony 4.x): name -> handler
 * that validates the arguments and stores them in a `Config`. `include`,
 * `confdir` and `sourcedir` only validate here; the parser does their file
 * work. Obsolete directives chronyd still accepts are parsed and ignored
 * with a warning.
 *
 * @example
 * ```ts
 * import { ArgReader } from "./args.ts";
 * import { defaultConfig } from "./config.ts";
 * import { applyDirective } from "./directives.ts";
 * const c = defaultConfig();
 * applyDirective(c, "makestep", new ArgReader(["1.0", "3"], { file: "f", line: 1, directive: "makestep" }));
 * c.makestep; // { threshold: 1, limit: 3 }
 * ```
 * @module
 */

import type { ArgReader } from "./args.ts";
import { toInt } from "./args.ts";
import { ipv6, isIpv4, parseAccessRule } from "./access.ts";
import type {
  AuthSelectMode,
  BindAddresses,
  Config,
  HwTimestampConfig,
  LeapSecMode,
  LocalConfig,
  LogKind,
  RateLimitConfig,
  RxFilter,
} from "./config.ts";
import { LOG_KINDS } from "./config.ts";
import { parseRefclockDirective } from "./refclock.ts";
import { cInt, parseSourceDirective, port } from "./source_options.ts";

/** A directive handler: reads the arguments and updates the configuration. */
export type DirectiveHandler = (config: Config, r: ArgReader) => void;

/** Directives that read other files (handled by the parser). */
export const FILE_DIRECTIVES: readonly string[] = ["include", "confdir", "sourcedir"];

/** Directives chronyd 4.x still accepts but ignores (with a warning for most). */
export const OBSOLETE_DIRECTIVES: readonly string[] = [
  "commandkey",
  "dumponexit",
  "generatecommandkey",
  "linux_freq_scale",
  "linux_hz",
];

// chrony.conf(5) 4.x: opencommands command names.
const OPEN_COMMANDS = [
  "activity",
  "authdata",
  "clients",
  "manual",
  "ntpdata",
  "rtcdata",
  "selectdata",
  "serverstats",
  "smoothing",
  "sourcename",
  "sources",
  "sourcestats",
  "tracking",
];

function str(field: keyof Config): DirectiveHandler {
  return (c, r) => {
    const v = r.word("argument");
    r.end();
    (c as unknown as Record<string, unknown>)[field] = v;
  };
}

function flag(field: keyof Config): DirectiveHandler {
  return (c, r) => {
    r.end();
    (c as unknown as Record<string, unknown>)[field] = true;
  };
}

/**
 * A directive taking one integer. chronyd 4.3 reads it with a bare `%d`:
 * only a leading number counts (`dscp 1x` is 1, `maxsamples 0x10` is 0;
 * checked with `chronyd -p`), and so does horae.
 */
function int(field: keyof Config, min?: number, max?: number): DirectiveHandler {
  return (c, r) => {
    const w = r.word(r.ctx.directive);
    const lead = /^[+-]?\d+/.exec(w)?.[0];
    if (lead === undefined) throw r.error(`invalid ${r.ctx.directive} "${w}"`);
    let v = toInt(lead) ?? cInt(lead)!;
    r.end();
    if (min !== undefined && max !== undefined) v = r.clamp(r.ctx.directive, v, min, max);
    (c as unknown as Record<string, unknown>)[field] = v;
  };
}

function float(field: keyof Config): DirectiveHandler {
  return (c, r) => {
    const v = r.float(r.ctx.directive);
    r.end();
    (c as unknown as Record<string, unknown>)[field] = v;
  };
}

function portDirective(field: keyof Config): DirectiveHandler {
  return (c, r) => {
    const v = port(r, r.ctx.directive, true);
    r.end();
    (c as unknown as Record<string, unknown>)[field] = v;
  };
}

/** bindaddress-style: one IPv4 or IPv6 address (bindcmdaddress also a Unix socket path). */
function bind(get: (c: Config) => BindAddresses & { unixPath?: string }, unix: boolean) {
  return (c: Config, r: ArgReader) => {
    const a = r.word("address");
    r.end();
    const target = get(c);
    if (isIpv4(a)) target.ipv4 = a;
    else if (a.includes(":") && ipv6(a) !== undefined) target.ipv6 = a;
    else if (unix && a.startsWith("/")) target.unixPath = a;
    else throw r.error(`invalid address "${a}"`);
  };
}

function rateLimit(r: ArgReader, defaultInterval: number, kod: boolean): RateLimitConfig {
  const rl: RateLimitConfig = { interval: defaultInterval, burst: 8, leak: 2, kod: 0 };
  while (r.remaining > 0) {
    const opt = r.word("option").toLowerCase();
    switch (opt) {
      case "interval":
        // chrony.conf(5): interval minimum -19, maximum 12.
        rl.interval = r.clamp("interval", r.int("interval"), -19, 12);
        break;
      case "burst":
        // chrony.conf(5): burst minimum 1, maximum 255.
        rl.burst = r.clamp("burst", r.int("burst"), 1, 255);
        break;
      case "leak":
        // chrony.conf(5): leak minimum 1, maximum 4.
        rl.leak = r.clamp("leak", r.int("leak"), 1, 4);
        break;
      case "kod":
        if (!kod) throw r.error(`invalid ${r.ctx.directive} option "${opt}"`);
        // chrony.conf(5) 4.x: kod minimum 0, maximum 4.
        rl.kod = r.clamp("kod", r.int("kod"), 0, 4);
        break;
      default:
        throw r.error(`invalid ${r.ctx.directive} option "${opt}"`);
    }
  }
  return rl;
}

function parseLocal(r: ArgReader): LocalConfig {
  const l: LocalConfig = {
    stratum: 10, // chrony.conf(5): local stratum default 10
    distance: 1, // chrony.conf(5): local distance default 1 s
    activate: 0, // chrony.conf(5) 4.x: activate default 0.0
    orphan: false,
    waitSynced: 0, // chrony.conf(5) 4.x: waitsynced default 0
    waitUnsynced: 0,
  };
  let waitUnsynced: number | undefined;
  const seen = new Set<string>();
  while (r.remaining > 0) {
    const opt = r.word("option").toLowerCase();
    seen.add(opt);
    switch (opt) {
      case "stratum": {
        const s = r.int("stratum");
        // chrony.conf(5): stratum 1 through 15 (chronyd rejects others).
        if (s < 1 || s > 15) throw r.error(`invalid stratum "${s}" (1..15)`);
        l.stratum = s;
        break;
      }
      case "distance":
        l.distance = r.float("distance");
        break;
      case "activate":
        l.activate = r.float("activate");
        break;
      case "orphan":
        l.orphan = true;
        break;
      case "waitsynced":
        l.waitSynced = r.float("waitsynced");
        break;
      case "waitunsynced":
        waitUnsynced = r.float("waitunsynced");
        break;
      default:
        throw r.error(`invalid local option "${opt}"`);
    }
  }
  // chrony.conf(5) 4.7: waitunsynced default 300 s with orphan, otherwise 0. chrony 4.3 has no
  // such wait (its local reference activates at once), and 4.3's configurations keep 4.3's
  // behaviour: the 4.7 default applies only when a 4.5+ option (activate, waitsynced) is given.
  const newer = seen.has("activate") || seen.has("waitsynced");
  l.waitUnsynced = waitUnsynced ?? (l.orphan && newer ? 300 : 0);
  return l;
}

function parseHwTimestamp(r: ArgReader): HwTimestampConfig {
  const iface = r.word("interface");
  const h: HwTimestampConfig = {
    interface: iface,
    origin: { file: r.ctx.file, line: r.ctx.line },
    minpoll: 0, // chrony.conf(5): hwtimestamp minpoll default 0
    maxpoll: 1,
    minsamples: 2, // chrony.conf(5): minsamples default 2
    maxsamples: 16, // chrony.conf(5): maxsamples default 16
    precision: 100e-9, // chrony.conf(5): precision default 100e-9 s
    txcomp: 0,
    rxcomp: 0,
    nocrossts: false,
  };
  let maxpoll: number | undefined;
  while (r.remaining > 0) {
    const opt = r.word("option").toLowerCase();
    switch (opt) {
      case "minpoll":
        // chrony.conf(5): minimum -6, maximum 20.
        h.minpoll = r.clamp("minpoll", r.int("minpoll"), -6, 20);
        break;
      case "maxpoll":
        maxpoll = r.clamp("maxpoll", r.int("maxpoll"), -6, 20);
        break;
      case "minsamples":
        h.minsamples = r.int("minsamples");
        break;
      case "maxsamples":
        h.maxsamples = r.int("maxsamples");
        break;
      case "precision":
        h.precision = r.float("precision");
        break;
      case "txcomp":
        h.txcomp = r.float("txcomp");
        break;
      case "rxcomp":
        h.rxcomp = r.float("rxcomp");
        break;
      case "nocrossts":
        h.nocrossts = true;
        break;
      case "rxfilter": {
        const f = r.word("rxfilter").toLowerCase();
        if (f !== "all" && f !== "ntp" && f !== "ptp" && f !== "none") {
          throw r.error(`invalid rxfilter "${f}"`);
        }
        h.rxfilter = f as RxFilter;
        break;
      }
      default:
        throw r.error(`invalid hwtimestamp option "${opt}"`);
    }
  }
  // chrony.conf(5) 4.x: maxpoll default minpoll + 1.
  h.maxpoll = maxpoll ?? h.minpoll + 1;
  return h;
}

function oneOf<T extends string>(r: ArgReader, what: string, values: readonly T[]): T {
  const w = r.word(what);
  r.end();
  const v = values.find((x) => x === w.toLowerCase());
  if (v === undefined) throw r.error(`invalid ${what} "${w}"`);
  return v;
}

function nothing(): void {}

/** Every chrony.conf directive (lower case) and its handler. */
export const DIRECTIVES: Readonly<Record<string, DirectiveHandler>> = {
  // --- time sources
  server: (c, r) => void c.sources.push(parseSourceDirective("server", r)),
  pool: (c, r) => void c.sources.push(parseSourceDirective("pool", r)),
  peer: (c, r) => void c.sources.push(parseSourceDirective("peer", r)),
  initstepslew: (c, r) => {
    const threshold = r.float("step threshold");
    c.initstepslew = { threshold, hosts: r.rest() };
  },
  refclock: (c, r) => void c.refclocks.push(parseRefclockDirective(r)),
  manual: flag("manual"),
  acquisitionport: portDirective("acquisitionPort"),
  bindacqaddress: bind((c) => c.bindAcqAddress, false),
  bindacqdevice: str("bindAcqDevice"),
  // chrony.conf(5): dscp maximum 63.
  dscp: int("dscp", 0, 63),
  dumpdir: str("dumpDir"),
  maxsamples: int("maxSamples"),
  minsamples: int("minSamples"),
  ntsaeads: (c, r) => {
    const ids = r.rest().map((w) => {
      const n = toInt(w);
      if (n === undefined || n < 0) throw r.error(`invalid AEAD ID "${w}"`);
      return n;
    });
    if (ids.length === 0) throw r.error("missing AEAD ID for ntsaeads");
    c.ntsAeads = ids;
  },
  ntsdumpdir: str("ntsDumpDir"),
  ntscachedir: str("ntsDumpDir"), // older name of ntsdumpdir, still accepted by chronyd 4.3
  ntsrefresh: int("ntsRefresh", 0, 2 ** 31 - 1),
  ntstrustedcerts: (c, r) => {
    const first = r.word("file or directory");
    const second = r.optionalWord();
    r.end();
    if (second === undefined) {
      c.ntsTrustedCerts.push({ setId: 0, path: first });
      return;
    }
    const setId = toInt(first);
    if (setId === undefined || setId < 0 || setId > 0xffffffff) {
      throw r.error(`invalid set ID "${first}"`);
    }
    c.ntsTrustedCerts.push({ setId, path: second });
  },
  nosystemcert: flag("noSystemCert"),
  nocerttimecheck: int("noCertTimeCheck"),
  refresh: int("refresh", 0, 2 ** 31 - 1),
  // --- source selection
  authselectmode: (c, r) => {
    c.authSelectMode = oneOf<AuthSelectMode>(r, "authselectmode", [
      "require",
      "prefer",
      "mix",
      "ignore",
    ]);
  },
  combinelimit: float("combineLimit"),
  maxdistance: float("maxDistance"),
  maxjitter: float("maxJitter"),
  minsources: int("minSources"),
  reselectdist: float("reselectDist"),
  stratumweight: float("stratumWeight"),
  // --- system clock
  clockprecision: float("clockPrecision"),
  corrtimeratio: float("corrTimeRatio"),
  driftfile: (c, r) => {
    const path = r.word("file");
    let interval = 3600; // chrony.conf(5) 4.x: driftfile interval default 3600 s
    if (r.remaining > 0) {
      const opt = r.word("option");
      if (opt.toLowerCase() !== "interval") throw r.error(`invalid driftfile option "${opt}"`);
      interval = r.int("interval");
    }
    r.end();
    c.driftFile = { path, interval };
  },
  fallbackdrift: (c, r) => {
    const min = r.int("min-interval");
    const max = r.int("max-interval");
    r.end();
    c.fallbackDrift = { min, max };
  },
  leapsecmode: (c, r) => {
    c.leapSecMode = oneOf<LeapSecMode>(r, "leapsecmode", ["system", "step", "slew", "ignore"]);
  },
  leapsectz: str("leapSecTz"),
  leapseclist: str("leapSecList"),
  makestep: (c, r) => {
    const threshold = r.float("threshold");
    const limit = r.int("limit");
    r.end();
    c.makestep = { threshold, limit };
  },
  maxchange: (c, r) => {
    const offset = r.float("offset");
    const start = r.int("start");
    const ignore = r.int("ignore");
    r.end();
    c.maxChange = { offset, start, ignore };
  },
  maxclockerror: float("maxClockError"),
  maxdrift: float("maxDrift"),
  maxupdateskew: float("maxUpdateSkew"),
  maxslewrate: float("maxSlewRate"),
  tempcomp: (c, r) => {
    const file = r.word("file");
    const interval = r.float("interval");
    if (r.remaining === 1) {
      c.tempComp = { file, interval, pointsFile: r.word("points file") };
      return;
    }
    const t0 = r.float("T0");
    const k0 = r.float("k0");
    const k1 = r.float("k1");
    const k2 = r.float("k2");
    r.end();
    c.tempComp = { file, interval, t0, k0, k1, k2 };
  },
  // --- NTP server
  allow: (c, r) => void c.ntpAccess.push(parseAccessRule(true, r)),
  deny: (c, r) => void c.ntpAccess.push(parseAccessRule(false, r)),
  bindaddress: bind((c) => c.bindAddress, false),
  binddevice: str("bindDevice"),
  broadcast: (c, r) => {
    const interval = r.int("interval");
    const address = r.word("address");
    if (!isIpv4(address) && ipv6(address) === undefined) {
      throw r.error(`invalid address "${address}"`);
    }
    // chrony.conf(5): broadcast port default 123.
    const p = r.remaining > 0 ? port(r, "port", true) : 123;
    r.end();
    c.broadcasts.push({
      interval,
      address,
      port: p,
      origin: { file: r.ctx.file, line: r.ctx.line },
    });
  },
  clientloglimit: int("clientLogLimit"),
  noclientlog: flag("noClientLog"),
  local: (c, r) => void (c.local = parseLocal(r)),
  ntpsigndsocket: str("ntpSignDSocket"),
  ntsport: portDirective("ntsPort"),
  ntsservercert: (c, r) => {
    c.ntsServerCerts.push(r.word("file"));
    r.end();
  },
  ntsserverkey: (c, r) => {
    c.ntsServerKeys.push(r.word("file"));
    r.end();
  },
  // chrony.conf(5) 4.x: ntsprocesses maximum 1000.
  ntsprocesses: int("ntsProcesses", 0, 1000),
  maxntsconnections: int("maxNtsConnections"),
  ntsntpserver: str("ntsNtpServer"),
  ntsrotate: int("ntsRotate", 0, 2 ** 31 - 1),
  port: portDirective("port"),
  // chrony.conf(5): ratelimit interval default 3, burst 8, leak 2.
  ratelimit: (c, r) => void (c.rateLimit = rateLimit(r, 3, true)),
  // chrony.conf(5): ntsratelimit default interval 6.
  ntsratelimit: (c, r) => void (c.ntsRateLimit = rateLimit(r, 6, false)),
  smoothtime: (c, r) => {
    const maxFreq = r.float("max-freq");
    const maxWander = r.float("max-wander");
    const opt = r.optionalWord();
    r.end();
    if (opt !== undefined && opt.toLowerCase() !== "leaponly") {
      throw r.error(`invalid smoothtime option "${opt}"`);
    }
    c.smoothTime = { maxFreq, maxWander, leapOnly: opt !== undefined };
  },
  // --- command and monitoring access
  bindcmdaddress: bind((c) => c.bindCmdAddress, true),
  bindcmddevice: str("bindCmdDevice"),
  cmdallow: (c, r) => void c.cmdAccess.push(parseAccessRule(true, r)),
  cmddeny: (c, r) => void c.cmdAccess.push(parseAccessRule(false, r)),
  cmdport: portDirective("cmdPort"),
  // chrony.conf(5): cmdratelimit default interval -4.
  cmdratelimit: (c, r) => void (c.cmdRateLimit = rateLimit(r, -4, false)),
  // horae only (not in chrony): the observability HTTP endpoint (lib/http)
  bindhttpaddress: bind((c) => c.bindHttpAddress, false),
  httpallow: (c, r) => void c.httpAccess.push(parseAccessRule(true, r)),
  httpdeny: (c, r) => void c.httpAccess.push(parseAccessRule(false, r)),
  // not chrony's: no 16-bit wrap-around to imitate, so out of range is an error
  httpport: (c, r) => {
    const v = r.int("port");
    r.end();
    if (v < 0 || v > 65535) throw r.error(`invalid port ${v}`);
    c.httpPort = v;
  },
  // horae only: NTP server threads sharing the port (SO_REUSEPORT); 1 = the main thread alone
  // (not chrony's: no C integer parsing to imitate, so out of range is an error)
  serverworkers: (c, r) => {
    const v = r.int("number of workers");
    r.end();
    if (v < 1 || v > 64) throw r.error(`invalid number of server workers ${v} (1-64)`);
    c.serverWorkers = v;
  },
  opencommands: (c, r) => {
    const cmds = r.rest().map((w) => w.toLowerCase());
    for (const cmd of cmds) {
      if (!OPEN_COMMANDS.includes(cmd)) throw r.error(`invalid command "${cmd}"`);
    }
    c.openCommands = cmds;
  },
  // --- RTC
  hwclockfile: str("hwClockFile"),
  rtcautotrim: float("rtcAutoTrim"),
  rtcdevice: str("rtcDevice"),
  rtcfile: str("rtcFile"),
  rtconutc: flag("rtcOnUtc"),
  rtcsync: flag("rtcSync"),
  // --- logging
  log: (c, r) => {
    for (const w of r.rest()) {
      const kind = LOG_KINDS.find((k) => k === w);
      if (kind === undefined) throw r.error(`invalid log parameter "${w}"`);
      if (!c.log.includes(kind)) c.log.push(kind as LogKind);
    }
  },
  logbanner: int("logBanner"),
  logchange: float("logChange"),
  logdir: str("logDir"),
  mailonchange: (c, r) => {
    const email = r.word("email");
    const threshold = r.float("threshold");
    r.end();
    c.mailOnChange = { email, threshold };
  },
  // --- miscellaneous
  confdir: (_c, r) => {
    // chrony.conf(5): up to 10 directories.
    const dirs = r.rest();
    if (dirs.length === 0) throw r.error("missing directory for confdir");
    if (dirs.length > 10) throw r.error("too many directories for confdir (10 at most)");
  },
  sourcedir: (c, r) => {
    const dirs = r.rest();
    if (dirs.length === 0) throw r.error("missing directory for sourcedir");
    if (dirs.length > 10) throw r.error("too many directories for sourcedir (10 at most)");
    c.sourceDirs.push(...dirs);
  },
  include: (_c, r) => {
    r.word("pattern");
    r.end();
  },
  hwtimestamp: (c, r) => void c.hwTimestamps.push(parseHwTimestamp(r)),
  hwtstimeout: float("hwTsTimeout"),
  keyfile: str("keyFile"),
  lock_all: flag("lockAll"),
  pidfile: str("pidFile"),
  ptpport: portDirective("ptpPort"),
  // chrony.conf(5) 4.x: ptpdomain minimum 0, maximum 255.
  ptpdomain: int("ptpDomain", 0, 255),
  sched_priority: int("schedPriority"),
  user: str("user"),
  // --- obsolete, accepted and ignored like chronyd 4.x
  commandkey: nothing,
  dumponexit: nothing,
  generatecommandkey: nothing,
  linux_freq_scale: nothing,
  linux_hz: nothing,
};

/** True if `name` (any case) is a chrony.conf directive. */
export function isDirective(name: string): boolean {
  return Object.hasOwn(DIRECTIVES, name.toLowerCase());
}

/**
 * Applies one directive to `config`. `name` is matched case-insensitively.
 * Throws ConfigError for an unknown directive or bad arguments.
 */
export function applyDirective(config: Config, name: string, r: ArgReader): void {
  const lower = name.toLowerCase();
  if (!Object.hasOwn(DIRECTIVES, lower)) {
    // chronyd 4.3 refuses a byte-order mark too; say what the invisible character is.
    if (name.startsWith("\ufeff")) {
      throw r.error(`unknown directive "${name}" (the file starts with a UTF-8 byte-order mark)`);
    }
    throw r.error(`unknown directive "${name}"`);
  }
  if (OBSOLETE_DIRECTIVES.includes(lower)) {
    r.warn(`${lower} directive is no longer supported`, true); // chronyd's bare words
  }
  const handler = DIRECTIVES[lower];
  handler?.(config, r);
}
