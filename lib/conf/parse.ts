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
 * Lines are cut as chronyd 4.3 reads them (checked by running it, see
 * tests/conf/chronyd_accept_test.ts): white space is C's (space, tab, CR,
 * LF, VT, FF; not a no-break space nor a byte-order mark, which make the
 * line an invalid directive); a file is read in pieces of at most
 * {@link MAX_LINE_BYTES} bytes ending at a newline, each piece counting as a
 * line; a line ends at a NUL byte; a piece of {@link MAX_LINE_BYTES} bytes
 * without a NUL is refused ("String too long"), so a line holds at most 2046
 * bytes before its newline (2047 at the end of the file). In `sourcedir`
 * files the first piece not ending with a newline (before any NUL) ends the
 * file, and the lines after it are ignored.
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
import { expandGlob, isFileAccessError, joinPath, type ListDir } from "./glob.ts";

/** Reads a whole text file; throws if it cannot, as {@link ListDir} does. */
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
  /** Sources of `sourcedir` files: added after every configuration file's, as chronyd does. */
  dirSources: SourceConfig[];
}

function noRead(path: string): string {
  throw new Error(`no file access to read ${path}`);
}

function noList(): string[] {
  return [];
}

/** chronyd's line buffer, bytes; a line of this many bytes (newline included) is too long. */
export const MAX_LINE_BYTES = 2048;

/** C's isspace(3) in the C locale. */
const C_SPACE = "[ \\t\\n\\r\\v\\f]";
const C_SPACES = new RegExp(`${C_SPACE}+`);
const C_TRIM = new RegExp(`^${C_SPACE}+|${C_SPACE}+$`, "g");

/** The words of a line, split at C white space. */
export function splitWords(line: string): string[] {
  const t = line.replace(C_TRIM, "");
  return t === "" ? [] : t.split(C_SPACES);
}

/** One line as chronyd reads it: see the module doc. */
export interface RawLine {
  /** Text up to the first NUL, without the newline. */
  text: string;
  /** 1-based line number (pieces of an over-long line count one each). */
  line: number;
  /** The piece filled the buffer without a NUL: chronyd refuses it. */
  tooLong: boolean;
  /** The text before any NUL ended with a newline. */
  terminated: boolean;
}

function utf8Length(cp: number): number {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/** Cuts a file's text into the lines chronyd reads (see the module doc). */
export function readLines(text: string): RawLine[] {
  const out: RawLine[] = [];
  const rows = text.split("\n");
  let n = 0;
  for (let r = 0; r < rows.length; r++) {
    const last = r === rows.length - 1;
    let row = rows[r]!;
    if (last && row === "") break;
    if (!last) row += "\n";
    while (row.length > 0) {
      let piece = row;
      // Fast path: short enough in any encoding.
      if (row.length * 4 >= MAX_LINE_BYTES) {
        let bytes = 0, i = 0;
        while (i < row.length) {
          const cp = row.codePointAt(i)!;
          const b = utf8Length(cp);
          if (bytes + b > MAX_LINE_BYTES) break;
          bytes += b;
          i += cp > 0xffff ? 2 : 1;
        }
        piece = row.slice(0, i);
        if (bytes + (i < row.length ? utf8Length(row.codePointAt(i)!) : 0) > MAX_LINE_BYTES) {
          // A character across the end of the buffer: chronyd's piece is full.
          bytes = MAX_LINE_BYTES;
        }
        row = row.slice(i);
        const nul = piece.indexOf("\0");
        const before = nul < 0 ? piece : piece.slice(0, nul);
        out.push({
          text: before.endsWith("\n") ? before.slice(0, -1) : before,
          line: ++n,
          tooLong: nul < 0 && bytes >= MAX_LINE_BYTES,
          terminated: before.endsWith("\n"),
        });
        continue;
      }
      row = "";
      const nul = piece.indexOf("\0");
      const before = nul < 0 ? piece : piece.slice(0, nul);
      out.push({
        text: before.endsWith("\n") ? before.slice(0, -1) : before,
        line: ++n,
        tooLong: false,
        terminated: before.endsWith("\n"),
      });
    }
  }
  return out;
}

/** chronyd's reason for a line that does not fit its buffer. */
export const TOO_LONG = "String too long";

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
    dirSources: [],
  };
}

function fail(st: State, e: unknown): void {
  if (!(e instanceof ConfigError)) throw e;
  if (!st.collect) throw e;
  st.errors.push(e);
}

/** Parses one line; `file`/`line` locate it. Comment and blank lines do nothing. */
function parseLine(st: State, raw: string, file: string, line: number, depth: number): void {
  const words = splitWords(raw);
  if (words.length === 0 || isComment(words[0]!)) return;
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
  for (const l of readLines(text)) {
    if (l.tooLong) {
      fail(st, new ConfigError(file, l.line, TOO_LONG));
      continue;
    }
    parseLine(st, l.text, file, l.line, depth);
  }
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
  // chronyd 4.3 (and 4.8) accept a pattern that matches nothing, and read a
  // directory as an empty file.
  const paths = expandGlob(pattern, st.listDir);
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
    } catch (e) {
      if (!isFileAccessError(e)) throw e;
      continue; // a directory that cannot be listed counts as empty (see above)
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
    } catch (e) {
      if (!isFileAccessError(e)) throw e;
      continue; // vanished or unreadable between listing and reading; chronyd skips it too
    }
    parseText(st, text, path, depth + 1);
  }
}

function loadSourceDirs(st: State, dirs: string[]): void {
  const loaded = readSourceDirs(dirs, { readFile: st.readFile, listDir: st.listDir });
  st.dirSources.push(...loaded.sources);
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
 * end every line with a newline, the first line that does not (a file still
 * being written, a NUL byte, a line too long for chronyd's buffer) ends the
 * file, with a warning: chronyd 4.3 ignores it and every line after it.
 */
export function parseSourceFile(text: string, file: string): SourceFileResult {
  const st = newState({ file, collectErrors: true });
  const lines = readLines(text);
  for (const l of lines) {
    if (!l.terminated) {
      if (splitWords(l.text).length > 0 || l.tooLong || lines.at(-1) !== l) {
        st.warnings.push({
          file,
          line: l.line,
          message: "ignoring unterminated line and the rest of the file",
        });
      }
      break;
    }
    const words = splitWords(l.text);
    if (words.length === 0 || isComment(words[0]!)) continue;
    const name = words[0]!.toLowerCase();
    if (!SOURCE_FILE_DIRECTIVES.includes(name)) {
      st.errors.push(new ConfigError(file, l.line, `"${name}" is not allowed in a sources file`));
      continue;
    }
    parseLine(st, l.text, file, l.line, 0);
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
    } catch (e) {
      if (!isFileAccessError(e)) throw e;
      continue; // vanished or unreadable since the listing: skipped, as chronyd does
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
  st.config.sources.push(...st.dirSources);
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
  lines.forEach((l, i) => {
    // Each argument is copied into chronyd's line buffer: the same limit.
    const bytes = new TextEncoder().encode(l).length;
    if (bytes >= MAX_LINE_BYTES) fail(st, new ConfigError(COMMAND_LINE, i + 1, TOO_LONG));
    else parseLine(st, l, COMMAND_LINE, i + 1, 0);
  });
  st.config.sources.push(...st.dirSources);
  return { config: st.config, directives: st.directives, errors: st.errors, warnings: st.warnings };
}
