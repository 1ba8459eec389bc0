/**
 * Joins the engine to the clock discipline: a {@link Discipline} over
 * lib/clock's `Reference` that turns its events into chronyd's log texts and
 * hands tracking-log entries and the exit request to the daemon.
 *
 * @example
 * ```ts
 * import { ReferenceDiscipline } from "./discipline.ts";
 * import type { Reference } from "../clock/reference.ts";
 * function disciplineOf(ref: Reference) {
 *   return new ReferenceDiscipline(ref, {});
 * }
 * ```
 * @module
 */
import type {
  LocalReference,
  Reference,
  ReferenceEvent,
  TrackingData,
  TrackingLogEntry,
} from "../clock/reference.ts";
import type { ReferenceUpdate } from "../clock/sample.ts";
import type { Timestamp } from "../time/timestamp.ts";
import type { Discipline } from "./engine.ts";

/** Hooks of {@link ReferenceDiscipline}. */
export interface DisciplineHooks {
  /** One line for `log tracking`. */
  onTracking?: (entry: TrackingLogEntry) => void;
  /** maxchange was exceeded too often: chronyd exits. */
  onExit?: (offset: number) => void;
  /** The initstepslew correction was made (normal operation may begin). */
  onInitStepSlewEnd?: () => void;
}

/** chronyd's log text of a reference event, or null for events not logged. */
export function eventMessage(e: ReferenceEvent): string | null {
  switch (e.kind) {
    case "clockWrong":
      return `System clock wrong by ${e.correction.toFixed(6)} seconds` +
        (e.adjustmentStarted ? ", adjustment started" : "");
    case "stepped":
      return `System clock was stepped by ${e.correction.toFixed(6)} seconds`;
    case "offsetIgnored":
      return `Adjustment of ${
        (-e.offset).toFixed(3)
      } seconds exceeds the allowed maximum, update ignored`;
    case "exit":
      return `Adjustment of ${(-e.offset).toFixed(3)} seconds exceeds the allowed maximum, exiting`;
    case "skewIgnored":
      return null;
    case "leap":
      return e.leap === 1
        ? "Leap second will be inserted"
        : e.leap === -1
        ? "Leap second will be deleted"
        : null;
    case "leapApplied":
      return `System clock was stepped by ${(-e.leap).toFixed(6)} seconds (leap second)`;
    case "tracking":
      return null;
    case "manual":
      return e.withFrequency
        ? `Making a frequency change of ${e.dfreqPpm.toFixed(3)} ppm and a slew of ${
          e.offset.toFixed(6)
        }`
        : `Making a slew of ${e.offset.toFixed(6)}`;
    case "frequencyExceeded":
      return `Frequency ${e.frequency.toFixed(1)} ppm exceeds allowed maximum`;
    case "deltaFrequency":
      return `Accumulated delta freq of ${e.ppm.toFixed(3)}ppm`;
    case "deltaOffset":
      return `Accumulated delta offset of ${e.offset.toFixed(6)} seconds`;
    case "fallbackDrift":
      return `Frequency set to fallback drift ${e.log2Interval}: ${e.frequency.toFixed(3)} ppm`;
    case "initialOffset":
      return `System's initial offset : ${Math.abs(e.offset).toFixed(6)} seconds ${
        e.offset >= 0 ? "fast" : "slow"
      } of true (${e.step ? "step" : "slew"})`;
    case "initStepSlewEnd":
      return null;
  }
}

/**
 * The reference as chronyc's commands change it (lib/daemon/cmdmon_backend.ts):
 * the settings, the manual corrections (each returning the log lines chronyd
 * writes) and the clock's frequency. {@link ReferenceDiscipline} is one.
 */
export interface ReferenceControl {
  /** `maxupdateskew`, ppm. */
  setMaxUpdateSkew(ppm: number): void;
  /** `makestep THRESHOLD LIMIT`. */
  setMakestep(threshold: number, limit: number): void;
  /** `local ...` / `local off`. */
  setLocal(local: LocalReference | null): void;
  /** `dfreq`: a frequency change, ppm; log lines. */
  adjustFrequency(ppm: number): string[];
  /** `doffset`: an offset to slew away, seconds; log lines. */
  adjustOffset(offset: number): string[];
  /** A manual correction (`settime`, `manual delete`); log lines. */
  manual(offset: number, dfreq: number, withFrequency: boolean): string[];
  /** The clock's frequency now, ppm (`settime`'s new frequency). */
  frequency(): number;
}

/**
 * The discipline of the daemon and the simulator: lib/clock's Reference
 * behind the engine's interface. Nothing selectable makes the reference
 * unsynchronised (its local reference may then activate). Steps, updates and
 * ignored updates are counted for the simulator's checks.
 */
export class ReferenceDiscipline implements Discipline, ReferenceControl {
  readonly reference: Reference;
  readonly #hooks: DisciplineHooks;
  /** Clock steps made (makestep). */
  steps = 0;
  /** Reference updates handed in. */
  updates = 0;
  /** Updates whose offset was ignored (maxchange). */
  ignored = 0;

  constructor(reference: Reference, hooks: DisciplineHooks = {}) {
    this.reference = reference;
    this.#hooks = hooks;
  }

  update(update: ReferenceUpdate, _now: Timestamp): string[] {
    this.updates++;
    return this.#messages(this.reference.update(update));
  }

  /** A manual correction (settime, manual delete); returns the log messages. */
  manual(offset: number, dfreq: number, withFrequency: boolean): string[] {
    return this.#messages(this.reference.manualUpdate(offset, dfreq, withFrequency));
  }

  setMaxUpdateSkew(ppm: number): void {
    this.reference.setMaxUpdateSkew(ppm);
  }

  setMakestep(threshold: number, limit: number): void {
    this.reference.setMakestep(threshold, limit);
  }

  setLocal(local: LocalReference | null): void {
    this.reference.setLocal(local);
  }

  adjustFrequency(ppm: number): string[] {
    return this.#messages(this.reference.adjustFrequency(ppm));
  }

  adjustOffset(offset: number): string[] {
    return this.#messages(this.reference.adjustOffset(offset));
  }

  frequency(): number {
    return this.reference.driftValues().frequency;
  }

  /** Periodic work of the reference without updates (fallbackdrift); log messages. */
  tick(now: Timestamp): string[] {
    return this.#messages(this.reference.fallbackTick(now));
  }

  noUpdate(_now: Timestamp): void {
    this.reference.setUnsynchronised();
  }

  /** What `chronyc tracking` shows at `now` (the engine's system snapshot carries it). */
  tracking(now: Timestamp): TrackingData {
    return this.reference.trackingData(now);
  }

  #messages(events: ReferenceEvent[]): string[] {
    const out: string[] = [];
    for (const e of events) {
      if (e.kind === "stepped" || (e.kind === "initialOffset" && e.step)) this.steps++;
      if (e.kind === "offsetIgnored") this.ignored++;
      if (e.kind === "tracking") this.#hooks.onTracking?.(e.entry);
      if (e.kind === "exit") this.#hooks.onExit?.(e.offset);
      if (e.kind === "initStepSlewEnd") this.#hooks.onInitStepSlewEnd?.();
      const m = eventMessage(e);
      if (m !== null) out.push(m);
    }
    return out;
  }
}
