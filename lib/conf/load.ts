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

const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Reads a configuration file from disk as chronyd does: a byte-order mark is
 * kept (chronyd 4.3 then refuses line 1 as an invalid directive), and a
 * directory reads as an empty file (chronyd accepts `include` of one).
 */
export function readRealFile(path: string): string {
  try {
    return utf8.decode(Deno.readFileSync(path));
  } catch (e) {
    if (e instanceof Deno.errors.IsADirectory) return "";
    throw e;
  }
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
