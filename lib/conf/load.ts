/**
 * The real-file edge of lib/conf: reads chrony.conf and whatever it
 * includes from disk with Deno, then hands the text to the sans-IO parser.
 * This is the only file in lib/conf that touches the file system.
 *
 * @example
 * ```ts
 * import { loadConfigFile } from "./load.ts";
 * const r = loadConfigFile("/etc/chrony/chrony.conf");
 * console.log(r.config.sources.length);
 * ```
 * @module
 */

import { ConfigError } from "./config_error.ts";
import { parseConfig, type ParseOptions, type ParseResult, readSourceDirs } from "./parse.ts";
import type { SourceFileResult } from "./parse.ts";

/** Reads a text file from disk. */
export function readRealFile(path: string): string {
  return Deno.readTextFileSync(path);
}

/** Lists the entry names of a real directory. */
export function listRealDir(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name);
}

/**
 * Reads and parses `path` and the files it includes. Throws ConfigError for a
 * bad line, or for a main file that cannot be read (line 0).
 */
export function loadConfigFile(
  path: string,
  options: Pick<ParseOptions, "collectErrors"> = {},
): ParseResult {
  let text: string;
  try {
    text = readRealFile(path);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new ConfigError(path, 0, `could not open configuration file: ${why}`);
  }
  return parseConfig(text, {
    ...options,
    file: path,
    readFile: readRealFile,
    listDir: listRealDir,
  });
}

/** Re-reads the `*.sources` files of `dirs` from disk (`reload sources`). */
export function loadSourceDirs(dirs: readonly string[]): SourceFileResult {
  return readSourceDirs(dirs, { readFile: readRealFile, listDir: listRealDir });
}
