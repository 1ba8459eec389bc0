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
 * must stay, so there only the runs of pages that /proc/self/pagemap shows
 * are not such copies are dropped, and nothing when pagemap cannot be read.
 * {@link prepareDrop} finds those pages once, at start-up (before giving up
 * root: pagemap is root's then; before a system call filter: `-F 1` allows no
 * readlink), so the drop itself is a few `madvise` calls: scanning ~7000
 * pagemap entries at the drop made V8 compile that loop on its worker threads
 * (~15 ms of CPU in an idle daemon's first minute, issue 12).
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
/** pagemap entry bits (high word): page present, swapped, file page or shared anonymous. */
const PM_PRESENT = 0x80000000;
const PM_SWAPPED = 0x40000000;
const PM_FILE = 0x20000000;

/**
 * The runs of pages in [start, start + length) that may be advised away at any
 * later time, from pagemap `entries` (8 bytes per page, little-endian) of that
 * range: every page except private copies (present and not a file page, or
 * swapped out). In a read-only mapping the set of private copies is fixed once
 * the dynamic loader has relocated it (a page nobody may write never becomes
 * one), so runs computed at start-up stay valid; absent pages are included
 * (advising them is a no-op, and whatever faults them in later is a file page).
 */
export function droppableRuns(
  entries: Uint8Array,
  start: bigint,
): { start: bigint; length: bigint }[] {
  const words = new Uint32Array(entries.buffer, entries.byteOffset, entries.byteLength >>> 2);
  const n = words.length >>> 1;
  const out: { start: bigint; length: bigint }[] = [];
  let run = -1;
  for (let i = 0; i <= n; i++) {
    const hi = i < n ? words[i * 2 + 1]! : PM_PRESENT; // past the end: a stop
    const ok = (hi & PM_SWAPPED) === 0 && ((hi & PM_PRESENT) === 0 || (hi & PM_FILE) !== 0);
    if (ok && run < 0) run = i;
    if (!ok && run >= 0) {
      out.push({ start: start + BigInt(run) * PAGE, length: BigInt(i - run) * PAGE });
      run = -1;
    }
  }
  return out;
}

/** The lines of `maps` (a /proc/PID/maps text) that map `exe`, to tell whether they changed. */
export function exeLines(maps: string, exe: string): string {
  return maps.split("\n").filter((l) => l.endsWith(` ${exe}`)).join("\n");
}

/** What {@link prepareDrop} found: the ranges to advise and the mappings they came from. */
let plan: { ranges: { start: bigint; length: bigint }[]; lines: string } | null = null;
let exePath: string | null = null;
let prepared = false;

/**
 * Finds, once and at start-up, the executable's pages that {@link dropExecutableCode}
 * will give back: its code mappings, and in its read-only data the runs without
 * private copies (from /proc/self/pagemap, read here while still root and
 * unfiltered; without pagemap only code is dropped). Binds madvise too, so the
 * later drop is only system calls (no scan, no JS work for V8 to compile).
 */
export function prepareDrop(): void {
  if (prepared) return; // once: later (maybe filtered) calls must not try readlink again
  prepared = true;
  try {
    exePath ??= Deno.readLinkSync("/proc/self/exe");
    const maps = Deno.readTextFileSync("/proc/self/maps");
    let pagemap: Deno.FsFile | null = null;
    try {
      pagemap = Deno.openSync("/proc/self/pagemap");
    } catch { /* no pagemap: only code pages are dropped */ }
    const ranges: { start: bigint; length: bigint }[] = [];
    try {
      for (const r of exeRanges(maps, exePath)) {
        if (r.code) ranges.push(r);
        else {
          const entries = pagemap === null ? null : pagemapEntries(pagemap, r.start, r.length);
          if (entries !== null) ranges.push(...droppableRuns(entries, r.start));
        }
      }
    } finally {
      pagemap?.close();
    }
    plan = { ranges, lines: exeLines(maps, exePath) };
    bindMadvise();
  } catch { /* unknown: dropExecutableCode falls back to code pages only, or throws */ }
}

function bindMadvise(): NonNullable<typeof lib> {
  return lib ??= bindLibrary(
    "libc.so.6",
    {
      madvise: { parameters: ["usize", "usize", "i32"], result: "i32" },
    } as const,
  );
}

/** pagemap entries of a range, or null when they cannot be read. */
function pagemapEntries(pagemap: Deno.FsFile, start: bigint, length: bigint): Uint8Array | null {
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
 * and the file pages of read-only data) found by {@link prepareDrop}; returns
 * the resident set before and after (KiB) and the ranges advised. When the
 * executable's mappings changed since (never seen), only its code is dropped.
 * Throws when /proc or madvise is unavailable.
 */
export function dropExecutableCode(): { beforeKiB: number; afterKiB: number; ranges: number } {
  prepareDrop();
  const exe = exePath;
  if (exe === null) throw new Error("the executable's path is unknown");
  const maps = Deno.readTextFileSync("/proc/self/maps");
  const ranges = plan !== null && exeLines(maps, exe) === plan.lines
    ? plan.ranges
    : exeRanges(maps, exe).filter((r) => r.code);
  const madvise = bindMadvise().madvise;
  const beforeKiB = rssKiB();
  for (const r of ranges) {
    if (madvise(r.start, r.length, MADV_DONTNEED) !== 0) {
      throw new Error("madvise(MADV_DONTNEED) failed");
    }
  }
  return { beforeKiB, afterKiB: rssKiB(), ranges: ranges.length };
}
