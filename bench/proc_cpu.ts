/**
 * CPU time of a benchmarked server from /proc, for the benchmarks that print
 * "server CPU per reply" (bench/server.ts, bench/nts.ts; {@linkcode cpuByThread} splits it by
 * thread name): user and system time (utime, stime) of a process, all its threads (exited ones
 * included: /proc/PID/stat counts them), plus its direct children (chronyd's
 * NTS-KE helper). Resolution: one clock tick (10 ms at USER_HZ 100), so
 * measure windows of a second or more.
 *
 * @example
 * ```ts
 * import { cpuTimes } from "./proc_cpu.ts";
 * const t0 = cpuTimes(Deno.pid);
 * // ... load ...
 * const t1 = cpuTimes(Deno.pid);
 * console.log(t1.userMs - t0.userMs, t1.systemMs - t0.systemMs);
 * ```
 * @module
 */

/** Milliseconds per clock tick (USER_HZ is 100 on Linux). */
const TICK_MS = 10;

/** User and system CPU time so far, ms. */
export interface CpuTimes {
  userMs: number;
  systemMs: number;
}

/** utime and stime of one process (all threads), ms; zeros when it is gone. */
function processTimes(pid: number): CpuTimes {
  try {
    const f = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // the fields after the ")" closing comm: state is field 3, utime 14, stime 15
    const fields = f.slice(f.lastIndexOf(")") + 2).split(" ");
    return { userMs: Number(fields[11]) * TICK_MS, systemMs: Number(fields[12]) * TICK_MS };
  } catch {
    return { userMs: 0, systemMs: 0 };
  }
}

/** CPU time of `pid` (all threads) and its direct children so far, ms. */
export function cpuTimes(pid: number): CpuTimes {
  const pids = [pid];
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      const kids = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/children`).trim();
      if (kids) pids.push(...kids.split(/\s+/).map(Number));
    }
  } catch { /* gone, or no children file */ }
  const sum: CpuTimes = { userMs: 0, systemMs: 0 };
  for (const p of pids) {
    const t = processTimes(p);
    sum.userMs += t.userMs;
    sum.systemMs += t.systemMs;
  }
  return sum;
}

/** User + system CPU time of `pid` (all threads) and its direct children so far, ms. */
export function cpuMs(pid: number): number {
  const t = cpuTimes(pid);
  return t.userMs + t.systemMs;
}

/**
 * CPU time (user + system) of each live thread of `pid` and its children so far, ms, summed by
 * thread name (threads that have exited are not counted: take a split over a window in which
 * none ends).
 */
export function cpuByThread(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  const pids = [pid];
  try {
    const kids = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim();
    if (kids) pids.push(...kids.split(/\s+/).map(Number));
  } catch { /* gone or no children file */ }
  for (const p of pids) {
    try {
      for (const d of Deno.readDirSync(`/proc/${p}/task`)) {
        const f = Deno.readTextFileSync(`/proc/${p}/task/${d.name}/stat`);
        const name = f.slice(f.indexOf("(") + 1, f.lastIndexOf(")"));
        const fields = f.slice(f.lastIndexOf(")") + 2).split(" ");
        const ms = (Number(fields[11]) + Number(fields[12])) * TICK_MS;
        out.set(name, (out.get(name) ?? 0) + ms);
      }
    } catch { /* exited */ }
  }
  return out;
}
