/**
 * One direction of a simulated network path: a fixed one-way delay plus an
 * exponentially distributed queueing jitter, and independent loss of each
 * datagram, all drawn from a seeded `Prng`.
 *
 * @example
 * ```ts
 * import { SimLink } from "./sim_link.ts";
 * import { Prng } from "../clock/prng.ts";
 * const up = new SimLink({ delay: 100e-6, jitter: 10e-6 }, new Prng(1));
 * const d = up.transit(); // seconds (>= 100 µs), or null when the datagram is lost
 * ```
 * @module
 */
import type { Prng } from "../clock/prng.ts";

/** Parameters of one direction of a path. */
export interface LinkSpec {
  /** Fixed one-way delay, seconds. */
  delay: number;
  /** Mean of the exponential jitter added to each datagram, seconds (0: none). */
  jitter: number;
  /** Probability that a datagram is lost, 0..1. Default 0. */
  loss?: number;
}

/** One direction of a simulated path. */
export class SimLink {
  readonly spec: Readonly<LinkSpec>;
  readonly #rng: Prng;

  constructor(spec: LinkSpec, rng: Prng) {
    this.spec = spec;
    this.#rng = rng;
  }

  /** Transit time of the next datagram, seconds, or null if it is lost. */
  transit(): number | null {
    const loss = this.spec.loss ?? 0;
    // Draw both variates always, so a loss setting does not shift the jitter sequence.
    const lost = this.#rng.uniform() < loss;
    const jitter = this.spec.jitter > 0 ? this.#rng.exponential(this.spec.jitter) : 0;
    return lost ? null : this.spec.delay + jitter;
  }
}
