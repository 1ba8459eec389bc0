/**
 * `server`, `pool` and `peer` directives: the host name followed by options,
 * each validated and defaulted as chrony.conf(5) describes.
 *
 * @example
 * ```ts
 * import { ArgReader } from "./args.ts";
 * import { parseSourceDirective } from "./source_options.ts";
 * const ctx = { file: "f", line: 1, directive: "server" };
 * const s = parseSourceDirective("server", new ArgReader(["ntp.example.net", "iburst"], ctx));
 * s.iburst; // true
 * s.minpoll; // 6
 * ```
 * @module
 */

import type { ArgReader } from "./args.ts";
import { toInt } from "./args.ts";
import type { SourceConfig, SourceKind } from "./config.ts";

// chrony.conf(5): minpoll/maxpoll minimum -7, maximum 24.
const POLL_MIN = -7;
const POLL_MAX = 24;
// chrony.conf(5): key ID range 1 through 2^32-1.
const KEY_MAX = 0xffffffff;

// chrony.conf(5): these server options do not work in the peer directive.
const PEER_IGNORED = ["iburst", "burst", "nts", "presend", "copy"];

/** Boolean options of server/pool/peer and the field each one sets. */
const FLAGS = {
  iburst: "iburst",
  burst: "burst",
  nts: "nts",
  offline: "offline",
  auto_offline: "autoOffline",
  prefer: "prefer",
  noselect: "noselect",
  trust: "trust",
  require: "require",
  xleave: "xleave",
  copy: "copy",
  ipv4: "ipv4",
  ipv6: "ipv6",
} as const satisfies Record<string, keyof SourceConfig>;

/** Every option name server/pool/peer accept (for support tables and docs). */
export const SOURCE_OPTIONS: readonly string[] = [
  ...Object.keys(FLAGS),
  "minpoll",
  "maxpoll",
  "key",
  "certset",
  "maxdelay",
  "maxdelayratio",
  "maxdelaydevratio",
  "maxdelayquant",
  "mindelay",
  "asymmetry",
  "offset",
  "minsamples",
  "maxsamples",
  "maxunreach",
  "filter",
  "polltarget",
  "port",
  "ntsport",
  "presend",
  "minstratum",
  "version",
  "extfield",
  "maxsources",
];

// chrony.conf(5) 4.8 extfield: F323 (NTPv5 proposal), F324 (PTP correction; chronyd 4.8 rejects
// "10A" with "Invalid value in server directive", observed).
const EXTFIELDS: Record<string, number> = { "F323": 0xf323, "F324": 0xf324 };

/** A source with every option at chrony's default. */
export function defaultSource(
  kind: SourceKind,
  name: string,
  origin: { file: string; line: number },
): SourceConfig {
  return {
    kind,
    name,
    origin,
    fromSourceDir: false,
    minpoll: 6, // chrony.conf(5): minpoll default 6 (64 s)
    maxpoll: 10, // chrony.conf(5): maxpoll default 10 (1024 s)
    iburst: false,
    burst: false,
    nts: false,
    certset: 0, // chrony.conf(5): certset default 0
    maxdelay: 3, // chrony.conf(5): maxdelay default 3 s
    maxdelaydevratio: 10, // chrony.conf(5): maxdelaydevratio default 10.0
    offset: 0, // chrony.conf(5): offset default 0.0
    maxunreach: 100000, // chrony.conf(5) 4.x: maxunreach default 100000
    offline: false,
    autoOffline: false,
    prefer: false,
    noselect: false,
    trust: false,
    require: false,
    xleave: false,
    polltarget: 8, // chrony.conf(5): polltarget default 8
    port: 123, // chrony.conf(5): port default 123
    ntsport: 4460, // chrony.conf(5): ntsport default 4460
    minstratum: 0,
    copy: false,
    extfields: [],
    ipv4: false,
    ipv6: false,
    maxsources: 4, // chrony.conf(5): pool maxsources default 4
  };
}

/**
 * Parses the words after `server`/`pool`/`peer`. Throws ConfigError for a
 * missing name, an unknown option or a bad value; clamps documented ranges
 * with a warning (chronyd accepts such values too).
 */
export function parseSourceDirective(kind: SourceKind, r: ArgReader): SourceConfig {
  const name = r.word("host name");
  const s = defaultSource(kind, name, { file: r.ctx.file, line: r.ctx.line });
  while (r.remaining > 0) {
    const opt = r.word("option").toLowerCase();
    if (kind === "peer" && PEER_IGNORED.includes(opt)) {
      r.warn(`${opt} option has no effect in a peer directive`);
    }
    if (Object.hasOwn(FLAGS, opt)) {
      s[FLAGS[opt as keyof typeof FLAGS]] = true;
      continue;
    }
    switch (opt) {
      case "minpoll":
        s.minpoll = r.clamp("minpoll", r.int("minpoll"), POLL_MIN, POLL_MAX);
        break;
      case "maxpoll":
        s.maxpoll = r.clamp("maxpoll", r.int("maxpoll"), POLL_MIN, POLL_MAX);
        break;
      case "key": {
        const w = r.word("key");
        const k = toInt(w);
        if (k === undefined || k < 1 || k > KEY_MAX) throw r.error(`invalid key "${w}"`);
        s.key = k;
        break;
      }
      case "certset":
        s.certset = nonNegative(r, "certset", r.int("certset"));
        break;
      case "maxdelay":
        // chrony.conf(5): maxdelay maximum 1000 s.
        s.maxdelay = r.clamp("maxdelay", r.float("maxdelay"), 0, 1000);
        break;
      case "maxdelayratio":
        s.maxdelayratio = r.float("maxdelayratio");
        break;
      case "maxdelaydevratio":
        s.maxdelaydevratio = r.float("maxdelaydevratio");
        break;
      case "maxdelayquant":
        // chrony.conf(5) 4.x: p should be between 0.05 and 0.95.
        s.maxdelayquant = r.clamp("maxdelayquant", r.float("maxdelayquant"), 0.05, 0.95);
        break;
      case "mindelay":
        s.mindelay = r.float("mindelay");
        break;
      case "asymmetry":
        // chrony.conf(5): asymmetry between -0.5 and +0.5.
        s.asymmetry = r.clamp("asymmetry", r.float("asymmetry"), -0.5, 0.5);
        break;
      case "offset":
        s.offset = r.float("offset");
        break;
      case "minsamples":
        s.minsamples = r.int("minsamples");
        break;
      case "maxsamples":
        s.maxsamples = r.int("maxsamples");
        break;
      case "maxunreach":
        s.maxunreach = nonNegative(r, "maxunreach", r.int("maxunreach"));
        break;
      case "filter":
        s.filter = r.int("filter");
        break;
      case "polltarget":
        s.polltarget = r.int("polltarget");
        break;
      case "port":
        s.port = port(r, "port");
        break;
      case "ntsport":
        s.ntsport = port(r, "ntsport");
        break;
      case "presend":
        s.presend = r.int("presend");
        break;
      case "minstratum":
        s.minstratum = r.int("minstratum");
        break;
      case "version":
        s.version = r.clamp("version", r.int("version"), 1, 4);
        break;
      case "extfield": {
        const w = r.word("extfield");
        const t = EXTFIELDS[w.toUpperCase()];
        if (t === undefined) throw r.error(`unsupported extfield "${w}"`);
        if (!s.extfields.includes(t)) s.extfields.push(t);
        break;
      }
      case "maxsources":
        // chrony.conf(5): maxsources default 4, maximum 16.
        s.maxsources = r.clamp("maxsources", r.int("maxsources"), 1, 16);
        break;
      default:
        throw r.error(`invalid ${kind} option "${opt}"`);
    }
  }
  return s;
}

function nonNegative(r: ArgReader, what: string, v: number): number {
  if (v < 0) throw r.error(`invalid ${what} "${v}"`);
  return v;
}

/**
 * C's `int` from a decimal word as chronyd reads it (sscanf `%d`, glibc):
 * out of the 64-bit range it saturates, then it is cut to 32 bits. With
 * `loose`, like a `%d` without an end check, only the leading number counts
 * (`1x`, `1.5`, `1e3` read 1; `0x10` reads 0). Undefined when no number starts
 * the word.
 */
export function cInt(word: string, loose = false): number | undefined {
  const m = (loose ? /^[+-]?\d+/ : /^[+-]?\d+$/).exec(word);
  if (!m) return undefined;
  let v = BigInt(m[0]);
  const max = (1n << 63n) - 1n;
  if (v > max) v = max;
  if (v < -max - 1n) v = -max - 1n;
  return Number(BigInt.asIntN(32, v));
}

/**
 * A port as chronyd 4.3 takes it: any C `int`, cut to 16 bits (`port 70000`
 * is port 4464, `-1` is 65535; checked with the real chronyd). `loose` for
 * the directives (`port`, `cmdport`, ...) that read only a leading number;
 * the `port`/`ntsport` options of a source want the whole word.
 */
export function port(r: ArgReader, what: string, loose = false): number {
  const w = r.word(what);
  const v = cInt(w, loose);
  if (v === undefined) throw r.error(`invalid ${what} "${w}"`);
  return v & 0xffff;
}
