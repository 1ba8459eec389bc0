/**
 * chronyc's report layouts: the same columns, widths, unit suffixes and signs
 * as chronyc 4.3 prints for the same data, and the `-c` CSV form. Legends
 * (`-v`) are horae's own words laid out line for line like chronyc's.
 *
 * @example
 * ```ts
 * import { formatSignedShort } from "./format.ts";
 * formatSignedShort(1.582e-6); // "+1582ns"
 * ```
 * @module
 */

import { addressRefId as ipRefId, parseIp } from "../net/address.ts";
import type { Timestamp } from "../time/timestamp.ts";
import type {
  ActivityReport,
  AuthDataReport,
  ClientAccessReport,
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
} from "./reports.ts";
import { addressText, type CmdAddress } from "./wire.ts";

/** printf-style fixed-point with a width: `%W.Pf` (and `%+W.Pf` when `plus`). */
function f(x: number, prec: number, width = 0, plus = false): string {
  let s = Math.abs(x) < 0.5 * 10 ** -prec && prec >= 0
    ? (Object.is(x, -0) || x < 0 ? "-" : "") + (0).toFixed(prec)
    : x.toFixed(prec);
  if (plus && !s.startsWith("-")) s = "+" + s;
  return s.padStart(width);
}

/** chronyc: unsigned short time with unit (ns/us/ms/s/m/h/d/y), 6 columns. */
export function formatShort(seconds: number): string {
  const s = Math.abs(seconds);
  if (s < 9999.5e-9) return f(s * 1e9, 0, 4) + "ns";
  if (s < 9999.5e-6) return f(s * 1e6, 0, 4) + "us";
  if (s < 9999.5e-3) return f(s * 1e3, 0, 4) + "ms";
  if (s < 999.5) return f(s, 1, 5) + "s";
  if (s < 99999.5) return f(s, 0, 5) + "s";
  if (s < 99999.5 * 60) return f(s / 60, 0, 5) + "m";
  if (s < 99999.5 * 3600) return f(s / 3600, 0, 5) + "h";
  if (s < 99999.5 * 86400) return f(s / 86400, 0, 5) + "d";
  return f(s / (86400 * 365), 0, 5) + "y";
}

/** chronyc: signed short time with unit, 7 columns (e.g. "+1582ns", "  -12us"). */
export function formatSignedShort(seconds: number): string {
  const x = Math.abs(seconds);
  if (x < 9999.5e-9) return f(seconds * 1e9, 0, 5, true) + "ns";
  if (x < 9999.5e-6) return f(seconds * 1e6, 0, 5, true) + "us";
  if (x < 9999.5e-3) return f(seconds * 1e3, 0, 5, true) + "ms";
  if (x < 999.5) return f(seconds, 1, 6, true) + "s";
  if (x < 99999.5) return f(seconds, 0, 6, true) + "s";
  if (x < 99999.5 * 60) return f(seconds / 60, 0, 6, true) + "m";
  if (x < 99999.5 * 3600) return f(seconds / 3600, 0, 6, true) + "h";
  if (x < 99999.5 * 86400) return f(seconds / 86400, 0, 6, true) + "d";
  return f(seconds / (86400 * 365), 0, 6, true) + "y";
}

/** chronyc: an interval in whole seconds, 4 columns ("   -" when unknown, then m/h/d/y). */
export function formatInterval(s: number): string {
  if (s === 0xffffffff) return "   -";
  if (s < 1200) return String(s).padStart(4);
  if (s < 36000) return `${Math.floor(s / 60)}m`.padStart(4);
  if (s < 345600) return `${Math.floor(s / 3600)}h`.padStart(4);
  const d = Math.floor(s / 86400);
  return (d > 999 ? `${Math.floor(d / 365)}y` : `${d}d`).padStart(4);
}

/** chronyc: frequency in ppm, 10 columns. */
function ppm(x: number, plus = false): string {
  return Math.abs(x) < 99999.5 ? f(x, 3, 10, plus) : f(x, 0, 10, plus);
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** UTC time like C's `%a %b %d %H:%M:%S %Y`. */
export function formatUtc(t: Timestamp): string {
  const d = new Date(Number(t / 1_000_000n));
  const p = (n: number) => String(n).padStart(2, "0");
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${p(d.getUTCDate())} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/** Timestamp as "sec.nnnnnnnnn" (CSV). */
function csvTime(t: Timestamp): string {
  const sec = t / 1_000_000_000n;
  return `${sec}.${String(t - sec * 1_000_000_000n).padStart(9, "0")}`;
}

function hex8(x: number): string {
  return (x >>> 0).toString(16).toUpperCase().padStart(8, "0");
}

/** Printable characters of a reference id (stratum-1 names like "GPS"). */
export function refIdName(refId: number): string {
  let s = "";
  for (let i = 24; i >= 0; i -= 8) {
    const c = (refId >>> i) & 0xff;
    if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
  }
  return s;
}

/** chrony's reference id of an address: IPv4 as is, IPv6 the first 32 bits of its MD5. */
export function addressRefId(a: CmdAddress): number {
  if (a.family !== "inet4" && a.family !== "inet6") return 0;
  const ip = parseIp(a.address);
  return ip === null ? 0 : ipRefId(ip);
}

const LEAP = ["Normal", "Insert second", "Delete second", "Not synchronised"];

/** `tracking`. `name` is the reference's host name or address text. */
export function formatTracking(t: TrackingReport, name: string, csv: boolean): string {
  const leap = LEAP[t.leapStatus] ?? "Invalid";
  if (csv) {
    return [
      hex8(t.refId),
      name,
      t.stratum,
      csvTime(t.refTime),
      f(t.currentCorrection, 9),
      f(t.lastOffset, 9),
      f(t.rmsOffset, 9),
      f(t.freqPpm, 3),
      f(t.residFreqPpm, 3),
      f(t.skewPpm, 3),
      f(t.rootDelay, 9),
      f(t.rootDispersion, 9),
      f(t.lastUpdateInterval, 1),
      leap,
    ].join(",") + "\n";
  }
  return `Reference ID    : ${hex8(t.refId)} (${name})\n` +
    `Stratum         : ${t.stratum}\n` +
    `Ref time (UTC)  : ${formatUtc(t.refTime)}\n` +
    // chronyc prints "slow" / "fast" only for values above zero: a zero correction is "fast",
    // a zero frequency "slow"
    `System time     : ${f(Math.abs(t.currentCorrection), 9)} seconds ${
      t.currentCorrection > 0 ? "slow" : "fast"
    } of NTP time\n` +
    `Last offset     : ${f(t.lastOffset, 9, 0, true)} seconds\n` +
    `RMS offset      : ${f(t.rmsOffset, 9)} seconds\n` +
    `Frequency       : ${f(Math.abs(t.freqPpm), 3)} ppm ${t.freqPpm > 0 ? "fast" : "slow"}\n` +
    `Residual freq   : ${f(t.residFreqPpm, 3, 0, true)} ppm\n` +
    `Skew            : ${f(t.skewPpm, 3)} ppm\n` +
    `Root delay      : ${f(t.rootDelay, 9)} seconds\n` +
    `Root dispersion : ${f(t.rootDispersion, 9)} seconds\n` +
    `Update interval : ${f(t.lastUpdateInterval, 1)} seconds\n` +
    `Leap status     : ${leap}\n`;
}

const MODE_CHAR = ["^", "=", "#"];
const STATE_CHAR = ["*", "?", "x", "~", "+", "-"];

/** Legend of `sources -v` (horae's wording, chronyc's line layout). */
export const SOURCES_LEGEND = [
  "",
  "  .-- Kind of source: '^' server, '=' symmetric peer, '#' reference clock.",
  " / .- Selection: '*' synchronised to, '+' combined with it, '-' left out,",
  "| /             'x' falseticker, '~' jitter too high, '?' not usable now.",
  "||                                                 .- AAAA [ MMMM ] +/- EEEE",
  "||      Last 8 polls answered (octal) -.           |  AAAA = offset after slewing,",
  "||      Poll interval (log2 s) --.      |          |  MMMM = offset as measured,",
  "||                                \\     |          |  EEEE = error margin.",
  "||                                 |    |           \\",
];

/** Header of `sources`. */
export const SOURCES_HEADER = "MS Name/IP address         Stratum Poll Reach LastRx Last sample" +
  "               \n" + "=".repeat(79) + "\n";

/** One `sources` row; `name` already resolved. */
export function formatSource(s: SourceReport, name: string, csv: boolean): string {
  const m = MODE_CHAR[s.mode] ?? "?";
  const st = STATE_CHAR[s.state] ?? "?";
  if (csv) {
    return [
      m,
      st,
      name,
      s.stratum,
      s.poll,
      s.reachability.toString(8),
      s.sinceSample,
      f(s.latestMeas, 9),
      f(s.origLatestMeas, 9),
      f(s.latestMeasErr, 9),
    ].join(",") + "\n";
  }
  return `${m}${st} ${name.slice(0, 27).padEnd(27)}  ${String(s.stratum).padStart(2)}  ${
    String(s.poll).padStart(2)
  }   ${s.reachability.toString(8).padStart(3)}  ${formatInterval(s.sinceSample)}  ${
    formatSignedShort(s.latestMeas)
  }[${formatSignedShort(s.origLatestMeas)}] +/- ${formatShort(s.latestMeasErr)}\n`;
}

/** Legend of `sourcestats -v`. */
export const SOURCESTATS_LEGEND = [
  "                             .- Samples currently held for the source.",
  "                            /    .- Runs of residuals sharing a sign.",
  "                           |    /    .- Time covered by the samples.",
  "                           |   |    /      .- Frequency offset estimate (ppm).",
  "                           |   |   |      /           .- Bound on that error (ppm).",
  "                           |   |   |     |           /         .- Offset estimate.",
  "                           |   |   |     |          |          |   Sample -.",
  "                           |   |   |     |          |          |   spread   \\",
  "                           |   |   |     |          |          |             |",
];

/** Header of `sourcestats`. */
export const SOURCESTATS_HEADER =
  "Name/IP Address            NP  NR  Span  Frequency  Freq Skew  Offset  Std Dev\n" +
  "=".repeat(78) + "\n";

/** One `sourcestats` row. */
export function formatSourceStats(s: SourceStatsReport, name: string, csv: boolean): string {
  if (csv) {
    return [
      name,
      s.nSamples,
      s.nRuns,
      s.spanSeconds,
      f(s.residFreqPpm, 3),
      f(s.skewPpm, 3),
      f(s.estOffset, 9),
      f(s.sd, 9),
    ].join(",") + "\n";
  }
  return `${name.slice(0, 25).padEnd(25)} ${String(s.nSamples).padStart(3)} ${
    String(s.nRuns).padStart(3)
  }  ${formatInterval(s.spanSeconds)} ${ppm(s.residFreqPpm, true)} ${ppm(s.skewPpm)}  ${
    formatSignedShort(s.estOffset)
  }  ${formatShort(s.sd)}\n`;
}

/** `activity`. */
export function formatActivity(a: ActivityReport, csv: boolean): string {
  if (csv) {
    return `${a.online},${a.offline},${a.burstOnline},${a.burstOffline},${a.unresolved}\n`;
  }
  return `200 OK\n${a.online} sources online\n${a.offline} sources offline\n` +
    `${a.burstOnline} sources doing burst (return to online)\n` +
    `${a.burstOffline} sources doing burst (return to offline)\n` +
    `${a.unresolved} sources with unknown address\n`;
}

/** `serverstats`: 4.3's eleven lines; the timestamp counters too when the daemon sends them. */
export function formatServerStats(s: ServerStatsReport, csv: boolean): string {
  const rows: [string, number][] = [
    ["NTP packets received       ", s.ntpHits],
    ["NTP packets dropped        ", s.ntpDrops],
    ["Command packets received   ", s.cmdHits],
    ["Command packets dropped    ", s.cmdDrops],
    ["Client log records dropped ", s.logDrops],
    ["NTS-KE connections accepted", s.nkeHits],
    ["NTS-KE connections dropped ", s.nkeDrops],
    ["Authenticated NTP packets  ", s.ntpAuthHits],
    ["Interleaved NTP packets    ", s.ntpInterleavedHits],
    ["NTP timestamps held        ", s.ntpTimestamps],
    ["NTP timestamp span         ", s.ntpSpanSeconds],
  ];
  if (s.version >= 4) {
    rows.push(
      ["NTP daemon RX timestamps   ", s.ntpDaemonRxTimestamps],
      ["NTP daemon TX timestamps   ", s.ntpDaemonTxTimestamps],
      ["NTP kernel RX timestamps   ", s.ntpKernelRxTimestamps],
      ["NTP kernel TX timestamps   ", s.ntpKernelTxTimestamps],
      ["NTP hardware RX timestamps ", s.ntpHwRxTimestamps],
      ["NTP hardware TX timestamps ", s.ntpHwTxTimestamps],
    );
  }
  if (csv) return rows.map(([, v]) => v).join(",") + "\n";
  return rows.map(([l, v]) => `${l}: ${v}\n`).join("");
}

/** Header of `clients` (`-k` shows NTS-KE instead of command columns). */
export function clientsHeader(nke: boolean): string {
  return `Hostname                      NTP   Drop Int IntL Last  ${
    nke ? "NTS-KE" : "   Cmd"
  }   Drop Int  Last\n` + "=".repeat(79) + "\n";
}

function ival(x: number): string {
  return x === 127 ? " -" : String(x).padStart(2);
}

/** One `clients` row. */
export function formatClient(c: ClientAccessReport, name: string, nke: boolean, csv: boolean) {
  const hits = nke ? c.nkeHits : c.cmdHits;
  const drops = nke ? c.nkeDrops : c.cmdDrops;
  const int = nke ? c.nkeInterval : c.cmdInterval;
  const last = nke ? c.lastNkeHitAgo : c.lastCmdHitAgo;
  if (csv) {
    return [
      name,
      c.ntpHits,
      c.ntpDrops,
      c.ntpInterval,
      c.ntpTimeoutInterval,
      c.lastNtpHitAgo,
      hits,
      drops,
      int,
      last,
    ].join(",") + "\n";
  }
  return `${name.slice(0, 25).padEnd(25)}  ${String(c.ntpHits).padStart(6)}  ${
    String(c.ntpDrops).padStart(5)
  }  ${ival(c.ntpInterval)}  ${ival(c.ntpTimeoutInterval)}  ${formatInterval(c.lastNtpHitAgo)}  ${
    String(hits).padStart(6)
  }  ${String(drops).padStart(5)}  ${ival(int)}  ${formatInterval(last)}\n`;
}

const NTP_MODE: Record<number, string> = {
  1: "Symmetric active",
  2: "Symmetric passive",
  4: "Server",
};
const TSS: Record<string, string> = { D: "Daemon", K: "Kernel", H: "Hardware" };

/** `ntpdata` for one source (starts with a blank line, like chronyc). */
export function formatNtpData(n: NtpDataReport, csv: boolean, v2 = false): string {
  const ra = addressText(n.remoteAddress);
  const la = addressText(n.localAddress);
  const bits = (from: number, count: number) => {
    let s = "";
    // test 1 is the highest of the ten bits (0x200), test 10 the lowest, as chronyd fills them
    for (let i = from; i < from + count; i++) s += (n.flags >> (9 - i)) & 1 ? "1" : "0";
    return s;
  };
  const yn = (b: boolean) => (b ? "Yes" : "No");
  const tx = TSS[String.fromCharCode(n.txTssChar)] ?? "Invalid";
  const rx = TSS[String.fromCharCode(n.rxTssChar)] ?? "Invalid";
  const leap = LEAP[n.leap] ?? "Invalid";
  const mode = NTP_MODE[n.mode] ?? "Invalid";
  const v = [
    ra,
    hex8(addressRefId(n.remoteAddress)),
    n.remotePort,
    la,
    hex8(addressRefId(n.localAddress)),
    leap,
    n.version,
    mode,
    n.stratum,
  ];
  if (csv) {
    return [
      ...v,
      n.poll,
      f(2 ** n.poll, 0),
      n.precision,
      f(2 ** n.precision, 9),
      f(n.rootDelay, 6),
      f(n.rootDispersion, 6),
      hex8(n.refId),
      refIdName(n.refId),
      csvTime(n.refTime),
      f(n.offset, 9),
      f(n.peerDelay, 9),
      f(n.peerDispersion, 9),
      f(n.responseTime, 9),
      f(n.jitterAsymmetry, 2),
      bits(0, 3),
      bits(3, 3),
      bits(6, 4),
      yn((n.flags & 0x4000) !== 0),
      yn((n.flags & 0x8000) !== 0),
      tx,
      rx,
      n.totalTxCount,
      n.totalRxCount,
      n.totalValidCount,
      n.totalGoodCount,
      // chronyc 4.6+: the timestamp sources of the NTP_DATA2 reply
      ...(v2 ? [n.totalKernelTxTs, n.totalKernelRxTs, n.totalHwTxTs, n.totalHwRxTs] : []),
    ].join(",") + "\n";
  }
  return `\nRemote address  : ${ra} (${v[1]})\n` +
    `Remote port     : ${n.remotePort}\n` +
    `Local address   : ${la} (${v[4]})\n` +
    `Leap status     : ${leap}\n` +
    `Version         : ${n.version}\n` +
    `Mode            : ${mode}\n` +
    `Stratum         : ${n.stratum}\n` +
    `Poll interval   : ${n.poll} (${f(2 ** n.poll, 0)} seconds)\n` +
    `Precision       : ${n.precision} (${f(2 ** n.precision, 9)} seconds)\n` +
    `Root delay      : ${f(n.rootDelay, 6)} seconds\n` +
    `Root dispersion : ${f(n.rootDispersion, 6)} seconds\n` +
    `Reference ID    : ${hex8(n.refId)} (${refIdName(n.refId)})\n` +
    `Reference time  : ${formatUtc(n.refTime)}\n` +
    `Offset          : ${f(n.offset, 9, 0, true)} seconds\n` +
    `Peer delay      : ${f(n.peerDelay, 9)} seconds\n` +
    `Peer dispersion : ${f(n.peerDispersion, 9)} seconds\n` +
    `Response time   : ${f(n.responseTime, 9)} seconds\n` +
    `Jitter asymmetry: ${f(n.jitterAsymmetry, 2, 0, true)}\n` +
    `NTP tests       : ${bits(0, 3)} ${bits(3, 3)} ${bits(6, 4)}\n` +
    `Interleaved     : ${yn((n.flags & 0x4000) !== 0)}\n` +
    `Authenticated   : ${yn((n.flags & 0x8000) !== 0)}\n` +
    `TX timestamping : ${tx}\n` +
    `RX timestamping : ${rx}\n` +
    `Total TX        : ${n.totalTxCount}\n` +
    `Total RX        : ${n.totalRxCount}\n` +
    `Total valid RX  : ${n.totalValidCount}\n` +
    `Total good RX   : ${n.totalGoodCount}\n` +
    (v2
      ? `Total kernel TX : ${n.totalKernelTxTs}\n` +
        `Total kernel RX : ${n.totalKernelRxTs}\n` +
        `Total HW TX     : ${n.totalHwTxTs}\n` +
        `Total HW RX     : ${n.totalHwRxTs}\n`
      : "");
}

/** Legend of `authdata -v` (horae's wording, chronyc's line layout). */
export const AUTHDATA_LEGEND = [
  "                             .- Method: NTS, or SK for a symmetric key",
  "                            |   Key size   -.  Cookie size (bytes)   -.",
  "                            |      in bits  |  Cookies held    --.    |",
  "                            |               |  NTS-KE attempts    |   |",
  "                            |               |           |         |   |",
];

/** Header of `authdata`. */
export const AUTHDATA_HEADER =
  "Name/IP address             Mode KeyID Type KLen Last Atmp  NAK Cook CLen\n" +
  "=".repeat(73) + "\n";

/** One `authdata` row. */
export function formatAuthData(a: AuthDataReport, name: string, csv: boolean): string {
  const mode = ["-", "SK", "NTS"][a.mode] ?? "?";
  const cols = [a.keyId, a.keyType, a.keyLength, a.lastKeAgo, a.keAttempts, a.nak, a.cookies];
  if (csv) return [name, mode, ...cols, a.cookieLength].join(",") + "\n";
  const n = (x: number, w: number) => String(x).padStart(w);
  return `${name.slice(0, 27).padEnd(27)} ${mode.padStart(4)} ${n(a.keyId, 5)} ${n(a.keyType, 4)} ${
    n(a.keyLength, 4)
  } ${formatInterval(a.lastKeAgo)} ${n(a.keAttempts, 4)} ${n(a.nak, 4)} ${n(a.cookies, 4)} ${
    n(a.cookieLength, 4)
  }\n`;
}

/** Legend of `selectdata -v`. */
export const SELECTDATA_LEGEND = [
  "  . Code: N noselect option, s source unsynchronised, M too few samples,",
  " /        d/D distance over limit, ~ jitter over limit, w/W waiting for others,",
  "|         S stale, O orphan, T untrusted, P another source is preferred,",
  "|         U waiting for an update, x falseticker, + combined, * selected.",
  "|   Options in effect   ---------.  (N noselect, P prefer,",
  "|   Options from config ----.     \\  T trust, R require)",
  "|   Authenticated (Y/N) -.   \\     \\     Selection range --.",
  "|                        |    |     |                       |",
];

/** Header of `selectdata`. */
export const SELECTDATA_HEADER =
  "S Name/IP Address        Auth COpts EOpts Last Score     Interval  Leap\n" +
  "=".repeat(71) + "\n";

function opts(o: number): string {
  return (o & 1 ? "N" : "-") + (o & 2 ? "P" : "-") + (o & 4 ? "T" : "-") + (o & 8 ? "R" : "-") +
    "-";
}

/** One `selectdata` row. */
export function formatSelectData(s: SelectDataReport, name: string, csv: boolean): string {
  const leap = ["N", "+", "-", "?"][s.leap] ?? "?";
  const auth = s.authentication ? "Y" : "N";
  if (csv) {
    return [
      s.stateChar,
      name,
      auth,
      ...opts(s.confOptions).split(""),
      ...opts(s.effOptions).split(""),
      s.lastSampleAgo,
      f(s.score, 1),
      f(s.loLimit, 9),
      f(s.hiLimit, 9),
      LEAP[s.leap] ?? "Invalid",
    ].join(",") + "\n";
  }
  return `${s.stateChar} ${name.slice(0, 25).padEnd(25)} ${auth} ${opts(s.confOptions)} ${
    opts(s.effOptions)
  } ${formatInterval(s.lastSampleAgo)} ${f(s.score, 1, 5)} ${formatSignedShort(s.loLimit)} ${
    formatSignedShort(s.hiLimit)
  }  ${leap}\n`;
}

/** `rtcdata`: the RTC model (fast by seconds, gain in ppm). */
export function formatRtc(r: RtcReport, csv: boolean): string {
  if (csv) {
    return [
      csvTime(r.refTime),
      r.nSamples,
      r.nRuns,
      r.spanSeconds,
      f(r.rtcSecondsFast, 6), // chronyc -c: six decimals, as without -c
      f(r.rtcGainRatePpm, 3),
    ].join(",") + "\n";
  }
  return `RTC ref time (UTC) : ${formatUtc(r.refTime)}\n` +
    `Number of samples  : ${r.nSamples}\n` +
    `Number of runs     : ${r.nRuns}\n` +
    `Sample span period : ${formatInterval(r.spanSeconds)}\n` +
    `RTC is fast by     : ${f(r.rtcSecondsFast, 6, 12)} seconds\n` +
    `RTC gains time at  : ${f(r.rtcGainRatePpm, 3, 9)} ppm\n`;
}

/** `smoothing`: state of server time smoothing (offset s, frequencies ppm, times s). */
export function formatSmoothing(s: SmoothingReport, csv: boolean): string {
  if (csv) {
    return [
      s.active ? "Yes" : "No",
      s.leapOnly ? "(leap second only)" : "", // chronyc 4.3-4.8 -c print this, not Yes/No
      f(s.offset, 9),
      f(s.freqPpm, 6),
      f(s.wanderPpm, 6),
      f(s.lastUpdateAgo, 1),
      f(s.remainingTime, 1),
    ].join(",") + "\n";
  }
  // chronyc prints the space before the (empty) leap-only text too
  return `Active         : ${s.active ? "Yes" : "No"} ${s.leapOnly ? "(leap second only)" : ""}\n` +
    `Offset         : ${f(s.offset, 9, 0, true)} seconds\n` +
    `Frequency      : ${f(s.freqPpm, 6, 0, true)} ppm\n` +
    `Wander         : ${f(s.wanderPpm, 6, 0, true)} ppm per second\n` +
    `Last update    : ${f(s.lastUpdateAgo, 1)} seconds ago\n` +
    `Remaining time : ${f(s.remainingTime, 1)} seconds\n`;
}

/** `manual list`: the status line, header and one row per settime sample (offsets in s). */
export function formatManualList(samples: readonly ManualSample[], csv: boolean): string {
  let out = csv ? "" : `210 n_samples = ${samples.length}\n` +
    "#    Date     Time(UTC)    Slewed   Original   Residual\n" + "=".repeat(55) + "\n";
  samples.forEach((m, i) => {
    const d = new Date(Number(m.when / 1_000_000n));
    const p = (n: number) => String(n).padStart(2, "0");
    const when = `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ` +
      `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
    out += csv
      // chronyc -c prints the same date and time here, not seconds
      ? [i, when, f(m.slewedOffset, 2), f(m.origOffset, 2), f(m.residual, 2)].join(",") + "\n"
      : `${String(i).padStart(2)} ${when} ${f(m.slewedOffset, 2, 10)} ${f(m.origOffset, 2, 10)} ${
        f(m.residual, 2, 10)
      }\n`;
  });
  return out;
}

/** `settime` result: how far the clock was off and the new frequency. */
export function formatSettime(r: ManualTimestampReport): string {
  return `Clock was ${f(r.offset, 2)} seconds fast.  Frequency change = ${
    f(r.dfreqPpm, 2)
  }ppm, new frequency = ${f(r.newAfreqPpm, 2)}ppm\n`;
}
