/**
 * What the engine shows of itself to readers that must not hold its
 * internals (the cmdmon backend, report builders, tests): plain values, copied
 * at one instant. The engine's `systemSnapshot()` and `sourceSnapshots()`
 * produce them (lib/engine/engine.ts); nothing here refers back to the live
 * sources, so a snapshot can be built by hand in a test.
 *
 * @example
 * ```ts
 * import type { SourceSnapshot } from "./snapshot.ts";
 * function reachable(s: readonly SourceSnapshot[]): number {
 *   return s.filter((x) => x.reach !== 0).length;
 * }
 * ```
 * @module
 */
import type { ReferenceUpdate } from "../clock/sample.ts";
import type { SelectionData, SourceStats, SourceStatsReport } from "../clock/sourcestats.ts";
import type { SourceSelectOptions, SourceStatus } from "../clock/select.ts";
import type { TrackingData } from "../clock/reference.ts";
import type { NtpSourceReport } from "../ntp/source.ts";
import type { ReachRegister } from "../ntp/reach.ts";
import type { Timestamp } from "../time/timestamp.ts";

/** A source as commands name it: an NTP source or a reference clock, by its engine id. */
export type SourceRef = { kind: "ntp"; id: number } | { kind: "refclock"; id: number };

/** Who a source is, cheap to list (address matching of cmdmon requests). */
export type SourceIdentity =
  | { kind: "ntp"; id: number; name: string; address: string }
  | { kind: "refclock"; id: number; name: string; refId: number };

/** What both kinds of source show. */
interface SnapshotCommon {
  /** When it was taken (cooked local time): `stats` and `selection` are at this instant. */
  now: Timestamp;
  /** Engine id (for commands); its row in reports is its place in the snapshot list. */
  id: number;
  /** Name in reports and logs (NTP: as configured; refclock: its refid name). */
  name: string;
  /** Current poll interval, log2 s. */
  poll: number;
  /** Reach register, 0..255. */
  reach: number;
  /** Selection options as configured (or changed by `selectopts`). */
  select: SourceSelectOptions;
  /** The options selection really uses (`authselectmode`). */
  effectiveSelect: SourceSelectOptions;
  /** The last selection's verdict, or null before one. */
  status: SourceStatus | null;
  /** `sourcestats` row and the newest sample. */
  statistics: SourceStatsReport;
  /** Standard error of the estimated offset, seconds (null: no estimate yet). */
  offsetSd: number | null;
  /** Selection inputs at the snapshot's time (null: not enough samples). */
  selection: SelectionData | null;
}

/** One NTP source (server, pool member or peer). */
export interface NtpSourceSnapshot extends SnapshotCommon {
  kind: "ntp";
  /** Numeric address requests go to as configured. */
  address: string;
  /** NTP port as configured. */
  port: number;
  /** NTP port requests go to (NTS-KE's port record wins over the configured one). */
  remotePort: number;
  /** Symmetric peer (`peer`) rather than a client of a server. */
  peer: boolean;
  /** NTP version of our requests. */
  version: number;
  online: boolean;
  inBurst: boolean;
  /** Authenticated by NTS or a symmetric key. */
  authenticated: boolean;
  /** The protocol's own report (last packet, tests, counters). */
  report: NtpSourceReport;
  /** Estimated delay asymmetry (ntpdata's Jitter asymmetry). */
  asymmetry: number;
}

/** One reference clock. */
export interface RefclockSnapshot extends SnapshotCommon {
  kind: "refclock";
  refId: number;
  /** `stratum` option (0 when not given). */
  stratum: number;
}

export type SourceSnapshot = NtpSourceSnapshot | RefclockSnapshot;

/** The engine as a whole at one instant (what `tracking` and `selectdata` need). */
export interface SystemSnapshot {
  /** When it was taken (cooked local time). */
  now: Timestamp;
  /** The selected source, or null. */
  selected: SourceRef | null;
  /** The selected source's score (a distance: smaller is better), or null. */
  selectedScore: number | null;
  /** The last estimate handed to the discipline, or null. */
  lastUpdate: ReferenceUpdate | null;
  /** The reference's tracking data, null when the discipline keeps none. */
  tracking: TrackingData | null;
}

/**
 * What the sockets of one NTP source need on the packet path
 * (lib/daemon/client_io.ts): made once per source, read without allocating.
 */
export interface SourceHandle {
  /** Engine id. */
  readonly id: number;
  /** A symmetric peer: its requests go out of the shared NTP socket. */
  readonly peer: boolean;
  /** Valid replies accepted so far (a change means a packet was accepted). */
  validReplies(): number;
}

/** An NTP source at a glance, removed ones included (the simulator's outcome). */
export interface SourceSummary {
  id: number;
  address: string;
  removed: boolean;
  /** The source selection chose. */
  selected: boolean;
  status: SourceStatus | null;
  /** Current poll interval, log2 s. */
  poll: number;
  /** Reach register, 0..255. */
  reach: number;
}

/**
 * A source whose measurement history `dumpdir` keeps (Engine.historyHolders):
 * its live statistics and reachability, which a dump reads and `-r` restores.
 */
export type HistoryHolder =
  & { stats: SourceStats; reach: ReachRegister }
  & ({ kind: "ntp"; address: string } | { kind: "refclock"; refId: number; name: string });
