/**
 * Files chronyd owns (pidfile, driftfile, dumps, keys) are written
 * atomically: into a temporary file beside the target, flushed, then renamed
 * over it, so a crash never leaves a half-written file.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./files.ts";
 * writeFileAtomic("/var/lib/chrony/drift", "  -12.345678     0.012345\n");
 * ```
 * @module
 */

/** Writes `text` to `path` atomically (temp file + fsync + rename). */
export function writeFileAtomic(path: string, text: string, mode = 0o644): void {
  const tmp = `${path}.tmp${Deno.pid}`;
  const file = Deno.openSync(tmp, { write: true, create: true, truncate: true, mode });
  try {
    const bytes = new TextEncoder().encode(text);
    let written = 0;
    while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
    file.syncSync();
  } catch (e) {
    file.close();
    try {
      Deno.removeSync(tmp);
    } catch { /* nothing to clean */ }
    throw e;
  }
  file.close();
  Deno.renameSync(tmp, path);
}
