/**
 * What our NTP server advertises (stratum, reference ID, root delay and
 * dispersion, leap, the local reference) and what symmetric peers learn of
 * us, decided from the reference (lib/clock/reference.ts) by pure functions.
 * The daemon refreshes it after every clock update and each second while
 * something serves it; the NTP server (lib/ntp/server.ts) turns it into
 * packet fields (its `ServerReference` has these fields and the precision).
 *
 * The policy, after chronyd's behaviour:
 * - synchronised to a source (not to the local reference): the tracking
 *   values, the root dispersion growing from now at skew + |residual
 *   frequency| + maxclockerror;
 * - sources lost while `local` waits for its `distance`: the last values are
 *   kept (their dispersion grows until the local reference takes over);
 * - otherwise unsynchronised (the server then serves the local reference if
 *   it is eligible, else stratum 16);
 * - a leap smear (`smoothtime ... leaponly` with `leapsecmode slew`) hides
 *   the leap second from clients.
 *
 * @example
 * ```ts
 * import { advertisedReference, type AdvertisedReference } from "./advertised.ts";
 * import type { TrackingData } from "./reference.ts";
import type { LeapIndicator } from "./sample.ts";
 * function refresh(served: AdvertisedReference, tracking: TrackingData, now: bigint) {
 *   return advertisedReference(served, {
 *     now,
 *     tracking,
 *     synchronised: true,
 *     localEligible: false,
 *     localActive: false,
 *     localConfigured: false,
 *     hideLeap: false,
 *     maxClockErrorPpm: 1,
 *   });
 * }
 * ```
 * @module
 */
import { REFID_LOCAL } from "../net/address.ts";
import type { Timestamp } from "../time/timestamp.ts";
import type { TrackingData } from "./reference.ts";
import type { LeapIndicator } from "./sample.ts";

/** The `local` reference as served: stratum, distance and orphan mode. */
export interface AdvertisedLocal {
  stratum: number;
  distance: number;
  orphan: boolean;
}

/** What the server advertises (the fields of lib/ntp/server.ts's ServerReference it decides). */
export interface AdvertisedReference {
  /** Synchronised to a source (else the local reference or stratum 16 is served). */
  synchronised: boolean;
  /** Leap indicator when synchronised (0 none, 1 insert, 2 delete). */
  leap: number;
  stratum: number;
  rootDelay: number;
  /** Root dispersion at `refTime`, seconds. */
  rootDispersion: number;
  /** Growth of the root dispersion, seconds per second since `refTime`. */
  dispersionRate: number;
  refId: number;
  refTime: Timestamp;
  /** `local` (directive or `chronyc local`), or null. */
  local: AdvertisedLocal | null;
  /** When the local reference became eligible (its reference time), or null. */
  localSince: Timestamp | null;
  /** Whether `local activate`/`waitsynced`/`waitunsynced` allow the local reference now. */
  localEligible?: boolean;
}

/** What the reference says at one refresh. */
export interface AdvertiseInput {
  now: Timestamp;
  /** The reference's tracking data at `now`. */
  tracking: TrackingData;
  /** The reference is synchronised to a source. */
  synchronised: boolean;
  /** The local reference's conditions allow it now (Reference.localEligible). */
  localEligible: boolean;
  /** The local reference is in use now (Reference.localActive). */
  localActive: boolean;
  /** A `local` directive is configured (lost sources then keep their values while it waits). */
  localConfigured: boolean;
  /** A leap smear is in effect (smoothtime with leapsecmode slew): no leap served. */
  hideLeap: boolean;
  /** `maxclockerror`, ppm. */
  maxClockErrorPpm: number;
}

/** NTP leap indicator of a tracking leap status (unsynchronised: 0, as served when synchronised). */
export function leapIndicator(status: TrackingData["leapStatus"]): LeapIndicator {
  return status === "insert" ? 1 : status === "delete" ? 2 : 0;
}

/** The reference to advertise after `prev`, given what the reference says now. */
export function advertisedReference(
  prev: AdvertisedReference,
  input: AdvertiseInput,
): AdvertisedReference {
  const t = input.tracking;
  const next: AdvertisedReference = { ...prev };
  if (prev.local !== null) {
    // local activate/waitsynced/waitunsynced: the local reference starts when they allow it
    if (input.localEligible && prev.localEligible === false) next.localSince = input.now;
    next.localEligible = input.localEligible;
  }
  if (input.synchronised && t.stratum > 0 && t.refId !== REFID_LOCAL) {
    next.synchronised = true;
    next.leap = input.hideLeap ? 0 : leapIndicator(t.leapStatus);
    next.stratum = t.stratum;
    next.rootDelay = t.rootDelay;
    next.rootDispersion = t.rootDispersion;
    next.dispersionRate = (t.skew + Math.abs(t.residualFrequency) + input.maxClockErrorPpm) * 1e-6;
    next.refId = t.refId;
    next.refTime = input.now;
  } else if (prev.synchronised && input.localConfigured && !input.localActive) {
    // Lost the sources but the local reference waits for the root distance
    // (chrony.conf(5) `local distance`): keep serving the last values, whose
    // dispersion grows until the responder switches to the local reference.
  } else {
    next.synchronised = false;
  }
  return next;
}

/**
 * `local` switched on or off (the directive at start, `chronyc local`): a
 * newly configured local reference counts from `now`.
 */
export function withLocal(
  prev: AdvertisedReference,
  local: AdvertisedLocal | null,
  now: Timestamp,
): AdvertisedReference {
  const next: AdvertisedReference = { ...prev, local };
  if (local !== null && prev.local === null) next.localSince = now;
  if (local === null) next.localSince = null;
  return next;
}

/** Our state as symmetric peers learn it from our packets (null: unsynchronised). */
export interface PeerView {
  /** Leap indicator 0..2 (3 = unsynchronised). */
  leap: LeapIndicator;
  /** Our stratum 1..15. */
  stratum: number;
  /** Our reference ID. */
  refId: number;
  /** Root delay and dispersion, seconds. */
  rootDelay: number;
  rootDispersion: number;
  /** Time of our last clock update. */
  refTime: Timestamp;
}

/** What symmetric peers are told of us: the tracking values while we have a stratum. */
export function peerView(t: TrackingData): PeerView | null {
  if (t.stratum <= 0 || t.leapStatus === "unsynchronised") return null;
  return {
    leap: leapIndicator(t.leapStatus),
    stratum: t.stratum,
    refId: t.refId,
    rootDelay: t.rootDelay,
    rootDispersion: t.rootDispersion,
    refTime: t.refTime,
  };
}
