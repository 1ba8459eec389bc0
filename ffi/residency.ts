/**
 * Gives back the Deno executable's code pages that only start-up used (issue
 * 12: an idle daemon near Deno's memory floor).
 *
 * Starting horae runs much of Deno's machine code once (module loading, the
 * caches, the parsers, FFI set-up): ~10 MB of the executable's text stays
 * mapped, and counted in the resident set, although an idle daemon never
 * runs it again. {@link dropExecutableCode} tells the kernel (`madvise`
 * `MADV_DONTNEED`) that this process no longer needs its mappings of the
 * executable's code (its `r-xp` mappings in /proc/self/maps). Code pages
 * are never written, so nothing is lost: the page cache still holds them and
 * whatever runs later faults its pages back in (minor faults, no disk read
 * while they are cached). Read-only data mappings are left alone (their
 * relocated pages are private copies that must not be dropped).
 *
 * @example
 * ```ts
 * import { dropExecutableCode } from "./residency.ts";
 * const { beforeKiB, afterKiB } = dropExecutableCode();
 * ```
 * @module
 */
import { bindLibrary } from "./bind.ts";

const MADV_DONTNEED = 4;

let lib: { madvise: (addr: bigint, len: bigint, advice: number) => number } | null = null;

/** VmRSS of this process in KiB (NaN when unknown). */
function rssKiB(): number {
  try {
    const m = Deno.readTextFileSync("/proc/self/status").match(/^VmRSS:\s+(\d+)/m);
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** The address ranges of `maps` (a /proc/PID/maps text) that map `exe` executable. */
export function codeRanges(maps: string, exe: string): { start: bigint; length: bigint }[] {
  const out: { start: bigint; length: bigint }[] = [];
  for (const line of maps.split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) r-xp [0-9a-f]+ \S+ \d+\s+(.+)$/.exec(line);
    if (!m || m[3] !== exe) continue;
    const start = BigInt(`0x${m[1]}`);
    out.push({ start, length: BigInt(`0x${m[2]}`) - start });
  }
  return out;
}

/**
 * Drops this process's mappings of the executable's code pages; returns the
 * resident set before and after (KiB) and the ranges advised. Throws when
 * /proc or madvise is unavailable.
 */
export function dropExecutableCode(): { beforeKiB: number; afterKiB: number; ranges: number } {
  const exe = Deno.readLinkSync("/proc/self/exe");
  const ranges = codeRanges(Deno.readTextFileSync("/proc/self/maps"), exe);
  lib ??= bindLibrary(
    "libc.so.6",
    {
      madvise: { parameters: ["usize", "usize", "i32"], result: "i32" },
    } as const,
  );
  const beforeKiB = rssKiB();
  for (const r of ranges) {
    if (lib.madvise(r.start, r.length, MADV_DONTNEED) !== 0) {
      throw new Error("madvise(MADV_DONTNEED) failed");
    }
  }
  return { beforeKiB, afterKiB: rssKiB(), ranges: ranges.length };
}
