/**
 * The `refclock` directive: driver name, driver parameter with its
 * `:option` suffixes, then refclock options (chrony.conf(5)).
 *
 * @example
 * ```ts
 * import { ArgReader } from "./args.ts";
 * import { parseRefclockDirective } from "./refclock.ts";
 * const ctx = { file: "f", line: 1, directive: "refclock" };
 * const rc = parseRefclockDirective(new ArgReader(["SHM", "1:perm=0644", "refid", "GPS"], ctx));
 * rc.driverOptions.perm; // "0644"
 * rc.poll; // 4
 * ```
 * @module
 */

import type { ArgReader } from "./args.ts";
import type { RefclockConfig, RefclockDriver } from "./config.ts";

/** Drivers of chrony 4.x (chrony.conf(5)). */
export const REFCLOCK_DRIVERS: readonly RefclockDriver[] = ["PPS", "SHM", "SOCK", "PHC", "RTC"];

const FLAGS = {
  pps: "pps",
  prefer: "prefer",
  noselect: "noselect",
  trust: "trust",
  require: "require",
  tai: "tai",
  local: "local",
} as const satisfies Record<string, keyof RefclockConfig>;

/** Every option name the refclock directive accepts (after the driver parameter). */
export const REFCLOCK_OPTIONS: readonly string[] = [
  ...Object.keys(FLAGS),
  "poll",
  "dpoll",
  "refid",
  "lock",
  "rate",
  "maxlockage",
  "width",
  "offset",
  "delay",
  "stratum",
  "precision",
  "maxdispersion",
  "filter",
  "minsamples",
  "maxsamples",
  "maxunreach",
];

/** Parses the words after `refclock`. Throws ConfigError on bad input. */
export function parseRefclockDirective(r: ArgReader): RefclockConfig {
  const driverWord = r.word("driver name");
  const driver = REFCLOCK_DRIVERS.find((d) => d === driverWord.toUpperCase());
  if (driver === undefined) throw r.error(`unknown refclock driver "${driverWord}"`);
  const paramWord = r.word("driver parameter");
  const [parameter = "", ...optionParts] = paramWord.split(":");
  if (parameter === "") throw r.error(`invalid refclock parameter "${paramWord}"`);
  const driverOptions: Record<string, string> = {};
  for (const part of optionParts) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    if (eq < 0) driverOptions[part] = "";
    else driverOptions[part.slice(0, eq)] = part.slice(eq + 1);
  }
  const rc: RefclockConfig = {
    driver,
    parameter,
    driverOptions,
    origin: { file: r.ctx.file, line: r.ctx.line },
    poll: 4, // chrony.conf(5): refclock poll default 4 (16 s)
    dpoll: 0, // chrony.conf(5): dpoll default 0 (1 s)
    rate: 1, // chrony.conf(5): rate default 1 Hz
    maxlockage: 2, // chrony.conf(5): maxlockage default 2 pulses
    pps: false,
    offset: 0, // chrony.conf(5): offset default 0.0
    delay: 1e-9, // chrony.conf(5): delay default 1e-9 s
    stratum: 0, // chrony.conf(5): stratum default 0
    filter: 64, // chrony.conf(5): filter default 64
    prefer: false,
    noselect: false,
    trust: false,
    require: false,
    tai: false,
    local: false,
    maxunreach: 100000, // chrony.conf(5) 4.x: maxunreach default 100000
  };
  while (r.remaining > 0) {
    const opt = r.word("option").toLowerCase();
    if (Object.hasOwn(FLAGS, opt)) {
      rc[FLAGS[opt as keyof typeof FLAGS]] = true;
      continue;
    }
    switch (opt) {
      case "poll":
        rc.poll = r.int("poll");
        break;
      case "dpoll":
        rc.dpoll = r.int("dpoll");
        break;
      case "refid":
        rc.refid = refid(r, "refid");
        break;
      case "lock":
        rc.lock = refid(r, "lock");
        break;
      case "rate":
        rc.rate = positive(r, "rate", r.int("rate"));
        break;
      case "maxlockage":
        rc.maxlockage = r.int("maxlockage");
        break;
      case "width":
        rc.width = r.float("width");
        break;
      case "offset":
        rc.offset = r.float("offset");
        break;
      case "delay":
        rc.delay = r.float("delay");
        break;
      case "stratum":
        // RFC 5905: stratum 0..15 for a usable source.
        rc.stratum = r.clamp("stratum", r.int("stratum"), 0, 15);
        break;
      case "precision":
        rc.precision = r.float("precision");
        break;
      case "maxdispersion":
        rc.maxdispersion = r.float("maxdispersion");
        break;
      case "filter":
        rc.filter = positive(r, "filter", r.int("filter"));
        break;
      case "minsamples":
        rc.minsamples = r.int("minsamples");
        break;
      case "maxsamples":
        rc.maxsamples = r.int("maxsamples");
        break;
      case "maxunreach":
        rc.maxunreach = r.int("maxunreach");
        break;
      default:
        throw r.error(`invalid refclock option "${opt}"`);
    }
  }
  return rc;
}

// chrony.conf(5): refid is up to four ASCII characters.
function refid(r: ArgReader, what: string): string {
  const w = r.word(what);
  if (w.length > 4 || !/^[\x21-\x7e]+$/.test(w)) throw r.error(`invalid ${what} "${w}"`);
  return w;
}

function positive(r: ArgReader, what: string, v: number): number {
  if (v < 1) throw r.error(`invalid ${what} "${v}"`);
  return v;
}
