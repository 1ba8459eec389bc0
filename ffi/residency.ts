/**
 * Gives back the Deno executable's code pages that only start-up used (issue
 * 12: an idle daemon near Deno's memory floor).
 *
 * Starting horae runs much of Deno's machine code once (module loading, the
 * caches, the parsers, FFI set-up): ~10 MB of the executable's text stays
 * mapped, and counted in the resident set, although an idle daemon never
 * runs it again. {@link dropExecutableCode} tells the kernel (`madvise`
 * `MADV_DONTNEED`) that this process no longer needs its mappings of the
 * executable's code (its `r-xp` mappings in /proc/self/maps) and of the
 * read-only data that start-up read (V8's snapshot, Deno's own scripts: its
 * `r--p` mappings). Those pages are never written, so nothing is lost: the
 * page cache still holds them and whatever runs later faults its pages back
 * in (minor faults, no disk read while they are cached). In the read-only data
 * the relocated pages are private copies (anonymous, not file pages): those
 * must stay, so there only the pages /proc/self/pagemap shows as present file
 * pages are dropped, and nothing when pagemap cannot be read. Call
 * {@link prepareDrop} before giving up root (pagemap is root's then) and
 * before a system call filter (`-F 1` allows no readlink).
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

/** A mapping of the executable: its address range and whether it is code (r-x) or read-only data. */
export interface ExeRange {
  start: bigint;
  length: bigint;
  code: boolean;
}

/** The read-only (r-x and r--, private) mappings of `exe` in `maps` (a /proc/PID/maps text). */
export function exeRanges(maps: string, exe: string): ExeRange[] {
  const out: ExeRange[] = [];
  for (const line of maps.split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) r-([-x])p [0-9a-f]+ \S+ \d+\s+(.+)$/.exec(line);
    if (!m || m[4] !== exe) continue;
    const start = BigInt(`0x${m[1]}`);
    out.push({ start, length: BigInt(`0x${m[2]}`) - start, code: m[3] === "x" });
  }
  return out;
}

const PAGE = 4096n;
/** pagemap entry bits (high word): page present, file page or shared anonymous. */
const PM_PRESENT = 0x80000000;
const PM_FILE = 0x20000000;

/**
 * The runs of pages in [start, start + length) that are present file pages,
 * from pagemap `entries` (8 bytes per page, little-endian) of that range.
 */
export function filePageRuns(
  entries: Uint8Array,
  start: bigint,
): { start: bigint; length: bigint }[] {
  const dv = new DataView(entries.buffer, entries.byteOffset, entries.byteLength);
  const n = Math.floor(entries.byteLength / 8);
  const out: { start: bigint; length: bigint }[] = [];
  let run = -1;
  for (let i = 0; i <= n; i++) {
    const hi = i < n ? dv.getUint32(i * 8 + 4, true) : 0;
    const ok = (hi & PM_PRESENT) !== 0 && (hi & PM_FILE) !== 0;
    if (ok && run < 0) run = i;
    if (!ok && run >= 0) {
      out.push({ start: start + BigInt(run) * PAGE, length: BigInt(i - run) * PAGE });
      run = -1;
    }
  }
  return out;
}

let pagemap: Deno.FsFile | null = null;
let exePath: string | null = null;
let prepared = false;

/** Opens /proc/self/pagemap and reads the executable's path, for a later {@link dropExecutableCode}. */
export function prepareDrop(): void {
  if (prepared) return; // once: later (maybe filtered) calls must not try readlink again
  prepared = true;
  try {
    exePath ??= Deno.readLinkSync("/proc/self/exe");
    pagemap ??= Deno.openSync("/proc/self/pagemap");
  } catch { /* no pagemap: only code pages are dropped */ }
}

/** pagemap entries of a range, or null when they cannot be read. */
function pagemapEntries(start: bigint, length: bigint): Uint8Array | null {
  if (pagemap === null) return null;
  try {
    const buf = new Uint8Array(Number(length / PAGE) * 8);
    pagemap.seekSync(Number((start / PAGE) * 8n), Deno.SeekMode.Start);
    let got = 0;
    while (got < buf.length) {
      const r = pagemap.readSync(buf.subarray(got));
      if (!r) return null;
      got += r;
    }
    return buf;
  } catch {
    return null;
  }
}

/**
 * Drops this process's mappings of the executable's read-only pages (code,
 * and the file pages of read-only data); returns the resident set before and
 * after (KiB) and the ranges advised. Throws when /proc or madvise is
 * unavailable.
 */
export function dropExecutableCode(): { beforeKiB: number; afterKiB: number; ranges: number } {
  prepareDrop();
  const exe = exePath;
  if (exe === null) throw new Error("the executable's path is unknown");
  const ranges: { start: bigint; length: bigint }[] = [];
  for (const r of exeRanges(Deno.readTextFileSync("/proc/self/maps"), exe)) {
    if (r.code) {
      ranges.push(r);
      continue;
    }
    const entries = pagemapEntries(r.start, r.length);
    if (entries !== null) ranges.push(...filePageRuns(entries, r.start));
  }
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
