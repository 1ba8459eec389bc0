/**
 * The measurement history of one source as a `dumpdir` file (chrony.conf(5)
 * dumpdir, chronyd(8) -r, chronyc(1) dump): the samples its statistics hold
 * (lib/clock/sourcestats.ts {@link StatsHistory}) and its reachability
 * register, so that a restart with `-r` starts from them. Pure: text in,
 * text out.
 *
 * The format is horae's own (chronyd's dump files are internal to chronyd
 * and neither reads the other's): UTF-8 lines, versioned by the first line.
 *
 * ```
 * horae-history 1
 * source 127.0.0.1            (the address, or refid:XXXXXXXX of a refclock)
 * reach 255
 * asymmetry-run 0
 * samples N
 * TIME OFFSET MEASURED STIME DELAY DISP RDELAY RDISP STRATUM LEAP   (N lines, oldest first)
 * end
 * ```
 *
 * TIME and STIME are nanoseconds since the Unix epoch on the local clock
 * (TIME corrected for clock changes since the sample, STIME as measured);
 * the others are seconds (shortest round-trip decimal) but STRATUM and LEAP.
 * {@link decodeHistory} refuses anything else (another version, chronyd's
 * own files, a truncated or edited file) with a {@link HistoryFormatError}.
 *
 * @example
 * ```ts
 * import { decodeHistory, encodeHistory } from "./history.ts";
 * const text = encodeHistory({ source: "192.0.2.1", reach: 255, stats: { samples: [], asymmetryRun: 0 } });
 * decodeHistory(text).reach; // 255
 * ```
 * @module
 */
import type { StatsHistory, StoredSample } from "./sourcestats.ts";
import type { LeapIndicator } from "./sample.ts";
import type { Timestamp } from "../time/timestamp.ts";

/** First word of a history file. */
export const HISTORY_MAGIC = "horae-history";
/** Version written and the only one read. */
export const HISTORY_VERSION = 1;
/** Most samples a file may hold (sourcestats' own limit). */
export const HISTORY_MAX_SAMPLES = 64;

/** One file's content. */
export interface SourceHistory {
  /** Whose history: the source's address, or `refid:XXXXXXXX` (hex) of a refclock. */
  source: string;
  /** Reachability register, 0..255. */
  reach: number;
  stats: StatsHistory;
}

/** A file that is not a history horae wrote (the message says why). */
export class HistoryFormatError extends Error {
  constructor(message: string, readonly line: number) {
    super(`line ${line}: ${message}`);
    this.name = "HistoryFormatError";
  }
}

/** The file's text. */
export function encodeHistory(h: SourceHistory): string {
  const lines = [
    `${HISTORY_MAGIC} ${HISTORY_VERSION}`,
    `source ${h.source}`,
    `reach ${h.reach & 0xff}`,
    `asymmetry-run ${h.stats.asymmetryRun}`,
    `samples ${h.stats.samples.length}`,
  ];
  for (const e of h.stats.samples) {
    const s = e.sample;
    lines.push(
      [
        e.time,
        e.offset,
        e.measuredOffset,
        s.time,
        s.peerDelay,
        s.peerDispersion,
        s.rootDelay,
        s.rootDispersion,
        s.stratum,
        s.leap,
      ].join(" "),
    );
  }
  lines.push("end");
  return lines.join("\n") + "\n";
}

const INT = /^-?\d{1,30}$/;
const FLOAT = /^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;

/**
 * Reads a file's text.
 * @throws {HistoryFormatError} when it is not a complete version-1 history
 */
export function decodeHistory(text: string): SourceHistory {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  let n = 0;
  const next = (): string[] => {
    const l = lines[n++];
    if (l === undefined) throw new HistoryFormatError("truncated", n);
    return l.split(" ");
  };
  const field = (name: string): string => {
    const f = next();
    if (f.length !== 2 || f[0] !== name) throw new HistoryFormatError(`expected ${name}`, n);
    return f[1]!;
  };
  const int = (v: string, lo: number, hi: number): number => {
    const x = INT.test(v) ? Number(v) : NaN;
    if (!(x >= lo && x <= hi)) throw new HistoryFormatError(`bad integer ${v}`, n);
    return x;
  };
  const num = (v: string): number => {
    const x = FLOAT.test(v) ? Number(v) : NaN;
    if (!Number.isFinite(x)) throw new HistoryFormatError(`bad number ${v}`, n);
    return x;
  };
  const time = (v: string): Timestamp => {
    if (!INT.test(v)) throw new HistoryFormatError(`bad time ${v}`, n);
    return BigInt(v);
  };
  const head = next();
  if (head[0] !== HISTORY_MAGIC || head.length !== 2) {
    throw new HistoryFormatError("not a horae history file", n);
  }
  if (head[1] !== String(HISTORY_VERSION)) {
    throw new HistoryFormatError(`unsupported version ${head[1]}`, n);
  }
  const source = field("source");
  if (source === "" || /[\s/]/.test(source)) throw new HistoryFormatError("bad source", n);
  const reach = int(field("reach"), 0, 255);
  const asymmetryRun = int(field("asymmetry-run"), -1e6, 1e6);
  const count = int(field("samples"), 0, HISTORY_MAX_SAMPLES);
  const samples: StoredSample[] = [];
  for (let i = 0; i < count; i++) {
    const f = next();
    if (f.length !== 10) throw new HistoryFormatError("bad sample", n);
    const t = time(f[0]!);
    if (samples.length > 0 && t < samples.at(-1)!.time) {
      throw new HistoryFormatError("samples out of order", n);
    }
    const measuredOffset = num(f[2]!);
    samples.push({
      time: t,
      offset: num(f[1]!),
      measuredOffset,
      sample: {
        time: time(f[3]!),
        offset: measuredOffset,
        peerDelay: num(f[4]!),
        peerDispersion: num(f[5]!),
        rootDelay: num(f[6]!),
        rootDispersion: num(f[7]!),
        stratum: int(f[8]!, 0, 16),
        leap: int(f[9]!, 0, 3) as LeapIndicator,
      },
    });
  }
  if (next().join(" ") !== "end") throw new HistoryFormatError("expected end", n);
  if (n !== lines.length) throw new HistoryFormatError("data after end", n + 1);
  return { source, reach, stats: { samples, asymmetryRun } };
}
