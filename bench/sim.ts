/**
 * `deno task bench:sim`: runs every simulation scenario of
 * `/work/shared/SIM-SCENARIOS.md` (lib/sim) and prints one JSON object per
 * line per scenario with horae's figures beside chrony 4.3's where the page
 * gives them (measured by the real chronyd in a clock and network simulator
 * with the same parameters; horae's are measured here, in this run, on the
 * deterministic simulator). Offsets are the client's clock minus UTC, in
 * seconds; `sync_time_s` is the first second at which |offset| < 1 ms; RMS
 * and max are taken from the warm-up to the end. Run lengths are the
 * page's own (`--quick` divides them by 10 for a smoke run).
 *
 * @example
 * ```sh
 * deno task bench:sim            # all scenarios
 * deno task bench:sim lan leap   # only these
 * ```
 * @module
 */
import { runScenario, type SimResult } from "../lib/sim/simulation.ts";
import { scenario, SCENARIO_NAMES } from "../lib/sim/scenarios.ts";

function row(r: SimResult, chrony: { sync: number; rms: number; max: number } | undefined) {
  const sig = (x: number): number => Number(x.toPrecision(4));
  return {
    scenario: r.scenario,
    sync_time_s: r.syncTime,
    rms_offset_s: sig(r.rmsOffset),
    max_offset_s: sig(r.maxOffset),
    freq_error_ppm: sig(r.freqError),
    ...(chrony
      ? { chrony_sync_s: chrony.sync, chrony_rms_s: chrony.rms, chrony_max_s: chrony.max }
      : {}),
    seed: r.seed,
    duration_s: r.duration,
    warmup_s: r.warmup,
    final_offset_s: sig(r.finalOffset),
    steps: r.steps,
    updates: r.updates,
    first_update_s: r.firstUpdate === null ? null : sig(r.firstUpdate),
    early_requests: r.earlyRequests,
    ...(r.resyncAfterStep !== null ? { resync_after_step_s: r.resyncAfterStep } : {}),
    ...(r.scenario === "leap" ? { leap_applied: r.leapApplied } : {}),
    sources: r.sources.map((s) => `${s.mark}${s.address}/${s.poll}`).join(" "),
  };
}

const args = Deno.args.filter((a) => !a.startsWith("--"));
const quick = Deno.args.includes("--quick");
const names = args.length > 0 ? args : SCENARIO_NAMES;
for (const name of names) {
  const s = scenario(name);
  const t0 = performance.now();
  const r = runScenario(s, quick ? { duration: s.duration / 10 } : {});
  const cpu = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ ...row(r, s.chrony), cpu_s: Number(cpu.toFixed(2)) }));
}
