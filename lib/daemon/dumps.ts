/**
 * Measurement-history dumps (chrony.conf(5) `dumpdir`, chronyd(8) `-r`,
 * chronyc(1) `dump`): the files, named as chronyd 4.3 names them (observed
 * here): `ADDRESS.dat` for an NTP source (`127.0.0.1.dat`, `::1.dat`) and
 * `refid:XXXXXXXX.dat` for a reference clock (its refid in lower-case hex:
 * refid `z` is `refid:7a000000.dat`). A file holds the samples the source's
 * statistics keep and its reachability register in horae's own versioned
 * text format (lib/clock/history.ts; chronyd's format is internal to it).
 *
 * As chronyd 4.3 does (observed): {@link writeDumps} writes a file (atomically)
 * for each source holding samples, at `chronyc dump` and at exit; at start
 * {@link startDumps} reloads, with `-r`, the file of each configured source
 * ("Loaded dump file for NAME"; a corrupt or foreign file: "Could not load
 * dump file for NAME" and the source starts empty), then removes every
 * `*.dat` file in the directory, with or without `-r`. The engine then
 * selects again, so a source with a reloaded history can be selected before
 * its next sample, as chronyd does.
 *
 * @module
 */
import type { HistoryHolder } from "../engine/snapshot.ts";
import type { SourceStats } from "../clock/sourcestats.ts";
import type { ReachRegister } from "../ntp/reach.ts";
import { decodeHistory, encodeHistory } from "../clock/history.ts";
import type { Logger } from "./log.ts";
import { strerror, writeFileAtomic } from "./files.ts";
import { isOsError } from "../io/os_error.ts";

/** A source whose history can be dumped. */
export interface DumpTarget {
  /** File name in the dump directory. */
  file: string;
  /** Identity written in the file (the file name without `.dat`). */
  source: string;
  /** What the log lines call it (the address, or the refclock's refid). */
  label: string;
  stats: SourceStats;
  reach: ReachRegister;
}

/** The dump file name of an NTP source at `address`. */
export function ntpDumpName(address: string): string {
  return `${address}.dat`;
}

/** The dump file name of a reference clock with reference ID `refId`. */
export function refclockDumpName(refId: number): string {
  return `refid:${(refId >>> 0).toString(16).padStart(8, "0")}.dat`;
}

/** Dump targets of the engine's history holders (the engine's historyHolders()). */
export function dumpTargets(holders: readonly HistoryHolder[]): DumpTarget[] {
  return holders.map((h) => {
    const file = h.kind === "ntp" ? ntpDumpName(h.address) : refclockDumpName(h.refId);
    const label = h.kind === "ntp" ? h.address : h.name;
    return { file, source: file.slice(0, -4), label, stats: h.stats, reach: h.reach };
  });
}

/**
 * Writes the history of every target holding samples to `dir` (atomically);
 * false when a file could not be written (each failure is logged).
 */
export function writeDumps(dir: string, targets: readonly DumpTarget[], log: Logger): boolean {
  let ok = true;
  for (const t of targets) {
    if (t.stats.sampleCount === 0) continue;
    const text = encodeHistory({
      source: t.source,
      reach: t.reach.value,
      stats: t.stats.history(),
    });
    try {
      writeFileAtomic(`${dir}/${t.file}`, text);
    } catch (e) {
      ok = false;
      log.warn(`Could not write dump file for ${t.label} : ${(e as Error).message}`);
    }
  }
  return ok;
}

/**
 * At start: with `reload` (`-r`), loads each target's file into its
 * statistics and reachability; then removes every `*.dat` file in `dir`.
 * Returns how many histories were loaded.
 */
export function startDumps(
  dir: string,
  targets: readonly DumpTarget[],
  reload: boolean,
  log: Logger,
): number {
  let loaded = 0;
  if (reload) {
    for (const t of targets) {
      const path = `${dir}/${t.file}`;
      let text: string;
      try {
        text = Deno.readTextFileSync(path);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) continue;
        log.warn(`Could not load dump file for ${t.label}`);
        log.info(`${path} : ${strerror(e)}`);
        continue;
      }
      try {
        const h = decodeHistory(text);
        if (h.source !== t.source) throw new Error(`history of ${h.source}`);
        if (!t.stats.restore(h.stats)) throw new Error("no samples");
        t.reach.restore(h.reach);
        loaded++;
        log.info(`Loaded dump file for ${t.label}`);
      } catch (e) {
        log.warn(`Could not load dump file for ${t.label}`);
        log.info(`${path} : ${(e as Error).message}`);
      }
    }
  }
  removeDumps(dir, log);
  return loaded;
}

/** Removes the `*.dat` files of `dir` (chrony.conf(5): even without `-r`). */
export function removeDumps(dir: string, log: Logger): void {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (e) {
    if (!isOsError(e)) throw e;
    return; // no directory: nothing to remove
  }
  for (const e of entries) {
    if (!e.isFile || !e.name.endsWith(".dat")) continue;
    try {
      Deno.removeSync(`${dir}/${e.name}`);
    } catch (err) {
      if (!isOsError(err)) throw err;
      log.warn(`Could not remove ${dir}/${e.name} : ${strerror(err)}`);
    }
  }
}
