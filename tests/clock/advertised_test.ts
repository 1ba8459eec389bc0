/**
 * What the server advertises (lib/clock/advertised.ts), from tracking data
 * made by hand and from a Reference on a simulated clock; and `rtcsync` as
 * the Reference's explicit option.
 */
import assert from "node:assert/strict";
import {
  type AdvertisedReference,
  advertisedReference,
  type AdvertiseInput,
  peerView,
  withLocal,
} from "../../lib/clock/advertised.ts";
import { LOCAL_REFERENCE_ID, Reference, type TrackingData } from "../../lib/clock/reference.ts";
import { SimClock } from "../../lib/clock/sim_clock.ts";
import type { ReferenceUpdate } from "../../lib/clock/sample.ts";

const S = 1_000_000_000n;
const NOW = 1_000n * S;

const unsynced: AdvertisedReference = {
  synchronised: false,
  leap: 0,
  stratum: 16,
  rootDelay: 0,
  rootDispersion: 0,
  dispersionRate: 0,
  refId: 0,
  refTime: 0n,
  local: null,
  localSince: null,
};

const tracking: TrackingData = {
  refId: 0xc0000201,
  address: "192.0.2.1",
  stratum: 3,
  refTime: NOW - 10n * S,
  systemTime: 0,
  lastOffset: 1e-6,
  rmsOffset: 1e-6,
  frequency: -5,
  residualFrequency: -0.02,
  skew: 0.03,
  rootDelay: 4e-3,
  rootDispersion: 1e-3,
  updateInterval: 64,
  leapStatus: "insert",
};

function input(over: Partial<AdvertiseInput> = {}): AdvertiseInput {
  return {
    now: NOW,
    tracking,
    synchronised: true,
    localEligible: false,
    localActive: false,
    localConfigured: false,
    hideLeap: false,
    maxClockErrorPpm: 1,
    ...over,
  };
}

Deno.test("advertised: synchronised to a source, the tracking values from now", () => {
  const a = advertisedReference(unsynced, input());
  assert.equal(a.synchronised, true);
  assert.deepEqual([a.stratum, a.refId, a.leap, a.refTime], [3, 0xc0000201, 1, NOW]);
  assert.deepEqual([a.rootDelay, a.rootDispersion], [4e-3, 1e-3]);
  // skew + |residual frequency| + maxclockerror, ppm to s/s
  assert.ok(Math.abs(a.dispersionRate - 1.05e-6) < 1e-15);
  assert.equal(unsynced.synchronised, false, "the previous value is not changed");
  // a leap smear hides the leap second; a deletion is 2
  assert.equal(advertisedReference(unsynced, input({ hideLeap: true })).leap, 0);
  const del = { ...tracking, leapStatus: "delete" as const };
  assert.equal(advertisedReference(unsynced, input({ tracking: del })).leap, 2);
});

Deno.test("advertised: the local reference, stratum 0 or an unsynchronised reference are not a source", () => {
  const synced = advertisedReference(unsynced, input());
  const local = { ...tracking, refId: LOCAL_REFERENCE_ID };
  assert.equal(advertisedReference(synced, input({ tracking: local })).synchronised, false);
  const none = { ...tracking, stratum: 0 };
  assert.equal(advertisedReference(synced, input({ tracking: none })).synchronised, false);
  assert.equal(advertisedReference(synced, input({ synchronised: false })).synchronised, false);
});

Deno.test("advertised: sources lost while `local` waits for its distance keep the last values", () => {
  const synced = advertisedReference(unsynced, input());
  const later = input({ now: NOW + 60n * S, synchronised: false, localConfigured: true });
  const held = advertisedReference(synced, later);
  assert.deepEqual(held, synced);
  // once the local reference is in use (or without `local`), unsynchronised
  assert.equal(advertisedReference(synced, { ...later, localActive: true }).synchronised, false);
  assert.equal(
    advertisedReference(synced, { ...later, localConfigured: false }).synchronised,
    false,
  );
});

Deno.test("advertised: `local` on and off; its start counts from when it becomes eligible", () => {
  const local = { stratum: 10, distance: 1, orphan: true };
  const on = withLocal(unsynced, local, NOW);
  assert.deepEqual([on.local, on.localSince], [local, NOW]);
  // switching it on again keeps the start; off forgets it
  assert.equal(withLocal(on, { ...local, stratum: 8 }, NOW + S).localSince, NOW);
  const off = withLocal(on, null, NOW + 2n * S);
  assert.deepEqual([off.local, off.localSince], [null, null]);
  // waitsynced/activate: not eligible, then eligible from a later refresh
  const waiting = advertisedReference(
    { ...on, localEligible: false },
    input({
      synchronised: false,
      localEligible: false,
    }),
  );
  assert.equal(waiting.localSince, NOW);
  const t2 = NOW + 300n * S;
  const eligible = advertisedReference(
    waiting,
    input({
      now: t2,
      synchronised: false,
      localEligible: true,
    }),
  );
  assert.deepEqual([eligible.localEligible, eligible.localSince], [true, t2]);
  // without a local reference, eligibility is not recorded
  assert.equal(
    advertisedReference(unsynced, input({ localEligible: true })).localEligible,
    undefined,
  );
});

Deno.test("advertised: symmetric peers see the tracking values while we have a stratum", () => {
  assert.deepEqual(peerView(tracking), {
    leap: 1,
    stratum: 3,
    refId: 0xc0000201,
    rootDelay: 4e-3,
    rootDispersion: 1e-3,
    refTime: NOW - 10n * S,
  });
  assert.equal(peerView({ ...tracking, stratum: 0 }), null);
  assert.equal(peerView({ ...tracking, leapStatus: "unsynchronised" }), null);
});

/** A simulated clock that remembers what it is told about synchronisation. */
class SyncRecordingClock extends SimClock {
  told: boolean[] = [];
  override setSyncStatus(synced: boolean, estError: number, maxError: number): void {
    this.told.push(synced);
    super.setSyncStatus(synced, estError, maxError);
  }
}

function update(clock: SimClock): ReferenceUpdate {
  return {
    refId: 0xc0000201,
    address: "192.0.2.1",
    stratum: 2,
    leap: 0,
    refTime: clock.now(),
    offset: 0,
    offsetSd: 1e-7,
    frequency: 0,
    frequencySd: 1e-9,
    skew: 1e-8,
    rootDelay: 0.002,
    rootDispersion: 0.001,
    combined: 1,
  };
}

Deno.test("advertised: through a Reference, an update is served at its stratum; the local reference is not a source", () => {
  const clock = new SimClock({ start: NOW });
  const ref = new Reference(clock, { local: { stratum: 10, orphan: false, distance: 1 } });
  let served = withLocal(unsynced, { stratum: 10, orphan: false, distance: 1 }, clock.now());
  const refresh = () => {
    const now = clock.now();
    served = advertisedReference(served, {
      ...input(),
      now,
      tracking: ref.trackingData(now),
      synchronised: ref.synchronised,
      localEligible: ref.localEligible(now),
      localActive: ref.localActive(now),
      localConfigured: true,
    });
  };
  refresh();
  assert.equal(served.synchronised, false); // the local reference alone
  ref.update(update(clock));
  refresh();
  assert.deepEqual([served.synchronised, served.stratum, served.refId], [true, 2, 0xc0000201]);
  ref.setUnsynchronised();
  clock.advance(1);
  refresh();
  assert.equal(served.synchronised, true, "held while the root distance is under `distance`");
});

Deno.test("rtcsync: the Reference tells the clock it is synchronised only with rtcSync", () => {
  for (const rtcSync of [true, false, undefined]) {
    const clock = new SyncRecordingClock({ start: NOW });
    const ref = new Reference(clock, rtcSync === undefined ? {} : { rtcSync });
    ref.update(update(clock));
    ref.setUnsynchronised();
    assert.deepEqual(clock.told, [rtcSync ?? true, false], `rtcSync ${rtcSync}`);
  }
});
