/**
 * Start-up time of the single file (`deno task compile`'s self-extracting
 * form) beside chronyd's, in the same run: `chronyc -v` / `chronyd -v`
 * through the file the first time (checksum and unpacking into an empty
 * cache) and later (cached), against Debian's `chronyc -v` and `chronyd -v`.
 * Also prints the file's size. Median of `--runs N` (default 10) for the
 * cached runs; the first run is measured `--first N` times (default 3), each
 * with a fresh cache.
 *
 * @example
 * ```sh
 * ./denow run -A bench/startup.ts --runs 10
 * ```
 * @module
 */
import { buildSelfExtracting } from "../tools/compile.ts";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}
const runs = arg("--runs", 10);
const firsts = arg("--first", 3);

async function timeOf(cmd: string, args: string[], env: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  const o = await new Deno.Command(cmd, { args, env, stdout: "null", stderr: "piped" }).output();
  const ms = performance.now() - t0;
  if (!o.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
  }
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

const work = await Deno.makeTempDir({ prefix: "horae-bench-startup-" });
try {
  const file = `${work}/horae`;
  const { bytes } = await buildSelfExtracting(file, Deno.execPath());
  const first: number[] = [];
  for (let i = 0; i < firsts; i++) {
    const cache = `${work}/cache-${i}`;
    first.push(await timeOf(file, ["chronyc", "-v"], { HORAE_CACHE: cache }));
  }
  const env = { HORAE_CACHE: `${work}/cache-0` };
  const later: Record<string, number[]> = { chronyc: [], chronyd: [] };
  const ref: Record<string, number[]> = { chronyc: [], chronyd: [] };
  const real = { chronyc: "/usr/bin/chronyc", chronyd: "/usr/sbin/chronyd" };
  const haveReal = (p: string) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < runs; i++) {
    for (const name of ["chronyc", "chronyd"] as const) {
      later[name]!.push(await timeOf(file, [name, "-v"], env));
      if (haveReal(real[name])) ref[name]!.push(await timeOf(real[name], ["-v"], {}));
    }
  }
  const f = (ms: number) => `${ms.toFixed(1)} ms`;
  console.log(`single file: ${(bytes / 1e6).toFixed(1)} MB (${file.replace(work, "TMP")})`);
  console.log("| what | horae single file | chrony 4.3 |");
  console.log("| --- | --- | --- |");
  console.log(
    `| first run, chronyc -v (checksum + unpack; median of ${firsts}) | ${f(median(first))} | - |`,
  );
  for (const name of ["chronyc", "chronyd"] as const) {
    console.log(
      `| ${name} -v, cached (median of ${runs}) | ${f(median(later[name]!))} | ${
        ref[name]!.length ? f(median(ref[name]!)) : "n/a"
      } |`,
    );
  }
} finally {
  await Deno.remove(work, { recursive: true });
}
