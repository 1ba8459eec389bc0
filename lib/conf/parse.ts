/**
 * The chrony.conf parser. Sans-IO: it takes the text and, for `include`,
 * `confdir` and `sourcedir`, a `readFile` and a `listDir` function, so tests
 * run on an in-memory file system. Like chronyd, the first bad line stops the
 * parse with a `ConfigError` naming file and line (or, with `collectErrors`,
 * every bad line is collected and skipped).
 *
 * Syntax (chrony.conf(5)): one directive per line, words separated by white
 * space, directive names case-insensitive; a line whose first non-blank
 * character is `!`, `;`, `#` or `%` is a comment.
 *
 * @example
 * ```ts
 * import { parseConfig } from "./parse.ts";
 * const files: Record<string, string> = { "/etc/chrony.d/a.conf": "makestep 1 3\n" };
 * const r = parseConfig("server ntp.example.net iburst\nconfdir /etc/chrony.d\n", {
 *   file: "/etc/chrony.conf",
 *   readFile: (p) => files[p] ?? (() => { throw new Error("ENOENT"); })(),
 *   listDir: (d) => Object.keys(files).filter((p) => p.startsWith(d + "/")).map((p) => p.slice(d.length + 1)),
 * });
 * r.config.makestep; // { threshold: 1, limit: 3 }
 * ```
 * @module
 */

import { ArgReader } from "./args.ts";
import { type Config, defaultConfig, type SourceConfig } from "./config.ts";
import { ConfigError, type ConfigWarning } from "./config_error.ts";
import { applyDirective } from "./directives.ts";
import { expandGlob, joinPath, type ListDir } from "./glob.ts";

/** Reads a whole text file; throws if it cannot. */
export type ReadFile = (path: string) => string;

/** One directive as it appeared, after comment and blank-line removal. */
export interface ParsedDirective {
  /** Directive name in lower case. */
  name: string;
  file: string;
  /** 1-based line number. */
  line: number;
  /** The words after the name, as written. */
  args: string[];
  /** The line normalised: words joined by single spaces, name as written. */
  text: string;
  /** True for lines of `sourcedir` files. */
  fromSourceDir: boolean;
}

/** What a parse produces. */
export interface ParseResult {
  config: Config;
  /** Every directive in the order it took effect (include/confdir contents inline). */
  directives: ParsedDirective[];
  /** Bad lines skipped; always empty unless `collectErrors` was set. */
  errors: ConfigError[];
  warnings: ConfigWarning[];
}

/** File access and behaviour of a parse. */
export interface ParseOptions {
  /** Name of the text's file for messages. Default `"chrony.conf"`. */
  file?: string;
  /** Reads included files. Default: every read fails. */
  readFile?: ReadFile;
  /** Lists directories for `confdir`, `sourcedir` and `include` wildcards. Default: empty. */
  listDir?: ListDir;
  /** Collect bad lines in `errors` and go on instead of throwing the first. */
  collectErrors?: boolean;
}

/** File name used for configuration lines given as chronyd arguments. */
export const COMMAND_LINE = "command line";

// Guard against include loops; chronyd has a similar fixed nesting limit.
const MAX_INCLUDE_DEPTH = 10;

// chrony.conf(5): sourcedir files may only specify NTP sources.
const SOURCE_FILE_DIRECTIVES = ["server", "pool", "peer"];

interface State {
  config: Config;
  directives: ParsedDirective[];
  errors: ConfigError[];
  warnings: ConfigWarning[];
  readFile: ReadFile;
  listDir: ListDir;
  collect: boolean;
}

function noRead(path: string): string {
  throw new Error(`no file access to read ${path}`);
}

function noList(): string[] {
  return [];
}

function isComment(trimmed: string): boolean {
  const c = trimmed[0];
  return c === "!" || c === ";" || c === "#" || c === "%";
}

function newState(opts: ParseOptions): State {
  return {
    config: defaultConfig(),
    directives: [],
    errors: [],
    warnings: [],
    readFile: opts.readFile ?? noRead,
    listDir: opts.listDir ?? noList,
    collect: opts.collectErrors ?? false,
  };
}

function fail(st: State, e: unknown): void {
  if (!(e instanceof ConfigError)) throw e;
  if (!st.collect) throw e;
  st.errors.push(e);
}

/** Parses one line; `file`/`line` locate it. Comment and blank lines do nothing. */
function parseLine(st: State, raw: string, file: string, line: number, depth: number): void {
  const trimmed = raw.trim();
  if (trimmed === "" || isComment(trimmed)) return;
  const words = trimmed.split(/\s+/);
  const [written = "", ...args] = words;
  const name = written.toLowerCase();
  try {
    const r = new ArgReader(args, { file, line, directive: name, warnings: st.warnings });
    applyDirective(st.config, written, r);
    if (name !== "include" && name !== "confdir") {
      st.directives.push({ name, file, line, args, text: words.join(" "), fromSourceDir: false });
    }
    if (name === "include") includeFiles(st, args[0] ?? "", file, line, depth);
    else if (name === "confdir") includeDirs(st, args, ".conf", depth);
    else if (name === "sourcedir") loadSourceDirs(st, args);
  } catch (e) {
    fail(st, e);
  }
}

function parseText(st: State, text: string, file: string, depth: number): void {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) parseLine(st, lines[i] ?? "", file, i + 1, depth);
}

function readOrFail(st: State, path: string, file: string, line: number): string {
  try {
    return st.readFile(path);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new ConfigError(file, line, `could not open "${path}": ${why}`);
  }
}

function includeFiles(st: State, pattern: string, file: string, line: number, depth: number) {
  if (depth >= MAX_INCLUDE_DEPTH) {
    throw new ConfigError(file, line, `include nested too deeply (${MAX_INCLUDE_DEPTH})`);
  }
  const paths = expandGlob(pattern, st.listDir);
  // chrony.conf(5): at least one file is required to exist.
  if (paths.length === 0) throw new ConfigError(file, line, `no files match "${pattern}"`);
  for (const p of paths) parseText(st, readOrFail(st, p, file, line), p, depth + 1);
}

/**
 * Files with `suffix` from `dirs`, in lexicographic order of their names; a
 * name found in an earlier directory hides the same name in later ones
 * (chrony.conf(5) confdir). Directories that cannot be listed count as empty.
 */
export function dirFiles(dirs: readonly string[], suffix: string, listDir: ListDir): string[] {
  const byName = new Map<string, string>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = listDir(dir);
    } catch {
      continue;
    }
    for (const n of names) {
      if (n.endsWith(suffix) && !n.startsWith(".") && !byName.has(n)) {
        byName.set(n, joinPath(dir, n));
      }
    }
  }
  return [...byName.keys()].sort().map((n) => byName.get(n) ?? n);
}

function includeDirs(st: State, dirs: string[], suffix: string, depth: number): void {
  for (const path of dirFiles(dirs, suffix, st.listDir)) {
    let text: string;
    try {
      text = st.readFile(path);
    } catch {
      continue; // vanished or unreadable between listing and reading; chronyd skips it too
    }
    parseText(st, text, path, depth + 1);
  }
}

function loadSourceDirs(st: State, dirs: string[]): void {
  const loaded = readSourceDirs(dirs, { readFile: st.readFile, listDir: st.listDir });
  st.config.sources.push(...loaded.sources);
  st.directives.push(...loaded.directives);
  st.warnings.push(...loaded.warnings);
  for (const e of loaded.errors) {
    st.warnings.push({ file: e.file, line: e.line, message: `skipped: ${e.reason}` });
  }
}

/** What a `.sources` file (or all files of some sourcedirs) yields. */
export interface SourceFileResult {
  sources: SourceConfig[];
  directives: ParsedDirective[];
  /** Bad lines, skipped (chronyd 4.3 skips them and keeps the file's other sources). */
  errors: ConfigError[];
  warnings: ConfigWarning[];
}

/**
 * Parses the text of one `sourcedir` file: only server, pool and peer lines
 * are allowed. A bad line does not stop the daemon: it is skipped and
 * reported in `errors`, as chronyd does. As chrony.conf(5) says such files
 * end every line with a newline, an unterminated last line (a file still
 * being written) is ignored with a warning.
 */
export function parseSourceFile(text: string, file: string): SourceFileResult {
  const st = newState({ file, collectErrors: true });
  let lines = text.split("\n");
  const last = lines[lines.length - 1] ?? "";
  lines = lines.slice(0, -1);
  if (last.trim() !== "") {
    st.warnings.push({ file, line: lines.length + 1, message: "ignoring unterminated last line" });
  }
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? "";
    const trimmed = raw.trim();
    if (trimmed === "" || isComment(trimmed)) continue;
    const name = (trimmed.split(/\s+/)[0] ?? "").toLowerCase();
    if (!SOURCE_FILE_DIRECTIVES.includes(name)) {
      st.errors.push(new ConfigError(file, i + 1, `"${name}" is not allowed in a sources file`));
      continue;
    }
    parseLine(st, raw, file, i + 1, 0);
  }
  for (const s of st.config.sources) s.fromSourceDir = true;
  for (const d of st.directives) d.fromSourceDir = true;
  return {
    sources: st.config.sources,
    directives: st.directives,
    errors: st.errors,
    warnings: st.warnings,
  };
}

/**
 * Reads every `*.sources` file of `dirs` (same ordering rules as confdir).
 * The daemon calls this again on `reload sources`.
 */
export function readSourceDirs(
  dirs: readonly string[],
  io: { readFile: ReadFile; listDir: ListDir },
): SourceFileResult {
  const out: SourceFileResult = { sources: [], directives: [], errors: [], warnings: [] };
  for (const path of dirFiles(dirs, ".sources", io.listDir)) {
    let text: string;
    try {
      text = io.readFile(path);
    } catch {
      continue;
    }
    const r = parseSourceFile(text, path);
    out.sources.push(...r.sources);
    out.directives.push(...r.directives);
    out.errors.push(...r.errors);
    out.warnings.push(...r.warnings);
  }
  return out;
}

/** Parses a whole configuration file's text. See the module doc. */
export function parseConfig(text: string, options: ParseOptions = {}): ParseResult {
  const st = newState(options);
  parseText(st, text, options.file ?? "chrony.conf", 0);
  return { config: st.config, directives: st.directives, errors: st.errors, warnings: st.warnings };
}

/**
 * Parses configuration lines given as chronyd arguments
 * (`chronyd -q 'server x iburst'`): each argument is one line, located as
 * `command line:N` with N the argument's 1-based index.
 */
export function parseCommandLine(
  lines: readonly string[],
  options: Omit<ParseOptions, "file"> = {},
): ParseResult {
  const st = newState(options);
  lines.forEach((l, i) => parseLine(st, l, COMMAND_LINE, i + 1, 0));
  return { config: st.config, directives: st.directives, errors: st.errors, warnings: st.warnings };
}
