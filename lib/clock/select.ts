/**
 * Source selection and combining: which sources agree (intersection of their
 * intervals, RFC 5905 §11.2.1, Marzullo style), which one is best, which
 * others are combined with it, and the resulting {@linkcode ReferenceUpdate}.
 * Behaviour follows chrony.conf(5) (`minsources`, `stratumweight`,
 * `reselectdist`, `combinelimit`, `maxdistance`, `maxjitter`; source options
 * `noselect`, `prefer`, `trust`, `require`) and the states of chronyc(1)
 * `sources` and `selectdata`.
 *
 * @example
 * ```ts
 * import { selectSources } from "./select.ts";
 * const result = selectSources([], {}, 0n);
 * result.selected; // null
 * result.events; // [] (nothing was selected, no source has made 8 polls yet)
 * ```
 * @module
 */
import type { LeapIndicator, ReferenceUpdate } from "./sample.ts";
import type { SelectionData } from "./sourcestats.ts";
import { addSeconds, type Timestamp } from "../time/timestamp.ts";

/** chrony.conf(5): minsources default 1. */
export const DEFAULT_MIN_SOURCES = 1;
/** chrony.conf(5): stratumweight default 0.001 s. */
export const DEFAULT_STRATUM_WEIGHT = 0.001;
/** chrony.conf(5): reselectdist default 100 µs. */
export const DEFAULT_RESELECT_DIST = 100e-6;
/** chrony.conf(5): combinelimit default 3. */
export const DEFAULT_COMBINE_LIMIT = 3;
/** chrony.conf(5): maxdistance default 3 s. */
export const DEFAULT_MAX_DISTANCE = 3;
/** chrony.conf(5): maxjitter default 1 s. */
export const DEFAULT_MAX_JITTER = 1;
/** Stratum at and above which a source is unsynchronised. RFC 5905 §7.3. */
const MAX_STRATUM = 16;

/** Per-source selection options (chrony.conf(5) `server` options). */
export interface SourceSelectOptions {
  /** Never select this source. */
  noselect?: boolean;
  /** Prefer this source over sources without the option. */
  prefer?: boolean;
  /** Assume its time is true; only another trusted source can outvote it. */
  trust?: boolean;
  /** No clock update unless at least one required source is selectable. */
  require?: boolean;
  /**
   * `maxunreach` (chrony.conf(5) 4.8): polls an unreachable source may stay
   * selectable; default {@link DEFAULT_MAX_UNREACH}.
   */
  maxUnreach?: number;
}

/** chrony.conf(5) 4.8: `maxunreach` default 100000 polls. */
export const DEFAULT_MAX_UNREACH = 100000;

/** Polls remembered by the reach register (RFC 5905 §13). */
const REACH_WINDOW_POLLS = 8;

/** One source offered to selection. */
export interface Candidate {
  /** Name used in events and reports (address or refclock name). */
  name: string;
  /** Reference ID of the source (for the ReferenceUpdate). */
  refId: number;
  /** IP address of an NTP source, null for a refclock. */
  address: string | null;
  /** Whether the source answered recently (reach register not zero). */
  reachable: boolean;
  /** Polls made since the reach register became zero (`ReachRegister.unreachablePolls`); absent: 0. */
  unreachablePolls?: number;
  /**
   * Reachability updates so far (answered polls, polls found unanswered),
   * as chronyd counts them towards a full 8-bit register; absent: 0. The
   * failure logged once at start waits for one source to reach 8.
   */
  reachUpdates?: number;
  /**
   * Current polling interval, seconds: a reachable source's samples count for
   * the staleness of unreachable ones only over its last 8 polls (the reach
   * register's span). Absent: all its samples count.
   */
  pollInterval?: number;
  /** Selection options of the source. */
  options: SourceSelectOptions;
  /**
   * Our own reference ID as this source sees us (the ID of our local
   * address towards it), for orphan mode; null or absent when unknown
   * (orphan-stratum sources are then never used).
   */
  localRefId?: number | null;
  /** `SourceStats.getSelectionData(now)`, or null with no samples. */
  data: SelectionData | null;
}

/** What the previous selection left behind (for hysteresis and event de-duplication). */
export interface SelectionMemory {
  /** Name of the source selected last time, or null. */
  selected: string | null;
  /** Reason synchronisation was impossible last time, or null. */
  noSyncReason: string | null;
  /**
   * Whether a source was selected or a failure logged since start (chronyd
   * 4.6+ logs one failure at start even with nothing ever selected).
   */
  startDone?: boolean;
  /** Sources last found over maxdistance or maxjitter (chronyd 4.7 logs each once when it turns so). */
  flagged?: readonly string[];
}

/** Global selection settings (chrony.conf(5)); all optional with chrony's defaults. */
export interface SelectOptions {
  /** `minsources`. */
  minSources?: number;
  /** `stratumweight`, seconds per stratum. */
  stratumWeight?: number;
  /** `reselectdist`, seconds. */
  reselectDist?: number;
  /** `combinelimit`. */
  combineLimit?: number;
  /** `maxdistance`, seconds. */
  maxDistance?: number;
  /** `maxjitter`, seconds. */
  maxJitter?: number;
  /** `local stratum N orphan`: the orphan stratum N; absent or null: not in orphan mode. */
  orphanStratum?: number | null;
  /** Result memory of the previous call. */
  previous?: SelectionMemory;
}

/**
 * Selection state of a source: names for code, `letter` as in chronyc(1)
 * `selectdata`, `mark` as in the S column of `chronyc sources`.
 */
export type SelectState =
  | "noselect"
  | "unsynchronised"
  | "unreachable"
  | "bad-stats"
  | "bad-distance"
  | "jittery"
  | "orphan"
  | "untrusted"
  | "falseticker"
  | "waits-sources"
  | "nonpreferred"
  | "distant"
  | "combined"
  | "selected";

/** selectdata letter of each state (chronyc(1)); "unreachable" uses S (stale data) by our choice. */
export const STATE_LETTER: Readonly<Record<SelectState, string>> = {
  "noselect": "N",
  "unsynchronised": "s",
  "unreachable": "S",
  "bad-stats": "M",
  "bad-distance": "d",
  "jittery": "~",
  "orphan": "O",
  "untrusted": "T",
  "falseticker": "x",
  "waits-sources": "W",
  "nonpreferred": "P",
  "distant": "D",
  "combined": "+",
  "selected": "*",
};

/** `chronyc sources` mark of each state (chronyc(1)). */
export const STATE_MARK: Readonly<Record<SelectState, string>> = {
  "noselect": "?",
  "unsynchronised": "?",
  "unreachable": "?",
  "bad-stats": "?",
  "bad-distance": "~",
  "jittery": "~",
  "orphan": "?",
  "untrusted": "x",
  "falseticker": "x",
  "waits-sources": "-",
  "nonpreferred": "-",
  "distant": "-",
  "combined": "+",
  "selected": "*",
};

/** Selection outcome of one source. */
export interface SourceStatus {
  /** State name. */
  state: SelectState;
  /** selectdata letter. */
  letter: string;
  /** sources mark. */
  mark: string;
  /** Score used to pick the best source (distance + stratum weight + reselect penalty), s; null if not scored. */
  score: number | null;
  /** Why the source is in this state, for people (e.g. "distance 1.6 s over maxdistance 3 s"). */
  reason: string;
}

/** Something to log, as a value. */
export type SelectEvent =
  | { kind: "selected"; source: string; message: string }
  | { kind: "no-sync"; reason: string; message: string }
  | { kind: "limit"; source: string; message: string };

/** Result of {@linkcode selectSources}. */
export interface SelectResult {
  /** Status per candidate, same order as the input. */
  statuses: SourceStatus[];
  /** Index of the selected candidate, or null. */
  selected: number | null;
  /** Estimate for the reference, or null when the clock must not be updated. */
  update: ReferenceUpdate | null;
  /** Events to log (selection changes, loss of synchronisation). */
  events: SelectEvent[];
  /** Pass as `previous` to the next call. */
  memory: SelectionMemory;
}

/** Reasons reported when no update is possible (chronyd log texts). */
export const NO_SYNC = {
  noSelectable: "no selectable sources",
  noMajority: "no majority",
  notEnough: "not enough selectable sources",
  noRequired: "no required source selectable",
} as const;

function status(state: SelectState, reason: string, score: number | null = null): SourceStatus {
  return { state, letter: STATE_LETTER[state], mark: STATE_MARK[state], score, reason };
}

/** A duration in seconds for people: "1.6 s", "12 ms", "340 µs", "85 ns". */
export function humanSeconds(s: number): string {
  const a = Math.abs(s);
  const [v, unit] = a >= 1 || a === 0
    ? [s, "s"]
    : a >= 1e-3
    ? [s * 1e3, "ms"]
    : a >= 1e-6
    ? [s * 1e6, "µs"]
    : [s * 1e9, "ns"];
  return `${Number(v.toPrecision(2))} ${unit}`;
}

/**
 * A generic explanation of a selection state from its selectdata letter alone
 * (what `chronyc -j` can say: the command protocol carries no reasons).
 */
export function reasonOfLetter(letter: string): string {
  const state = (Object.keys(STATE_LETTER) as SelectState[]).find((k) =>
    STATE_LETTER[k] === letter
  );
  return state ? GENERIC_REASON[state] : "state unknown to this version";
}

const GENERIC_REASON: Readonly<Record<SelectState, string>> = {
  "noselect": "noselect option: never selected",
  "unsynchronised": "the source says it is not synchronised",
  "unreachable": "unreachable: no reply to the recent requests",
  "bad-stats": "too few samples yet",
  "bad-distance": "root distance over maxdistance",
  "jittery": "jitter over maxjitter",
  "orphan": "orphan stratum: not used while other sources are usable",
  "untrusted": "its interval does not overlap the trusted sources'",
  "falseticker": "falseticker: its interval does not overlap the majority's",
  "waits-sources": "waiting for enough agreeing (or required) sources",
  "nonpreferred": "other sources have the prefer option",
  "distant": "agrees but too far (distance or frequency) to be combined",
  "combined": "combined with the selected source",
  "selected": "selected: the best score among agreeing sources",
};

/**
 * Interval intersection: finds the region covered by the most intervals,
 * trusted intervals counting first (lexicographic (trusted, all)). Touching
 * intervals overlap. Returns the region and its depth.
 */
export function intersect(
  intervals: readonly { lo: number; hi: number; trusted: boolean }[],
): { lo: number; hi: number; depth: number; trustDepth: number } | null {
  type Edge = { at: number; open: boolean; trusted: boolean };
  const edges: Edge[] = [];
  for (const iv of intervals) {
    edges.push({ at: iv.lo, open: true, trusted: iv.trusted });
    edges.push({ at: iv.hi, open: false, trusted: iv.trusted });
  }
  // Openings before closings at the same point: closed intervals.
  edges.sort((a, b) => a.at - b.at || (a.open === b.open ? 0 : a.open ? -1 : 1));
  let depth = 0, trustDepth = 0;
  let best: { lo: number; hi: number; depth: number; trustDepth: number } | null = null;
  let open = false;
  for (const e of edges) {
    if (e.open) {
      depth++;
      if (e.trusted) trustDepth++;
      if (
        best === null || trustDepth > best.trustDepth ||
        (trustDepth === best.trustDepth && depth > best.depth)
      ) {
        best = { lo: e.at, hi: e.at, depth, trustDepth };
        open = true;
      }
    } else {
      if (open && best !== null) {
        best.hi = e.at;
        open = false;
      }
      depth--;
      if (e.trusted) trustDepth--;
    }
  }
  return best;
}

function overlaps(d: SelectionData, lo: number, hi: number): boolean {
  return d.lo <= hi && d.hi >= lo;
}

function weightedMean(w: readonly number[], v: readonly number[], sumW: number): number {
  let s = 0;
  for (let i = 0; i < w.length; i++) s += w[i]! * v[i]!;
  return s / sumW;
}

/**
 * Selects the synchronisation source among `candidates` and combines the
 * agreeing sources close enough to it.
 *
 * Steps: mark unusable sources (noselect, no data, unreachable, unsynchronised,
 * too few samples, distance > maxdistance, stddev > maxjitter); intersect the
 * intervals `offset ± rootDistance` of the rest; sources outside the largest
 * agreeing set are falsetickers (`untrusted` when trusted sources exist); no
 * update without a majority (more than half, or a trusted source in the set),
 * with fewer than `minsources` agreeing, or when `require` sources exist and
 * none agrees. The best source has the least `rootDistance + stratumWeight *
 * stratum`, with `reselectDist` added to all but the previously selected
 * source; `prefer` sources are chosen over the rest. Agreeing sources with
 * distance below `combineLimit` times the selected one's and a frequency
 * within `combineLimit * (skew + selected skew)` of it are combined, weighted
 * by 1 / rootDistance. Root delay and dispersion are the selected source's.
 *
 * @param now local time at which the candidates' data were taken
 */
export function selectSources(
  candidates: readonly Candidate[],
  options: SelectOptions,
  now: Timestamp,
): SelectResult {
  const minSources = options.minSources ?? DEFAULT_MIN_SOURCES;
  const stratumWeight = options.stratumWeight ?? DEFAULT_STRATUM_WEIGHT;
  const reselectDist = options.reselectDist ?? DEFAULT_RESELECT_DIST;
  const combineLimit = options.combineLimit ?? DEFAULT_COMBINE_LIMIT;
  const maxDistance = options.maxDistance ?? DEFAULT_MAX_DISTANCE;
  const maxJitter = options.maxJitter ?? DEFAULT_MAX_JITTER;
  const previous = options.previous ?? { selected: null, noSyncReason: null };

  // An unreachable source stays usable only while its newest sample is more
  // recent than the oldest sample of the reachable sources (chrony.conf(5),
  // maxunreach), and for at most `maxunreach` polls. Only a reachable
  // source's samples of its last 8 polls count (our reading of chronyd 4.8:
  // with two refclocks of equal poll, the one that stops is unselected as
  // soon as it is unreachable; with the other polling 4 times slower, it
  // stays selected).
  let oldestReachable: Timestamp | null = null;
  for (const c of candidates) {
    if (!c.reachable || c.options.noselect || c.data === null) continue;
    let t = c.data.firstSampleTime;
    if (c.pollInterval !== undefined) {
      const windowStart = addSeconds(now, -REACH_WINDOW_POLLS * c.pollInterval);
      if (windowStart > t) t = windowStart;
    }
    if (oldestReachable === null || t < oldestReachable) oldestReachable = t;
  }
  const statuses: SourceStatus[] = [];
  const usable: number[] = [];
  for (const [i, c] of candidates.entries()) {
    const d = c.data;
    let state: SelectState | null = null;
    let why = "";
    if (c.options.noselect) [state, why] = ["noselect", GENERIC_REASON.noselect];
    else if (d === null) [state, why] = ["bad-stats", "no samples yet"];
    else if (!c.reachable && (oldestReachable === null || d.lastSampleTime <= oldestReachable)) {
      [state, why] = ["unreachable", GENERIC_REASON.unreachable];
    } else if (
      !c.reachable && (c.unreachablePolls ?? 0) > (c.options.maxUnreach ?? DEFAULT_MAX_UNREACH)
    ) {
      state = "unreachable";
      why = `unreachable for ${c.unreachablePolls} polls, over maxunreach ${
        c.options.maxUnreach ?? DEFAULT_MAX_UNREACH
      }`;
    } else if (d.leap === 3 || d.stratum >= MAX_STRATUM) {
      state = "unsynchronised";
      why = d.leap === 3
        ? "the source says it is not synchronised (leap status alarm)"
        : `the source says it is not synchronised (stratum ${d.stratum})`;
    } else if (!d.enoughSamples) {
      state = "bad-stats";
      why = `too few samples yet (${d.samples}${
        d.samplesNeeded !== undefined ? ` of ${d.samplesNeeded}` : ""
      })`;
    } else if (d.rootDistance > maxDistance) {
      state = "bad-distance";
      why = `distance ${humanSeconds(d.rootDistance)} over maxdistance ${
        humanSeconds(maxDistance)
      }`;
    } else if (d.stdDev > maxJitter) {
      state = "jittery";
      why = `jitter ${humanSeconds(d.stdDev)} over maxjitter ${humanSeconds(maxJitter)}`;
    }
    statuses.push(status(state ?? "waits-sources", why));
    if (state === null) usable.push(i);
  }

  // chronyd 4.7 warns once when a source turns too distant or too jittery.
  const flagged = candidates.filter((_, i) =>
    statuses[i]!.state === "bad-distance" || statuses[i]!.state === "jittery"
  ).map((c) => c.name);
  const limitEvents: SelectEvent[] = [];
  for (const [i, c] of candidates.entries()) {
    const st = statuses[i]!.state;
    if (previous.flagged?.includes(c.name) || !flagged.includes(c.name)) continue;
    limitEvents.push({
      kind: "limit",
      source: c.name,
      message: st === "bad-distance"
        ? `Root distance of ${c.name} exceeds maxdistance of ${maxDistance.toFixed(3)} seconds`
        : `Jitter of ${c.name} exceeds maxjitter of ${maxJitter.toFixed(3)} seconds`,
    });
  }
  // What the failure logged once at start waits for (as observed with
  // chronyd 4.8): one source with a full reach register (8 updates) and, for
  // "no selectable sources", an unreachable source to count.
  const unreachable = candidates.filter((c) => !c.options.noselect && !c.reachable).length;
  const pollsDone = candidates.some((c) => (c.reachUpdates ?? 0) >= REACH_WINDOW_POLLS);
  // Sources that answer but are still collecting their first samples.
  const warmingUp =
    statuses.filter((st, i) => st.state === "bad-stats" && candidates[i]!.reachable).length;
  const fail = (
    reason: string,
    selectedState: SelectState | null,
    quiet = false,
    why = "",
    detail = "",
  ): SelectResult => {
    if (selectedState !== null) {
      for (const i of usable) statuses[i] = status(selectedState, why);
    }
    // Waiting for sources still warming up is not worth a log line; a failure
    // is logged when it unselects a selected source (chronyd 4.3) and, once,
    // at start when nothing was selected yet (chronyd 4.6+): a majority
    // failure at once, the others when a source has made 8 polls.
    const startReady = reason === NO_SYNC.noMajority ||
      (pollsDone && (reason !== NO_SYNC.noSelectable || unreachable > 0));
    const logged = !quiet &&
      (previous.selected !== null
        ? previous.noSyncReason !== reason
        : !previous.startDone && startReady);
    const events: SelectEvent[] = !logged ? limitEvents : [...limitEvents, {
      kind: "no-sync",
      reason,
      message: `Can't synchronise: ${reason}${detail}`,
    }];
    return {
      statuses,
      selected: null,
      update: null,
      events,
      memory: {
        selected: null,
        noSyncReason: quiet ? previous.noSyncReason : reason,
        startDone: (previous.startDone ?? false) || logged,
        flagged,
      },
    };
  };

  orphanFilter(candidates, usable, statuses, options.orphanStratum ?? null);
  if (usable.length === 0) {
    // chronyd 4.7 counts the unreachable sources
    const detail = unreachable > 0 ? ` (${unreachable} unreachable sources)` : "";
    return fail(NO_SYNC.noSelectable, null, false, "", detail);
  }

  const dataOf = (i: number): SelectionData => candidates[i]!.data!;
  const region = intersect(usable.map((i) => ({
    lo: dataOf(i).lo,
    hi: dataOf(i).hi,
    trusted: candidates[i]!.options.trust === true,
  })));
  const anyTrusted = usable.some((i) => candidates[i]!.options.trust === true);
  // Sources still warming up count towards the majority: otherwise the first
  // sources to become selectable (possibly the falsetickers) could outvote
  // the rest at start-up.
  const majorityOf = usable.length + warmingUp;
  if (region === null || (region.trustDepth === 0 && 2 * region.depth <= majorityOf)) {
    const onlyWaiting = region !== null && 2 * region.depth > usable.length;
    const depth = region?.depth ?? 0;
    return onlyWaiting
      ? fail(
        NO_SYNC.noMajority,
        "waits-sources",
        true,
        `waiting for a majority: ${warmingUp} of ${majorityOf} sources still collect samples`,
      )
      : fail(
        NO_SYNC.noMajority,
        "falseticker",
        false,
        `no majority: at most ${depth} of ${majorityOf} sources agree`,
        depth <= 1
          ? ` (no agreement among ${majorityOf} sources)`
          : ` (only ${depth} of ${majorityOf} sources agree)`,
      );
  }
  const agreeing: number[] = [];
  for (const i of usable) {
    if (overlaps(dataOf(i), region.lo, region.hi)) agreeing.push(i);
    else {
      const untrusted = anyTrusted && candidates[i]!.options.trust !== true;
      statuses[i] = untrusted
        ? status("untrusted", GENERIC_REASON.untrusted)
        : status("falseticker", GENERIC_REASON.falseticker);
    }
  }

  const requiredExist = usable.some((i) => candidates[i]!.options.require === true);
  if (requiredExist && !agreeing.some((i) => candidates[i]!.options.require === true)) {
    for (const i of agreeing) {
      statuses[i] = status("waits-sources", "no source with the require option agrees");
    }
    return fail(NO_SYNC.noRequired, null);
  }
  if (agreeing.length < minSources) {
    for (const i of agreeing) {
      statuses[i] = status(
        "waits-sources",
        `${agreeing.length} agreeing source${
          agreeing.length === 1 ? "" : "s"
        }, minsources ${minSources}`,
      );
    }
    return fail(NO_SYNC.notEnough, null);
  }

  let pool = agreeing;
  if (agreeing.some((i) => candidates[i]!.options.prefer === true)) {
    pool = agreeing.filter((i) => candidates[i]!.options.prefer === true);
    for (const i of agreeing) {
      if (!pool.includes(i)) statuses[i] = status("nonpreferred", GENERIC_REASON.nonpreferred);
    }
  }

  let best = -1, bestScore = Infinity;
  const scores = new Map<number, number>();
  for (const i of pool) {
    const d = dataOf(i);
    const penalty = candidates[i]!.name === previous.selected ? 0 : reselectDist;
    const score = d.rootDistance + stratumWeight * d.stratum + penalty;
    scores.set(i, score);
    if (score < bestScore) {
      bestScore = score;
      best = i;
    }
  }
  const sel = dataOf(best);
  const combined: number[] = [best];
  for (const i of pool) {
    if (i === best) continue;
    const d = dataOf(i);
    const nearEnough = d.rootDistance < combineLimit * sel.rootDistance;
    const dFreq = Math.abs(d.frequency - sel.frequency);
    const close = nearEnough && dFreq <= combineLimit * (d.skew + sel.skew);
    if (close) {
      combined.push(i);
      statuses[i] = status("combined", GENERIC_REASON.combined, scores.get(i) ?? null);
    } else {
      const why = !nearEnough
        ? `not combined: distance ${
          humanSeconds(d.rootDistance)
        } over combinelimit ${combineLimit} × the selected source's ${
          humanSeconds(sel.rootDistance)
        }`
        : `not combined: frequency differs by ${
          Number((dFreq * 1e6).toPrecision(2))
        } ppm, over combinelimit ${combineLimit} × the skews`;
      statuses[i] = status("distant", why, scores.get(i) ?? null);
    }
  }
  statuses[best] = status(
    "selected",
    `selected: best score among ${pool.length} agreeing source${
      pool.length === 1 ? "" : "s"
    } (distance ${humanSeconds(sel.rootDistance)}, stratum ${sel.stratum})`,
    bestScore,
  );

  const data = combined.map(dataOf);
  const w = data.map((d) => 1 / d.rootDistance);
  const sumW = w.reduce((a, b) => a + b, 0);
  const offset = weightedMean(w, data.map((d) => d.offset), sumW);
  const frequency = weightedMean(w, data.map((d) => d.frequency), sumW);
  const offsetVar = weightedMean(
    w,
    data.map((d) => d.offsetSd ** 2 + (d.offset - offset) ** 2),
    sumW,
  );
  const freqVar = weightedMean(
    w,
    data.map((d) => d.frequencySd ** 2 + (d.frequency - frequency) ** 2),
    sumW,
  );
  const skew = weightedMean(w, data.map((d) => d.skew), sumW);

  const selCandidate = candidates[best]!;
  const events: SelectEvent[] = [...limitEvents];
  if (previous.selected !== selCandidate.name) {
    events.push({
      kind: "selected",
      source: selCandidate.name,
      message: `Selected source ${selCandidate.name}`,
    });
  }
  const update: ReferenceUpdate = {
    refId: selCandidate.refId,
    address: selCandidate.address,
    stratum: sel.stratum + 1,
    leap: voteLeap(data.map((d) => d.leap)),
    refTime: now,
    offset,
    offsetSd: Math.sqrt(offsetVar),
    frequency,
    frequencySd: Math.sqrt(freqVar),
    skew,
    rootDelay: sel.rootDelay,
    rootDispersion: sel.rootDispersion,
    combined: combined.length,
  };
  return {
    statuses,
    selected: best,
    update,
    events,
    memory: { selected: selCandidate.name, noSyncReason: null, startDone: true, flagged },
  };
}

/**
 * Orphan mode (chrony.conf(5) `local ... orphan`): sources whose stratum is
 * equal to or larger than the orphan stratum are assumed not to serve real
 * time and get state `O`. Only when no other source is usable are those with
 * a stratum equal to the orphan stratum (servers whose local reference is
 * active) and a reference ID smaller than ours (`localRefId`, compared as
 * unsigned 32-bit numbers) taken back. So among servers of one isolated
 * network the one with the smallest reference ID keeps its local reference
 * and the others synchronise to it (stratum + 1); a server already
 * synchronised to it (orphan stratum + 1) is never used by the others, which
 * rules out loops. `usable` (indices) is filtered in place.
 */
export function orphanFilter(
  candidates: readonly Candidate[],
  usable: number[],
  statuses: SourceStatus[],
  orphanStratum: number | null,
): void {
  if (orphanStratum === null) return;
  const isOrphan = (i: number) => candidates[i]!.data!.stratum >= orphanStratum;
  const others = usable.filter((i) => !isOrphan(i));
  const kept = others.length > 0 ? others : usable.filter((i) => {
    const c = candidates[i]!;
    const ours = c.localRefId ?? null;
    return c.data!.stratum === orphanStratum && ours !== null && (c.refId >>> 0) < (ours >>> 0);
  });
  for (const i of usable) {
    if (!kept.includes(i)) {
      statuses[i] = status(
        "orphan",
        `orphan: stratum ${
          candidates[i]!.data!.stratum
        } at or above the orphan stratum ${orphanStratum}`,
      );
    }
  }
  usable.splice(0, usable.length, ...kept);
}

/** Leap second announced by more than half of the combined sources, else none. */
export function voteLeap(leaps: readonly LeapIndicator[]): LeapIndicator {
  let ins = 0, del = 0;
  for (const l of leaps) {
    if (l === 1) ins++;
    else if (l === 2) del++;
  }
  if (2 * ins > leaps.length) return 1;
  if (2 * del > leaps.length) return 2;
  return 0;
}
