/**
 * Files and directories the daemon owns.
 *
 * Files (driftfile, dumps, `ntsdumpdir` files, pidfile) are written
 * atomically: into `FILE.tmp` beside the target (one fixed name per file, so
 * a kill between two writes leaves at most one stale temporary file, which
 * the next write or {@link removeStaleTemporaries} at start-up removes),
 * flushed, then renamed over it, so a crash never leaves a half-written file.
 * A temporary file found in the way is unlinked first and the new one is
 * created exclusively (O_EXCL: a planted symlink is never followed), as
 * chronyd 4.3 does.
 *
 * Directories (`logdir`, `dumpdir`, `ntsdumpdir`, the command socket's) are
 * created with their missing parents at start-up, as chronyd does:
 * parents mode 0755, the directory itself its own mode, both subject to the
 * umask, only the directory itself given to the daemon's user (checked by
 * running chronyd 4.3).
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./files.ts";
 * writeFileAtomic("/var/lib/chrony/drift", "  -12.345678     0.012345\n");
 * ```
 * @module
 */

import { isOsError } from "../io/os_error.ts";

/** A failed atomic write; `message` is chronyd's wording with the system's reason. */
export class FileWriteError extends Error {
  override readonly name = "FileWriteError";
  /** The system's reason alone (strerror). */
  readonly reason: string;
  constructor(message: string, reason: string) {
    super(`${message} : ${reason}`);
    this.reason = reason;
  }
}

/**
 * The system's reason of a Deno error as strerror(3) words: "No such file or
 * directory", without Deno's " (os error 2): open '/x'" tail.
 */
export function strerror(e: unknown): string {
  if (e instanceof FileWriteError) return e.reason;
  const text = e instanceof Error ? e.message : String(e);
  const i = text.indexOf(" (os error ");
  return i >= 0 ? text.slice(0, i) : text;
}

/** The temporary file an atomic write of `path` goes through. */
export function temporaryPath(path: string): string {
  return `${path}.tmp`;
}

/**
 * Writes `text` to `path` atomically (`path.tmp` + fsync + rename). `mode`
 * is subject to the umask. Throws {@link FileWriteError}; the temporary file
 * is removed on failure.
 */
export function writeFileAtomic(path: string, text: string, mode = 0o644): void {
  const tmp = temporaryPath(path);
  removeIfPresent(tmp);
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(tmp, { write: true, createNew: true, mode });
  } catch (e) {
    throw new FileWriteError(`Could not open ${tmp}`, strerror(e));
  }
  try {
    const bytes = new TextEncoder().encode(text);
    let written = 0;
    while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
    file.syncSync();
  } catch (e) {
    file.close();
    removeIfPresent(tmp);
    throw new FileWriteError(`Could not write to ${tmp}`, strerror(e));
  }
  file.close();
  try {
    Deno.renameSync(tmp, path);
  } catch (e) {
    removeIfPresent(tmp);
    throw new FileWriteError(`Could not replace ${path} with ${tmp}`, strerror(e));
  }
}

function removeIfPresent(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (e) {
    if (!isOsError(e)) throw e;
    // not there, or not ours to remove: the exclusive open that follows reports it
  }
}

function splitPath(path: string): { dir: string; base: string } {
  const i = path.lastIndexOf("/");
  if (i < 0) return { dir: ".", base: path };
  return { dir: i === 0 ? "/" : path.slice(0, i), base: path.slice(i + 1) };
}

/**
 * Removes the temporary files atomic writes of `paths` may have left behind
 * (killed between open and rename): `FILE.tmp`, and `FILE.tmp<PID>` of
 * horae versions that named them after the process. Returns the removed
 * paths. Never throws.
 */
export function removeStaleTemporaries(paths: readonly string[]): string[] {
  const removed: string[] = [];
  const byDir = new Map<string, Set<string>>();
  for (const p of paths) {
    const { dir, base } = splitPath(p);
    if (base === "") continue;
    let set = byDir.get(dir);
    if (!set) byDir.set(dir, set = new Set());
    set.add(base);
  }
  for (const [dir, bases] of byDir) {
    let names: string[];
    try {
      names = [...Deno.readDirSync(dir)].filter((e) => e.isFile).map((e) => e.name);
    } catch (e) {
      if (!isOsError(e)) throw e;
      continue; // no such directory, or unreadable: the next write there reports it
    }
    for (const name of names) {
      const m = /^(.*)\.tmp\d*$/.exec(name);
      if (!m || !bases.has(m[1]!)) continue;
      const path = dir === "/" ? `/${name}` : `${dir}/${name}`;
      try {
        Deno.removeSync(path);
        removed.push(path);
      } catch (e) {
        if (!isOsError(e)) throw e; // gone or not removable: the next write reports it
      }
    }
  }
  return removed;
}

/**
 * Removes the stale temporary files of every file in `dir` whose name
 * passes `owned` (for directories whose files are all the daemon's, like
 * `dumpdir` and `ntsdumpdir`). Never throws.
 */
export function removeStaleTemporariesIn(dir: string, owned: (name: string) => boolean): string[] {
  const targets: string[] = [];
  try {
    for (const e of Deno.readDirSync(dir)) {
      const m = /^(.*)\.tmp\d*$/.exec(e.name);
      if (e.isFile && m && owned(m[1]!)) targets.push(`${dir}/${m[1]}`);
    }
  } catch (e) {
    if (!isOsError(e)) throw e;
    return []; // no such directory, or unreadable: the next write there reports it
  }
  return removeStaleTemporaries(targets);
}

/**
 * At start-up: removes the temporary files a killed daemon may have left
 * beside the driftfile and the pidfile and in `dumpdir` (`*.dat`) and
 * `ntsdumpdir` (`ntskeys`, `*.nts`). Each removal is logged at debug level.
 */
export function removeStaleFiles(
  config: { driftFile?: { path: string }; pidFile?: string; dumpDir?: string; ntsDumpDir?: string },
  log: { debug(message: string): void },
): void {
  const removed = removeStaleTemporaries(
    [config.driftFile?.path, config.pidFile].filter((p): p is string => !!p),
  );
  if (config.dumpDir) {
    removed.push(...removeStaleTemporariesIn(config.dumpDir, (n) => n.endsWith(".dat")));
  }
  if (config.ntsDumpDir) {
    removed.push(
      ...removeStaleTemporariesIn(config.ntsDumpDir, (n) => n === "ntskeys" || n.endsWith(".nts")),
    );
  }
  for (const p of removed) log.debug(`Removed stale temporary file ${p}`);
}

/**
 * A file's bytes as text, one character per byte (windows-1252), for files
 * read the way C's stdio reads them (the driftfile): no UTF-8 decoding, no
 * byte-order mark dropped, NUL kept. Throws Deno's errors.
 */
export function readBytesAsText(path: string): string {
  return new TextDecoder("windows-1252").decode(Deno.readFileSync(path));
}
