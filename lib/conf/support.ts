/**
 * Which parts of chrony.conf horae really implements. Every directive is
 * parsed and validated; this table says whether the daemon acts on it. Keys
 * are directive names, `directive.option` for options of server/pool/peer,
 * refclock (and `refclock.DRIVER` for its drivers), local and hwtimestamp, and `log.kind` for log kinds. To announce
 * a new feature, flip one line to `"implemented"`.
 *
 * @example
 * ```ts
 * import { parseConfig } from "./parse.ts";
 * import { unsupportedUses } from "./support.ts";
 * const r = parseConfig("ntpsigndsocket /var/lib/samba/ntp_signd\n", { file: "/etc/chrony.conf" });
 * unsupportedUses(r); // [{ file: "/etc/chrony.conf", line: 1, what: "ntpsigndsocket" }]
 * ```
 * @module
 */

import type { ParseResult } from "./parse.ts";

/** Whether the daemon acts on a directive, option or log kind. */
export type SupportStatus = "implemented" | "notSupported";

const I: SupportStatus = "implemented";
const N: SupportStatus = "notSupported";

/** The support table. Absent keys (e.g. options of an implemented directive) count as implemented. */
export const SUPPORT: Readonly<Record<string, SupportStatus>> = {
  // time sources
  server: I,
  pool: I,
  peer: I,
  "source.key": I,
  "source.nts": I,
  "source.certset": I,
  "source.ntsport": I,
  "source.xleave": I,
  "source.copy": I,
  "source.extfield": I,
  // F324 (4.5+): PTP transparent clocks' corrections of NTP-over-PTP (lib/ntp/ef_f324.ts)
  "source.extfield.F324": I,
  initstepslew: I,
  refclock: I,
  // refclock drivers and options (checked per `refclock` line)
  "refclock.PHC": I,
  "refclock.PPS": I,
  "refclock.RTC": I,
  "refclock.tai": I,
  "refclock.width": I,
  "refclock.local": I,
  "refclock.maxunreach": I,
  "source.maxunreach": I,
  manual: I,
  acquisitionport: I,
  bindacqaddress: I,
  bindacqdevice: I,
  dscp: I,
  dumpdir: I,
  maxsamples: I,
  minsamples: I,
  ntsaeads: I,
  ntsdumpdir: I,
  ntscachedir: I,
  ntsrefresh: I,
  ntstrustedcerts: I,
  nosystemcert: I,
  nocerttimecheck: I,
  refresh: I,
  // source selection
  authselectmode: I,
  combinelimit: I,
  maxdistance: I,
  maxjitter: I,
  minsources: I,
  reselectdist: I,
  stratumweight: I,
  // system clock
  clockprecision: I,
  corrtimeratio: I,
  driftfile: I,
  fallbackdrift: I,
  leapsecmode: I,
  leapsectz: I,
  leapseclist: I,
  makestep: I,
  maxchange: I,
  maxclockerror: I,
  maxdrift: I,
  maxupdateskew: I,
  maxslewrate: I,
  tempcomp: I,
  // NTP server
  allow: I,
  deny: I,
  bindaddress: I,
  binddevice: I,
  broadcast: I,
  clientloglimit: I,
  noclientlog: I,
  local: I,
  "local.activate": I,
  "local.waitsynced": I,
  "local.waitunsynced": I,
  ntpsigndsocket: N,
  ntsport: I,
  ntsservercert: I,
  ntsserverkey: I,
  ntsprocesses: I,
  maxntsconnections: I,
  ntsntpserver: I,
  ntsrotate: I,
  port: I,
  ratelimit: I,
  ntsratelimit: I,
  smoothtime: I,
  // command access
  bindcmdaddress: I,
  bindcmddevice: I,
  cmdallow: I,
  cmddeny: I,
  cmdport: I,
  cmdratelimit: I,
  opencommands: I,
  // horae only (not chrony directives): observability HTTP endpoint
  bindhttpaddress: I,
  httpallow: I,
  httpdeny: I,
  httpport: I,
  // horae only: NTP server worker threads (lib/daemon/server_workers.ts)
  serverworkers: I,
  // RTC
  hwclockfile: I,
  rtcautotrim: I,
  rtcdevice: I,
  rtcfile: I,
  rtconutc: I,
  rtcsync: I,
  // logging
  log: I,
  "log.rtc": I,
  "log.refclocks": I,
  "log.tempcomp": I,
  logbanner: I,
  logchange: I,
  logdir: I,
  mailonchange: I,
  // miscellaneous
  confdir: I,
  sourcedir: I,
  include: I,
  hwtimestamp: I,
  hwtstimeout: I,
  keyfile: I,
  lock_all: I,
  pidfile: I,
  ptpport: I,
  ptpdomain: I,
  sched_priority: I,
  user: I,
  // obsolete: accepted and ignored, nothing to support
  commandkey: I,
  dumponexit: I,
  generatecommandkey: I,
  linux_freq_scale: I,
  linux_hz: I,
};

/** One use of something not supported yet. */
export interface UnsupportedUse {
  file: string;
  line: number;
  /** `"hwtimestamp"`, `"nts option of server"`, `"log rtc"`... */
  what: string;
}

/** Status of a key; unknown keys count as implemented. */
export function supportOf(key: string): SupportStatus {
  return SUPPORT[key] ?? I;
}

// Source options whose keys in the table share the "source." prefix.
const SOURCE_DIRECTIVES = ["server", "pool", "peer"];

/**
 * Every use in `result` of a directive, source option or log kind that is
 * `notSupported`, in file order, for the daemon to log at start-up as
 * `file:line: "what" is not supported yet`.
 */
export function unsupportedUses(result: Pick<ParseResult, "directives">): UnsupportedUse[] {
  const out: UnsupportedUse[] = [];
  for (const d of result.directives) {
    const at = { file: d.file, line: d.line };
    if (supportOf(d.name) === N) {
      out.push({ ...at, what: d.name });
      continue;
    }
    if (SOURCE_DIRECTIVES.includes(d.name)) {
      for (const a of d.args.slice(1)) {
        const opt = a.toLowerCase();
        if (supportOf(`source.${opt}`) === N) {
          out.push({ ...at, what: `${opt} option of ${d.name}` });
        }
      }
      d.args.forEach((a, k) => {
        const type = (d.args[k + 1] ?? "").toUpperCase();
        if (k > 0 && a.toLowerCase() === "extfield" && supportOf(`source.extfield.${type}`) === N) {
          out.push({ ...at, what: `extfield ${type} option of ${d.name}` });
        }
      });
    } else if (d.name === "refclock") {
      const driver = (d.args[0] ?? "").toUpperCase();
      if (supportOf(`refclock.${driver}`) === N) {
        out.push({ ...at, what: `refclock ${driver}` });
        continue;
      }
      for (const a of d.args.slice(2)) {
        const opt = a.toLowerCase();
        if (supportOf(`refclock.${opt}`) === N) {
          out.push({ ...at, what: `${opt} option of refclock` });
        }
      }
    } else if (d.name === "log") {
      for (const a of d.args) {
        if (supportOf(`log.${a}`) === N) out.push({ ...at, what: `log ${a}` });
      }
    }
  }
  return out;
}

/** The start-up message for one unsupported use. */
export function formatUnsupported(u: UnsupportedUse): string {
  return `${u.file}:${u.line}: "${u.what}" is not supported yet`;
}
