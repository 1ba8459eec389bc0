/**
 * The shape of one simulation scenario: the client's clock, its sources
 * (each a simulated server behind a path with its own delays, jitter and
 * loss), the run length and warm-up, an optional leap second, and chrony
 * 4.3's figures where `/work/shared/SIM-SCENARIOS.md` gives them.
 *
 * @example
 * ```ts
 * import type { Scenario } from "./scenario.ts";
 * const s: Scenario = {
 *   name: "tiny", seed: 1, start: 1_677_628_800_000_000_000n, duration: 100, warmup: 20,
 *   client: { offset: 0.1, frequencyError: 100, wander: 1e-9, makestep: { threshold: 1, limit: 3 } },
 *   sources: [{ up: { delay: 100e-6, jitter: 10e-6 }, down: { delay: 100e-6, jitter: 10e-6 },
 *     options: { iburst: true } }],
 * };
 * ```
 * @module
 */
import type { NtpSourceOptions } from "../ntp/source.ts";
import type { Timestamp } from "../time/timestamp.ts";
import type { LinkSpec } from "./sim_link.ts";
import type { SmoothingOptions } from "../clock/smoothing.ts";
import type { SimServerSpec } from "./sim_server.ts";

/** The simulated client's clock and discipline settings. */
export interface ScenarioClient {
  /** Initial clock minus true time, seconds (positive = fast). */
  offset: number;
  /** Natural frequency error, ppm (positive = gains time). */
  frequencyError: number;
  /** Random-walk wander: sd of the frequency change added every second, s/s. */
  wander: number;
  /** chrony.conf `makestep threshold limit`, or null for none. */
  makestep: { threshold: number; limit: number } | null;
  /** chrony.conf `initstepslew THRESHOLD` towards the scenario's sources. */
  initstepslew?: number;
  /**
   * chrony.conf `manual`: `chronyc settime` at `at` seconds (true time) with
   * the operator's reading `error` seconds off (positive = the time given is late).
   */
  settime?: { at: number; error: number }[];
}

/** One configured source: a simulated server and the path to it. */
export interface ScenarioSource {
  /** Client to server. */
  up: LinkSpec;
  /** Server to client. */
  down: LinkSpec;
  /** The server's clock; default a perfect stratum-1 clock. */
  server?: SimServerSpec;
  /** `server` directive options (minpoll, maxpoll, iburst, ...). */
  options: Partial<NtpSourceOptions>;
  /** The name it was given by (default its address, 192.0.2.N). */
  name?: string;
}

/** chrony 4.3's figures for the same scenario (SIM-SCENARIOS.md), seconds. */
export interface ChronyFigures {
  sync: number;
  rms: number;
  max: number;
}

/** A complete scenario. */
export interface Scenario {
  /** Name as in SIM-SCENARIOS.md. */
  name: string;
  /** Seed of every random draw of the run. */
  seed: number;
  /** True time at the start. */
  start: Timestamp;
  /** Simulated run length, seconds. */
  duration: number;
  /** RMS and max offset are taken from this second on, seconds. */
  warmup: number;
  client: ScenarioClient;
  sources: ScenarioSource[];
  /** True time of the UTC midnight at which a second is inserted, if any. */
  leapInsertAt?: Timestamp | null;
  /** chrony 4.3's figures, where known. */
  chrony?: ChronyFigures;
  /** `smoothtime`: the client also serves smoothed time (measured as `smoothing` in the result). */
  smoothing?: SmoothingOptions;
}
