/**
 * Text of chronyd's log files (`log measurements statistics tracking
 * selection`, chrony.conf(5)): one formatter per file turning our engine's
 * values into a line laid out as chronyd 4.3 writes it, the banner (column
 * names between two rules of `=`), and the `logbanner` rule. Pure: no IO;
 * {@link LogWriter} in `log_writer.ts` does the files.
 *
 * The layouts were read from files the real chronyd 4.3 wrote as a client of
 * another chronyd on loopback: numbers are C printf style (`%10.3e` gives
 * ` 1.234e-05`, negative zero keeps its sign), times are UTC
 * `YYYY-MM-DD hh:mm:ss`, addresses are left-aligned in 15 columns and longer
 * ones push the rest of the line right.
 *
 * @example
 * ```ts
 * import { banner, trackingLine } from "./logfiles.ts";
 * const text = banner("tracking") + trackingLine({
 *   time: 1_795_000_000_000_000_000n, refId: 0x7f000001, address: "127.0.0.1",
 *   stratum: 2, frequency: -0.112, skew: 0.538, offset: -9.024e-7, leap: "normal",
 *   combined: 1, offsetSd: 4.389e-7, remainingCorrection: -2.578e-6,
 *   rootDelay: 3.588e-6, rootDispersion: 1.069e-6, maxError: 1.124e-5,
 * }) + "\n";
 * ```
 * @module
 */
import type { LeapStatus, TrackingLogEntry } from "../clock/reference.ts";
import type { LeapIndicator, Sample } from "../clock/sample.ts";
import { type SelectState, type SourceSelectOptions, STATE_LETTER } from "../clock/select.ts";
import { type SourceEstimate, UNKNOWN_SKEW } from "../clock/sourcestats.ts";
import type { NtpSourceReport, TestResults } from "../ntp/source.ts";
import { formatRefId, refIdToIpv4, refIdToText } from "../ntp/reference_id.ts";
import { REFID_LOCAL } from "../net/address.ts";
import { type Timestamp, toSecNsec } from "../time/timestamp.ts";

/** The log files horae writes, named after the file (`<kind>.log`). */
export type LogFileKind =
  | "measurements"
  | "statistics"
  | "tracking"
  | "selection"
  | "refclocks"
  | "tempcomp"
  | "rtc";

/** All file kinds with a known layout. */
export const LOG_FILE_KINDS: readonly LogFileKind[] = [
  "measurements",
  "statistics",
  "tracking",
  "selection",
  "refclocks",
  "tempcomp",
  "rtc",
];

/** Column names of each file, as chronyd 4.3 writes them (a data format). */
const COLUMNS: Readonly<Record<LogFileKind, string>> = {
  measurements: "   Date (UTC) Time     IP Address   L St 123 567 ABCD  LP RP Score" +
    "    Offset  Peer del. Peer disp.  Root del. Root disp. Refid     MTxRx",
  statistics: "   Date (UTC) Time     IP Address    Std dev'n Est offset  Offset sd" +
    "  Diff freq   Est skew  Stress  Ns  Bs  Nr  Asym",
  tracking: "   Date (UTC) Time     IP Address   St   Freq ppm   Skew ppm     Offset L Co" +
    "  Offset sd Rem. corr. Root delay Root disp. Max. error",
  selection: "   Date (UTC) Time     IP Address   S EOpts Reach Score Last sample" +
    "  Low end   High end",
  refclocks: "   Date (UTC) Time         Refid  DP L P  Raw offset   Cooked offset      Disp.",
  tempcomp: "   Date (UTC) Time        Temp.       Comp.",
  rtc: "   Date (UTC) Time   RTC fast (s) Val   Est fast (s)   Slope (ppm)  Ns  Nr Meas",
};

/**
 * The banner of a file: a rule of `=` as long as the column names, the
 * column names, the rule again; three lines, each ending in `\n`.
 */
export function banner(kind: LogFileKind): string {
  const names = COLUMNS[kind];
  const rule = "=".repeat(names.length);
  return `${rule}\n${names}\n${rule}\n`;
}

/**
 * Whether the banner goes before entry number `index` (0 = the first entry
 * written since the file was opened or reopened): every `logBanner` entries,
 * starting with the first; never when `logBanner` is 0 (chrony.conf(5)
 * `logbanner`: "0 can be used to disable it entirely", as chronyd 4.3 does).
 */
export function needsBanner(index: number, logBanner: number): boolean {
  return logBanner > 0 && index % logBanner === 0;
}

/**
 * The text to append for one entry: the banner when {@link needsBanner}, then
 * `line` and a newline.
 */
export function entryText(
  kind: LogFileKind,
  line: string,
  options: { index: number; logBanner: number },
): string {
  return (needsBanner(options.index, options.logBanner) ? banner(kind) : "") + line + "\n";
}

// ---------------------------------------------------------------------------
// printf-style number formatting

/** C's `%W.Pe`: mantissa with `precision` decimals, signed exponent of at least two digits. */
export function formatExp(value: number, precision: number, width = 0): string {
  let text: string;
  if (Number.isNaN(value)) text = "nan";
  else if (!Number.isFinite(value)) text = value < 0 ? "-inf" : "inf";
  else {
    const raw = expHalfEven(Math.abs(value), precision);
    const [mantissa = "0", exponent = "+0"] = raw.split("e");
    const sign = exponent.startsWith("-") ? "-" : "+";
    const digits = exponent.replace(/^[+-]/, "").padStart(2, "0");
    text = (isNegative(value) ? "-" : "") + `${mantissa}e${sign}${digits}`;
  }
  return text.padStart(width, " ");
}

/** C's `%W.Pf`, keeping the sign of negative zero (`-0.000`). */
export function formatFixed(value: number, precision: number, width = 0): string {
  let text: string;
  if (Number.isNaN(value)) text = "nan";
  else if (!Number.isFinite(value)) text = value < 0 ? "-inf" : "inf";
  else text = (isNegative(value) ? "-" : "") + Math.abs(value).toFixed(precision);
  return text.padStart(width, " ");
}

/**
 * `x.toExponential(precision)` with C's rounding of exact ties to even
 * (glibc prints 27500.5 as 2.7500e+04 where JavaScript gives 2.7501e+4).
 */
function expHalfEven(x: number, precision: number): string {
  const rounded = x.toExponential(precision);
  if (precision >= 100 || x === 0) return rounded;
  const exact = x.toExponential(100);
  const [digits = "", exponent = ""] = exact.split("e");
  const plain = digits.replace(".", "");
  const rest = plain.slice(precision + 1);
  if (!/^50*$/.test(rest)) return rounded;
  const last = Number(plain[precision]);
  if (last % 2 === 1) return rounded;
  const kept = plain.slice(0, precision + 1);
  return `${kept[0]}${precision > 0 ? "." + kept.slice(1) : ""}e${exponent}`;
}

function isNegative(value: number): boolean {
  return value < 0 || Object.is(value, -0);
}

/** C's `%Wd` of an integer (truncated toward zero). */
function formatInt(value: number, width: number): string {
  return Math.trunc(value).toString().padStart(width, " ");
}

/** `YYYY-MM-DD hh:mm:ss` in UTC, seconds truncated. */
export function formatLogTime(time: Timestamp): string {
  const { sec } = toSecNsec(time);
  return new Date(Number(sec) * 1000).toISOString().slice(0, 19).replace("T", " ");
}

/** The address column: left-aligned in 15 characters (longer names are kept whole). */
function formatName(name: string): string {
  return name.padEnd(15, " ");
}

/** Leap column: N normal, + insert, - delete, ? unsynchronised. */
function leapChar(leap: LeapIndicator | LeapStatus): string {
  switch (leap) {
    case 0:
    case "normal":
      return "N";
    case 1:
    case "insert":
      return "+";
    case 2:
    case "delete":
      return "-";
    default:
      return "?";
  }
}

function bits(tests: readonly boolean[]): string {
  return tests.map((pass) => (pass ? "1" : "0")).join("");
}

// ---------------------------------------------------------------------------
// measurements.log

/** Where a local timestamp came from: D daemon, K kernel, H hardware. */
export type TimestampSource = "daemon" | "kernel" | "hardware";

const TS_SOURCE_CHAR: Readonly<Record<TimestampSource, string>> = {
  daemon: "D",
  kernel: "K",
  hardware: "H",
};

/** One line of measurements.log: one response of an NTP source. */
export interface MeasurementLogEntry {
  /** Time of the entry (the local receive time of the response). */
  time: Timestamp;
  /** Source address ("192.0.2.1", "2001:db8::1"). */
  address: string;
  /** Leap indicator of the response. */
  leap: LeapIndicator;
  /** Stratum of the response. */
  stratum: number;
  /** Packet tests 1-3, 5-7, A-D (true = pass). */
  tests: TestResults;
  /** Our poll, log2 s (LP). */
  poll: number;
  /** The response's poll, log2 s (RP). */
  remotePoll: number;
  /** Poll adaptation score, -1..1 (Score). */
  score: number;
  /**
   * Local clock minus source, seconds (our {@link Sample} convention). The
   * Offset column prints chrony's theta, `-offset` (positive = local slow).
   */
  offset: number;
  /** Round-trip delay (δ), seconds. */
  peerDelay: number;
  /** Peer dispersion (ε), seconds. */
  peerDispersion: number;
  /** Root delay of the response, seconds. */
  rootDelay: number;
  /** Root dispersion of the response, seconds. */
  rootDispersion: number;
  /** Reference ID of the response. */
  refId: number;
  /** NTP mode of the response: 4 server, 1 active peer, 2 passive peer. */
  mode: 1 | 2 | 4;
  /** Interleaved (I) or basic (B) exchange. */
  interleaved: boolean;
  /** Source of our transmit timestamp. */
  txSource: TimestampSource;
  /** Source of our receive timestamp. */
  rxSource: TimestampSource;
}

/**
 * One line of measurements.log, e.g.
 * `2026-11-23 11:10:14 127.0.0.1       N  1 111 111 1111   0  0 0.00 -2.347e-06  7.408e-06  3.370e-07  0.000e+00  0.000e+00 7F7F0101 4B K K`.
 */
export function measurementsLine(e: MeasurementLogEntry): string {
  return [
    formatLogTime(e.time),
    formatName(e.address),
    leapChar(e.leap),
    formatInt(e.stratum, 2),
    bits(e.tests.t123),
    bits(e.tests.t567),
    bits(e.tests.tABCD),
    formatInt(e.poll, 3),
    formatInt(e.remotePoll, 2),
    formatFixed(e.score, 2, 4),
    formatExp(0 - e.offset, 3, 10),
    formatExp(e.peerDelay, 3, 10),
    formatExp(e.peerDispersion, 3, 10),
    formatExp(e.rootDelay, 3, 10),
    formatExp(e.rootDispersion, 3, 10),
    formatRefId(e.refId),
    `${e.mode}${e.interleaved ? "I" : "B"}`,
    TS_SOURCE_CHAR[e.txSource],
    TS_SOURCE_CHAR[e.rxSource],
  ].join(" ");
}

/**
 * A measurement entry from a source's report and the sample its last
 * response made (a valid measurement); our timestamps come from the daemon
 * unless `txSource`/`rxSource` say otherwise.
 */
export function measurementFromReport(
  report: NtpSourceReport,
  sample: Sample,
  options: { time?: Timestamp; txSource?: TimestampSource; rxSource?: TimestampSource } = {},
): MeasurementLogEntry {
  return {
    time: options.time ?? report.localRx ?? sample.time,
    address: report.address,
    leap: report.leap,
    stratum: report.stratum,
    tests: report.tests,
    poll: report.poll,
    remotePoll: report.remotePoll,
    score: report.pollScore,
    offset: sample.offset,
    peerDelay: sample.peerDelay,
    peerDispersion: sample.peerDispersion,
    rootDelay: report.rootDelay,
    rootDispersion: report.rootDispersion,
    refId: report.refId,
    mode: report.mode === "active" ? 1 : 4,
    interleaved: report.interleaved,
    txSource: options.txSource ?? "daemon",
    rxSource: options.rxSource ?? "daemon",
  };
}

// ---------------------------------------------------------------------------
// statistics.log

/** One line of statistics.log: the regression of one source after a sample. */
export interface StatisticsLogEntry {
  /** Time of the entry. */
  time: Timestamp;
  /** Source address or refclock name. */
  address: string;
  /** Residual standard deviation ("Std dev'n"), seconds. */
  stdDev: number;
  /** Estimated local minus source ("Est offset", positive = local fast), seconds. */
  offset: number;
  /** Standard error of `offset` ("Offset sd"), seconds. */
  offsetSd: number;
  /** Rate the local clock gains on the source ("Diff freq"), s/s. */
  frequency: number;
  /** Error bound of `frequency` ("Est skew"), s/s. */
  skew: number;
  /** |old frequency - new frequency| / old skew ("Stress"). */
  stress: number;
  /**
   * Samples the regression was given (Ns), those it dropped included: as
   * chronyd 4.3, the next entry's Ns is `samples - start + 1`.
   */
  samples: number;
  /** The new starting index (Bs): samples dropped by this regression, 0 = none. */
  start: number;
  /** Runs of residual signs over the samples kept (Nr). */
  runs: number;
  /** Jitter asymmetry used, -0.5..0.5 (Asym). */
  asymmetry: number;
}

/**
 * One line of statistics.log, e.g.
 * `2026-11-23 11:11:26 127.0.0.1        3.371e-07  1.592e-06  2.289e-07 -2.734e-06  1.087e-03 1.4e-03   3   0   3  0.00`.
 */
export function statisticsLine(e: StatisticsLogEntry): string {
  return [
    formatLogTime(e.time),
    formatName(e.address),
    formatExp(e.stdDev, 3, 10),
    formatExp(e.offset, 3, 10),
    formatExp(e.offsetSd, 3, 10),
    formatExp(e.frequency, 3, 10),
    formatExp(e.skew, 3, 10),
    formatExp(e.stress, 1, 7),
    formatInt(e.samples, 3),
    formatInt(e.start, 3),
    formatInt(e.runs, 3),
    formatFixed(e.asymmetry, 2, 5),
  ].join(" ");
}

/**
 * Fewest samples of a regression that statistics.log records: chronyd 4.3
 * writes no entry for a source's first two samples (no regression yet).
 */
export const STATISTICS_MIN_SAMPLES = 3;

/** Samples the regression of `estimate` was given (kept plus dropped). */
function regressed(estimate: SourceEstimate): number {
  return estimate.samples + (estimate.start ?? 0);
}

/** Whether statistics.log gets an entry for `estimate` ({@link STATISTICS_MIN_SAMPLES}). */
export function wantsStatistics(estimate: SourceEstimate): boolean {
  return regressed(estimate) >= STATISTICS_MIN_SAMPLES;
}

/**
 * A statistics entry from a `SourceStats` estimate. Stress is
 * |previous.frequency - estimate.frequency| / previous.skew, where a previous
 * estimate of fewer than {@link STATISTICS_MIN_SAMPLES} samples (or none)
 * counts as chronyd's state before its first regression: frequency 0, skew
 * {@link UNKNOWN_SKEW}. Ns and Bs come from the estimate (`samples` plus
 * `start` dropped, and `start`) unless `start` is given.
 */
export function statisticsFromEstimate(
  estimate: SourceEstimate,
  options: {
    address: string;
    time?: Timestamp;
    previous?: SourceEstimate | null;
    start?: number;
    asymmetry?: number;
  },
): StatisticsLogEntry {
  const prev = options.previous ?? null;
  const [oldFrequency, oldSkew] = prev !== null && wantsStatistics(prev)
    ? [prev.frequency, prev.skew]
    : [0, UNKNOWN_SKEW];
  const stress = oldSkew > 0 ? Math.abs(oldFrequency - estimate.frequency) / oldSkew : 0;
  const start = options.start ?? estimate.start ?? 0;
  return {
    time: options.time ?? estimate.refTime,
    address: options.address,
    stdDev: estimate.stdDev,
    offset: estimate.offset,
    offsetSd: estimate.offsetSd,
    frequency: estimate.frequency,
    skew: estimate.skew,
    stress,
    samples: estimate.samples + start,
    start,
    runs: estimate.runs,
    asymmetry: options.asymmetry ?? estimate.asymmetry ?? 0,
  };
}

// ---------------------------------------------------------------------------
// tracking.log

/**
 * The address column of a tracking entry without an address: a refclock's
 * reference ID as text ("GPS", as chronyd 4.3 writes it), else the ID as a
 * dotted quad (`0.0.0.0` unsynchronised, the local reference's 127.127.1.1).
 */
function trackingName(refId: number): string {
  return refId === 0 || refId === REFID_LOCAL ? refIdToIpv4(refId) : refIdToText(refId);
}

/**
 * One line of tracking.log from the reference's entry, e.g.
 * `2026-11-23 11:11:33 127.0.0.1        2     -0.112      0.538 -9.024e-07 N  1  4.389e-07 -2.578e-06  3.588e-06  1.069e-06  1.124e-05`.
 * The address column is `entry.address`, else a refclock's name or the
 * reference ID as a dotted quad (`0.0.0.0` while unsynchronised, as chronyd).
 */
export function trackingLine(e: TrackingLogEntry): string {
  return [
    formatLogTime(e.time),
    formatName(e.address ?? trackingName(e.refId)),
    formatInt(e.stratum, 2),
    formatFixed(e.frequency, 3, 10),
    formatFixed(e.skew, 3, 10),
    formatExp(e.offset, 3, 10),
    leapChar(e.leap),
    formatInt(e.combined, 2),
    formatExp(e.offsetSd, 3, 10),
    formatExp(e.remainingCorrection, 3, 10),
    formatExp(e.rootDelay, 3, 10),
    formatExp(e.rootDispersion, 3, 10),
    formatExp(e.maxError, 3, 10),
  ].join(" ");
}

/**
 * The entry chronyd 4.3 writes to tracking.log when it starts (before any
 * update): unsynchronised, reference 0.0.0.0, stratum 0, the frequency and
 * skew it starts from (the driftfile's, else the clock's with skew
 * 1000000 ppm), root delay and dispersion 1 s, maximum error 1.5 s.
 */
export function startTrackingEntry(
  time: Timestamp,
  frequency: number,
  skew: number,
): TrackingLogEntry {
  return {
    time,
    refId: 0,
    address: null,
    stratum: 0,
    frequency,
    skew,
    offset: 0,
    leap: "unsynchronised",
    combined: 0,
    offsetSd: 0,
    remainingCorrection: -0,
    rootDelay: 1,
    rootDispersion: 1,
    maxError: 1.5,
  };
}

// ---------------------------------------------------------------------------
// selection.log

/** One line of selection.log: one source after one selection. */
export interface SelectionLogEntry {
  /** Time of the selection. */
  time: Timestamp;
  /** Source address, refclock name, or {@link unresolvedName} of a source without one. */
  name: string;
  /** State after selection (its selectdata letter is printed). */
  state: SelectState;
  /** Effective selection options (EOpts). */
  options: SourceSelectOptions;
  /** Reach register, 0..255 (printed in octal). */
  reach: number;
  /** Reselection score against the selected source (1.00 when unused). */
  score: number;
  /** Seconds since the source's last sample ("Last sample"). */
  lastSampleAgo: number;
  /** Low end of the interval holding the true offset (local minus true), seconds. */
  low: number;
  /** High end of that interval, seconds. */
  high: number;
}

/**
 * EOpts: five characters, `-` or the option letter; chronyd 4.3 writes
 * noselect, prefer, trust, require in positions 2-5 (`-N---`, `--PTR`); the
 * first position stays `-`.
 */
export function selectionOptions(o: SourceSelectOptions): string {
  return "-" + (o.noselect ? "N" : "-") + (o.prefer ? "P" : "-") + (o.trust ? "T" : "-") +
    (o.require ? "R" : "-");
}

/** Name chronyd logs for a source with no address yet: `ID#` and its index in 10 digits. */
export function unresolvedName(index: number): string {
  return `ID#${index.toString().padStart(10, "0")}`;
}

/**
 * One line of selection.log, e.g.
 * `2026-11-23 11:11:26 127.0.0.1       * --PTR    7  1.00  4.568e-05 -1.832e-06  5.039e-06`.
 */
export function selectionLine(e: SelectionLogEntry): string {
  return [
    formatLogTime(e.time),
    formatName(e.name),
    STATE_LETTER[e.state],
    selectionOptions(e.options),
    (e.reach & 0xff).toString(8).padStart(4, " "),
    formatFixed(e.score, 2, 5),
    formatExp(e.lastSampleAgo, 3, 10),
    formatExp(e.low, 3, 10),
    formatExp(e.high, 3, 10),
  ].join(" ");
}

// ---------------------------------------------------------------------------
// refclocks.log

/**
 * One line of refclocks.log: a raw sample of a driver (with `dp`, its
 * driver poll within the polling interval) or a filtered one (`dp` null).
 * Offsets are reference minus local clock (positive: the local clock is
 * slow), as chrony.conf(5) describes the columns.
 */
export interface RefclockLogEntry {
  /** Local time of the sample. */
  time: Timestamp;
  /** Reference ID text of the refclock. */
  refId: string;
  /** Driver poll within the interval; null for a filtered sample. */
  dp: number | null;
  leap: LeapIndicator;
  /** Raw samples: whether it is a pulse. */
  pulse: boolean;
  /** Raw samples: the driver's measurement, reference minus local, seconds. */
  rawOffset: number;
  /** After the offset option and PPS completion, reference minus local, seconds. */
  cookedOffset: number;
  /** Seconds. */
  dispersion: number;
}

/**
 * One line of refclocks.log as chronyd 4.3 writes it (read from its file
 * fed through a SOCK refclock), e.g.
 * `2026-12-04 21:11:01.598776 GPS     0 N 0 -2.250000e-06 -2.250000e-06  2.000e-08`;
 * a filtered sample has `-` in the DP, P and raw offset columns.
 */
export function refclocksLine(e: RefclockLogEntry): string {
  const { nsec } = toSecNsec(e.time);
  const when = `${formatLogTime(e.time)}.${Math.floor(nsec / 1000).toString().padStart(6, "0")}`;
  const filtered = e.dp === null;
  return `${when} ${e.refId.padEnd(5, " ")} ${filtered ? "  -" : formatInt(e.dp!, 3)} ` +
    `${leapChar(e.leap)} ${filtered ? "-" : e.pulse ? "1" : "0"} ` +
    `${filtered ? "      -      " : formatExp(e.rawOffset, 6, 13)} ` +
    `${formatExp(e.cookedOffset, 6, 13)} ${formatExp(e.dispersion, 3, 10)}`;
}

/** A `tempcomp.log` line: time, sensor temperature, compensation applied (ppm). */
export function tempCompLine(time: Timestamp, temp: number, comp: number): string {
  return `${formatLogTime(time)} ${formatExp(temp, 4, 11)} ${formatExp(comp, 4, 11)}`;
}
