/**
 * The named scenarios of `/work/shared/SIM-SCENARIOS.md` with their exact
 * parameters: `lan`, `lan-1s`, `wan-asym` (with chrony 4.3's figures), and
 * `loss30`, `falsetickers`, `makestep`, `freq-minus100`, `server-step`,
 * `leap`, `iburst`; and horae's own `server-step-5ms` (5 ms at 1 s polls), `initstepslew`, `manual` (settime
 * readings, no sources) and `smoothing` (smoothtime). Common to all (SIM-SCENARIOS.md): the client starts
 * 0.1 s off with +100 ppm frequency error and a 1e-9/s random walk,
 * `server SERVER iburst`, `makestep 1 3`.
 *
 * @example
 * ```ts
 * import { scenario, SCENARIO_NAMES } from "./scenarios.ts";
 * SCENARIO_NAMES.length; // 14
 * scenario("lan").duration; // 20000
 * ```
 * @module
 */
import { fromUnixSeconds, type Timestamp } from "../time/timestamp.ts";
import type { Scenario, ScenarioClient, ScenarioSource } from "./scenario.ts";
import type { LinkSpec } from "./sim_link.ts";

/** Start of most runs: 2023-03-01T00:00:00Z (no leap second anywhere near). */
export const DEFAULT_START: Timestamp = fromUnixSeconds(1_677_628_800);
/** The leap run starts 2016-12-31T22:00:00Z, two hours before the real inserted second. */
export const LEAP_START: Timestamp = fromUnixSeconds(1_483_221_600);
/** 2017-01-01T00:00:00Z: the UTC midnight at which a second was inserted (IERS Bulletin C 52). */
export const LEAP_2016: Timestamp = fromUnixSeconds(1_483_228_800);

/** SIM-SCENARIOS.md lan path, one way: 100 µs + exponential jitter of mean 10 µs. */
const LAN: LinkSpec = { delay: 100e-6, jitter: 10e-6 };
/** The client of every scenario unless stated. */
const CLIENT: ScenarioClient = {
  offset: 0.1,
  frequencyError: 100,
  wander: 1e-9,
  makestep: { threshold: 1, limit: 3 },
};

function lanSource(extra: Partial<ScenarioSource> = {}): ScenarioSource {
  return { up: LAN, down: LAN, options: { iburst: true }, ...extra };
}

function base(name: string, duration: number, warmup: number): Scenario {
  return {
    name,
    seed: 1,
    start: DEFAULT_START,
    duration,
    warmup,
    client: { ...CLIENT },
    sources: [lanSource()],
  };
}

const BUILDERS: Record<string, () => Scenario> = {
  "lan": () => ({ ...base("lan", 20000, 200), chrony: { sync: 7, rms: 12.9e-6, max: 43e-6 } }),
  "lan-1s": () => ({
    ...base("lan-1s", 5000, 200),
    sources: [lanSource({ options: { iburst: true, minpoll: 0, maxpoll: 0 } })],
    chrony: { sync: 4, rms: 1.14e-6, max: 7.9e-6 },
  }),
  "wan-asym": () => ({
    ...base("wan-asym", 40000, 2000),
    sources: [{
      up: { delay: 20e-3, jitter: 2e-3 },
      down: { delay: 22e-3, jitter: 2e-3 },
      options: { iburst: true },
    }],
    chrony: { sync: 7, rms: 715e-6, max: 2.13e-3 },
  }),
  "loss30": () => ({
    ...base("loss30", 20000, 200),
    // 30 % of datagrams lost in each direction (so 51 % of exchanges fail).
    sources: [lanSource({ up: { ...LAN, loss: 0.3 }, down: { ...LAN, loss: 0.3 } })],
  }),
  "falsetickers": () => ({
    ...base("falsetickers", 10000, 200),
    sources: [
      lanSource(),
      lanSource({ server: { offset: 1 } }),
      lanSource(),
      lanSource({ server: { offset: 1 } }),
      lanSource(),
    ],
  }),
  "makestep": () => ({ ...base("makestep", 5000, 200), client: { ...CLIENT, offset: 100 } }),
  "freq-minus100": () => ({
    ...base("freq-minus100", 20000, 200),
    client: { ...CLIENT, frequencyError: -100 },
  }),
  "server-step": () => ({
    ...base("server-step", 20000, 200),
    sources: [lanSource({ server: { step: { at: 10000, by: 1 } } })],
  }),
  // horae's own (issue 17, the F323 bench's case): the server steps 5 ms, polled every second
  "server-step-5ms": () => ({
    ...base("server-step-5ms", 3000, 200),
    sources: [lanSource({
      options: { iburst: true, minpoll: 0, maxpoll: 0 },
      server: { step: { at: 1500, by: 5e-3 } },
    })],
  }),
  "leap": () => ({
    ...base("leap", 14400, 200),
    start: LEAP_START,
    leapInsertAt: LEAP_2016,
  }),
  "iburst": () => ({ ...base("iburst", 600, 100) }),
  // horae's own (not in SIM-SCENARIOS.md): initstepslew steps 5 s away before normal operation
  "initstepslew": () => ({
    ...base("initstepslew", 2000, 200),
    client: { ...CLIENT, offset: 5, makestep: null, initstepslew: 1 },
  }),
  // horae's own: an isolated master set by hand (settime every 2 h, readings ±50 ms off)
  "manual": () => ({
    ...base("manual", 8 * 3600 + 60, 3600),
    client: {
      ...CLIENT,
      offset: 2,
      makestep: null,
      settime: [
        { at: 10, error: 0.05 },
        { at: 7200, error: -0.03 },
        { at: 14400, error: 0.02 },
        { at: 21600, error: -0.05 },
        { at: 28800, error: 0.04 },
      ],
    },
    sources: [],
  }),
  // smoothtime 50000 0.01 (chrony.conf(5)'s example for chronyd clients): the server
  // steps by 1 s at 5000 s; the client follows it, the time it serves glides.
  "smoothing": () => ({
    ...base("smoothing", 30000, 200),
    sources: [lanSource({ server: { step: { at: 5000, by: 1 } } })],
    smoothing: { maxFreqPpm: 50000, maxWanderPpm: 0.01, leapOnly: false },
  }),
};

/** Names of all scenarios, in SIM-SCENARIOS.md order. */
export const SCENARIO_NAMES: readonly string[] = Object.keys(BUILDERS);

/** A fresh copy of the named scenario; throws RangeError for an unknown name. */
export function scenario(name: string): Scenario {
  const build = BUILDERS[name];
  if (build === undefined) throw new RangeError(`unknown scenario "${name}"`);
  return build();
}
