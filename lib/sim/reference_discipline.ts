/**
 * Adapts lib/clock's `Reference` to the engine's `Discipline` interface for
 * the simulator: updates go to the reference, its events become log lines,
 * and steps and leap seconds are counted for the scenario checks.
 *
 * @example
 * ```ts
 * import { ReferenceDiscipline } from "./reference_discipline.ts";
 * import { SimClock } from "../clock/sim_clock.ts";
 * const clock = new SimClock({ start: 0n, offset: 0.1, seed: 1 });
 * const discipline = new ReferenceDiscipline(clock, { makestep: { threshold: 1, limit: 3 } });
 * discipline.steps; // 0
 * ```
 * @module
 */
import type { Clock } from "../clock/clock.ts";
import { Reference, type ReferenceEvent, type ReferenceOptions } from "../clock/reference.ts";
import type { ReferenceUpdate } from "../clock/sample.ts";
import type { Discipline } from "../daemon/engine.ts";

/** The engine's discipline backed by a `Reference`. */
export class ReferenceDiscipline implements Discipline {
  readonly reference: Reference;
  /** Number of clock steps made (makestep). */
  steps = 0;
  /** Number of reference updates. */
  updates = 0;
  /** Number of updates whose offset was ignored (maxchange). */
  ignored = 0;

  constructor(clock: Clock, options: ReferenceOptions = {}) {
    this.reference = new Reference(clock, options);
  }

  update(update: ReferenceUpdate): string[] {
    this.updates++;
    const lines: string[] = [];
    for (const e of this.reference.update(update)) {
      if (e.kind === "stepped") this.steps++;
      if (e.kind === "offsetIgnored") this.ignored++;
      const line = describe(e);
      if (line !== null) lines.push(line);
    }
    return lines;
  }

  noUpdate(): void {
    this.reference.setUnsynchronised();
  }
}

/** chronyd-like log text of a reference event (null: not logged). */
function describe(e: ReferenceEvent): string | null {
  switch (e.kind) {
    case "clockWrong":
      return `System clock wrong by ${e.correction.toFixed(6)} seconds` +
        (e.adjustmentStarted ? ", adjustment started" : "");
    case "stepped":
      return `System clock was stepped by ${e.correction.toFixed(6)} seconds`;
    case "offsetIgnored":
      return `Adjustment of ${
        e.offset.toFixed(3)
      } seconds exceeds the allowed maximum, update ignored`;
    case "exit":
      return `Adjustment of ${e.offset.toFixed(3)} seconds exceeds the allowed maximum, exiting`;
    case "skewIgnored":
      return `Skew ${e.skew.toFixed(3)} ppm too large to track, frequency left alone`;
    case "leap":
      return e.leap === 0
        ? "Leap second cleared"
        : `Leap second ${e.leap > 0 ? "insertion" : "deletion"} armed`;
    case "leapApplied":
      return `Leap second ${e.leap > 0 ? "inserted" : "deleted"} (${e.mode})`;
    case "tracking":
      return null;
  }
}
