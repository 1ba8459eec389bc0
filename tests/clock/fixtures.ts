/**
 * Shared test inputs for the clock discipline's tests.
 * @module
 */
import type { SimClock } from "../../lib/clock/sim_clock.ts";
import type { ReferenceUpdate } from "../../lib/clock/sample.ts";

/**
 * A reference update measured perfectly from the SimClock's truth (offset and
 * frequency error), from source 192.0.2.1 at stratum 2; `extra` overrides fields.
 */
export function truthUpdate(
  clock: SimClock,
  extra: Partial<ReferenceUpdate> = {},
): ReferenceUpdate {
  return {
    refId: 0xc0000201,
    address: "192.0.2.1",
    stratum: 2,
    leap: 0,
    refTime: clock.now(),
    offset: clock.trueCookedOffset(),
    offsetSd: 1e-7,
    frequency: clock.trueFrequencyError(),
    frequencySd: 1e-9,
    skew: 1e-8,
    rootDelay: 0.002,
    rootDispersion: 0.001,
    combined: 1,
    ...extra,
  };
}
