/**
 * Manual time input (chrony.conf(5) `manual`, chronyc(1) `manual` and
 * `settime`): the operator tells the daemon the true time; each such
 * timestamp becomes a sample (local cooked time, offset = local minus the
 * given time). With two or more samples a straight line is fitted through
 * them (offset against time) by least absolute deviations, so one badly
 * typed time does not drag the estimate: its slope is the clock's frequency
 * error and its value at the newest sample the offset.
 *
 * What the daemon does with the result (the slew or step, the frequency
 * change) is the reference's business (`Reference.manualUpdate`); this module
 * only keeps the samples, and corrects them when the clock is adjusted
 * (`onClockChange`, the same convention as sourcestats), so that the
 * `manual list` "Slewed" column shows each sample's offset as the corrected
 * clock would have measured it.
 *
 * Behaviour observed on chronyd 4.3 (`-x`): a timestamp less than one second
 * after the previous sample is refused (500 Failure); at most 16 samples
 * are kept (the oldest dropped); `settime` answers the fitted offset at the
 * newest sample but corrects by the offset just measured; `manual delete N`
 * fits again and corrects by the fitted offset.
 *
 * @example
 * ```ts
 * import { ManualInput } from "./manual.ts";
 * const m = new ManualInput({ enabled: true });
 * const r = m.accept(10_000_000_000n, 9_500_000_000n); // clock 0.5 s fast
 * // r: { ok: true, offset: 0.5, correction: 0.5, dfreq: 0 }
 * ```
 * @module
 */
import { addSeconds, diffSeconds, type Timestamp } from "../time/timestamp.ts";
import type { ParameterChange } from "./clock.ts";

/** chronyd keeps this many manual samples (observed; `manual list` carries 16 rows). */
export const MAX_MANUAL_SAMPLES = 16;
/** A new timestamp must come at least this long after the previous sample, seconds (observed). */
export const MIN_SAMPLE_SEPARATION = 1;
/** Timestamps before 1970 or after this (s since the epoch) are refused as insane. */
const MAX_SANE_SECONDS = 2 ** 32 + 2 ** 31;

/** One manual sample. */
export interface ManualEntry {
  /** Local cooked time of the sample (moved with the clock's corrections). */
  when: Timestamp;
  /** Offset as the corrected clock would measure it now, seconds (positive = fast). */
  slewedOffset: number;
  /** Offset measured when the timestamp was given. */
  origOffset: number;
  /** Residual of the last fit, seconds (0 until a fit with two samples). */
  residual: number;
}

/** What the reference must do after a new sample or a deletion. */
export interface ManualCorrection {
  /** The fitted offset at the newest sample, seconds (settime's "Clock was X seconds fast"). */
  offset: number;
  /** Offset to correct now, seconds (positive = clock fast). */
  correction: number;
  /** Frequency error found, s/s (positive = the clock gains); 0 with one sample. */
  dfreq: number;
}

/** Why a timestamp was refused. */
export type ManualRefusal = "disabled" | "tooClose" | "insane";

/** Straight line `offset = intercept + slope * x` minimising the sum of |residuals|. */
export function fitAbsoluteDeviation(
  x: readonly number[],
  y: readonly number[],
): { intercept: number; slope: number } {
  const n = x.length;
  if (n === 0) return { intercept: 0, slope: 0 };
  if (n === 1) return { intercept: y[0]!, slope: 0 };
  // An L1-optimal line passes through two of the points: try every pair.
  let best = { intercept: y[n - 1]!, slope: 0 };
  let bestCost = Infinity;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = x[j]! - x[i]!;
      if (dx === 0) continue;
      const slope = (y[j]! - y[i]!) / dx;
      const intercept = y[i]! - slope * x[i]!;
      let cost = 0;
      for (let k = 0; k < n; k++) cost += Math.abs(y[k]! - (intercept + slope * x[k]!));
      if (cost < bestCost - 1e-12) {
        bestCost = cost;
        best = { intercept, slope };
      }
    }
  }
  return best;
}

/** The manual samples and whether `settime` is accepted. */
export class ManualInput {
  #enabled: boolean;
  #samples: ManualEntry[] = [];

  constructor(options: { enabled?: boolean } = {}) {
    this.#enabled = options.enabled ?? false;
  }

  /** Whether `settime` is accepted (`manual` directive, `manual on|off`). */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** `manual on` / `manual off`. */
  setEnabled(on: boolean): void {
    this.#enabled = on;
  }

  /** `manual reset`: forgets every sample. */
  reset(): void {
    this.#samples = [];
  }

  /** The samples, oldest first (`manual list`). */
  list(): ManualEntry[] {
    return this.#samples.map((s) => ({ ...s }));
  }

  /**
   * `settime`: local cooked time `now`, the true time `ts` the operator gave.
   * Returns the correction to make, or why the timestamp was refused.
   */
  accept(
    now: Timestamp,
    ts: Timestamp,
  ): ({ ok: true } & ManualCorrection) | { ok: false; reason: ManualRefusal } {
    if (!this.#enabled) return { ok: false, reason: "disabled" };
    const secs = Number(ts / 1_000_000_000n);
    if (ts < 0n || secs > MAX_SANE_SECONDS) return { ok: false, reason: "insane" };
    const last = this.#samples.at(-1);
    if (last && diffSeconds(now, last.when) < MIN_SAMPLE_SEPARATION) {
      return { ok: false, reason: "tooClose" };
    }
    const offset = diffSeconds(now, ts);
    if (this.#samples.length >= MAX_MANUAL_SAMPLES) this.#samples.shift();
    this.#samples.push({ when: now, slewedOffset: offset, origOffset: offset, residual: 0 });
    const fit = this.#fit();
    return { ok: true, offset: fit.offset, correction: offset, dfreq: fit.dfreq };
  }

  /**
   * `manual delete N`: forgets sample `index`; null when out of range. The
   * remaining samples are fitted again; null correction when none remain.
   */
  delete(index: number): { correction: ManualCorrection | null } | null {
    if (!Number.isInteger(index) || index < 0 || index >= this.#samples.length) return null;
    this.#samples.splice(index, 1);
    if (this.#samples.length === 0) return { correction: null };
    const fit = this.#fit();
    return { correction: { offset: fit.offset, correction: fit.offset, dfreq: fit.dfreq } };
  }

  /** The clock was adjusted: samples move as sourcestats' do (see clock.ts `ParameterChange`). */
  onClockChange(change: Pick<ParameterChange, "time" | "doffset" | "dfreq">): void {
    for (const s of this.#samples) {
      const delta = change.doffset + change.dfreq * diffSeconds(s.when, change.time);
      s.when = addSeconds(s.when, delta);
      s.slewedOffset += delta;
    }
  }

  /** Fits the samples; stores residuals; offset at the newest sample and slope (s/s). */
  #fit(): { offset: number; dfreq: number } {
    const n = this.#samples.length;
    const newest = this.#samples[n - 1]!;
    if (n < 2) return { offset: newest.slewedOffset, dfreq: 0 };
    const x = this.#samples.map((s) => diffSeconds(s.when, newest.when));
    const y = this.#samples.map((s) => s.slewedOffset);
    const { intercept, slope } = fitAbsoluteDeviation(x, y);
    this.#samples.forEach((s, i) => (s.residual = y[i]! - (intercept + slope * x[i]!)));
    return { offset: intercept, dfreq: slope };
  }
}
