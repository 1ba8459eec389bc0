/**
 * `deno task bench`: runs every benchmark one after another as a subprocess
 * and passes its output through. Each prints horae's figures beside the real
 * chrony's, measured in the same run.
 *
 * - `bench/oneshot.ts --runs 10`: `chronyd -Q` wall time and offset;
 * - `bench/idle.ts --seconds 60`: idle daemon memory (beside Deno's floor), CPU and wake-ups;
 * - `bench/server.ts --seconds 2`: NTP server replies/s and memory;
 * - `bench/server.ts --seconds 2 --workers 2`: the same with `serverworkers 2` (horae only);
 * - `bench/sim.ts` and `bench/nts.ts` when those files exist;
 * - `bench/nts_cost.ts`: µs per NTS request in process and its parts;
 * - `bench/startup.ts`: the single file's start-up (first and cached) beside chronyd's.
 *
 * Each bench is bounded: it is stopped by its PID (SIGTERM, then SIGKILL)
 * when it runs past its limit, and the next one runs. The whole run takes
 * under about 4 minutes. `--quick` shortens every bench (smoke run). Exit
 * status is 1 when any bench failed or timed out.
 *
 * @example
 * ```sh
 * ./denow task bench
 * ./denow run -A bench/all.ts --quick
 * ```
 * @module
 */

const HERE = new URL(".", import.meta.url).pathname;
const quick = Deno.args.includes("--quick");

/** One benchmark to run. */
interface Bench {
  file: string;
  args: string[];
  /** Hard limit, seconds. */
  limit: number;
}

const BENCHES: Bench[] = [
  { file: "oneshot.ts", args: ["--runs", quick ? "2" : "10"], limit: 120 },
  { file: "idle.ts", args: ["--seconds", quick ? "5" : "60"], limit: 100 },
  { file: "server.ts", args: ["--seconds", quick ? "1" : "2"], limit: 60 },
  { file: "server.ts", args: ["--seconds", quick ? "1" : "2", "--workers", "2"], limit: 90 },
  { file: "sim.ts", args: quick ? ["--quick"] : [], limit: 60 },
  { file: "nts.ts", args: quick ? ["--quick"] : [], limit: 60 },
  {
    file: "nts_cost.ts",
    args: quick ? ["--n", "2000", "--rounds", "3", "--cpu-n", "30000"] : [],
    limit: 60,
  },
  { file: "startup.ts", args: quick ? ["--runs", "3", "--first", "1"] : [], limit: 120 },
];

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Runs one bench with inherited output; returns a one-line result. */
async function runBench(b: Bench): Promise<{ ok: boolean; line: string }> {
  const start = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${HERE}${b.file}`, ...b.args],
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  let timedOut = false;
  const term = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGTERM"); // oneshot.ts and idle.ts stop their own processes on SIGTERM
    } catch { /* gone */ }
  }, b.limit * 1000);
  const kill = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, b.limit * 1000 + 5000);
  try {
    const status = await child.status;
    const s = ((performance.now() - start) / 1000).toFixed(1);
    if (timedOut) return { ok: false, line: `stopped after its ${b.limit} s limit` };
    return status.success
      ? { ok: true, line: `ok (${s} s)` }
      : { ok: false, line: `failed, exit code ${status.code} (${s} s)` };
  } finally {
    clearTimeout(term);
    clearTimeout(kill);
  }
}

const results: string[] = [];
let failed = false;
const t0 = performance.now();
for (const b of BENCHES) {
  if (!exists(`${HERE}${b.file}`)) continue;
  console.log(`\n=== bench/${b.file} ${b.args.join(" ")} (limit ${b.limit} s) ===`);
  const r = await runBench(b);
  if (!r.ok) failed = true;
  results.push(`  bench/${b.file}: ${r.line}`);
}
console.log(`\n=== summary (${((performance.now() - t0) / 1000).toFixed(0)} s) ===`);
for (const line of results) console.log(line);
if (failed) Deno.exit(1);
