/**
 * Shell-style wildcards for `include PATTERN` (`*`, `?`, `[abc]`, `[!a-z]`)
 * over an injected directory lister, so tests need no disk. Like glob(3), a
 * wildcard does not match a leading `.` and results are sorted.
 *
 * @example
 * ```ts
 * import { expandGlob, matchGlob } from "./glob.ts";
 * matchGlob("*.conf", "a.conf"); // true
 * expandGlob("/etc/chrony.d/*.conf", () => ["b.conf", "a.conf", "x.txt"]);
 * // ["/etc/chrony.d/a.conf", "/etc/chrony.d/b.conf"]
 * ```
 * @module
 */

/**
 * Lists the entry names (not paths) of a directory; throws if it cannot, with
 * an error {@link isFileAccessError} recognises.
 */
export type ListDir = (dir: string) => string[];

/**
 * Whether `e` is how a {@link ListDir} (or a `ReadFile`) says that a path
 * cannot be read: an Error with the errno's name in `code` ("ENOENT",
 * "EACCES"...), as Deno's file errors carry. Anything else thrown is a bug,
 * which the parser does not catch.
 */
export function isFileAccessError(e: unknown): boolean {
  return e instanceof Error && typeof (e as { code?: unknown }).code === "string";
}

/** True if the pattern has a wildcard character. */
export function hasWildcard(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

/** True if `name` (one path component) matches the wildcard `pattern`. */
export function matchGlob(pattern: string, name: string): boolean {
  if (name.startsWith(".") && !pattern.startsWith(".")) return false;
  return new RegExp(`^${globToRegex(pattern)}$`, "s").test(name);
}

function globToRegex(pattern: string): string {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] ?? "";
    if (ch === "*") out += "[^/]*";
    else if (ch === "?") out += "[^/]";
    else if (ch === "[") {
      const close = pattern.indexOf("]", i + 2);
      if (close < 0) {
        out += "\\[";
        continue;
      }
      let body = pattern.slice(i + 1, close);
      const negate = body.startsWith("!") || body.startsWith("^");
      if (negate) body = body.slice(1);
      body = body.replace(/[\\\]^]/g, (c) => `\\${c}`);
      out += `[${negate ? "^" : ""}${body}]`;
      i = close;
    } else out += ch.replace(/[.+^${}()|\\\]]/g, (c) => `\\${c}`);
  }
  return out;
}

/** Joins a directory and a name with one `/`. */
export function joinPath(dir: string, name: string): string {
  if (dir === "") return name;
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/**
 * Expands `pattern` to the sorted list of matching paths. Components without
 * wildcards are taken as they are (their existence is checked by whoever
 * reads them); directories that cannot be listed give no matches.
 */
export function expandGlob(pattern: string, listDir: ListDir): string[] {
  if (!hasWildcard(pattern)) return [pattern];
  const absolute = pattern.startsWith("/");
  const parts = pattern.split("/").filter((p) => p !== "");
  let paths = [absolute ? "/" : ""];
  let expanded = false;
  for (const part of parts) {
    const next: string[] = [];
    for (const base of paths) {
      if (!hasWildcard(part)) {
        // After a wildcard, only names that exist (glob(3) returns nothing else).
        if (expanded && !listOrEmpty(listDir, base).includes(part)) continue;
        next.push(joinPath(base, part));
        continue;
      }
      let names: string[];
      try {
        names = listDir(base === "" ? "." : base);
      } catch (e) {
        if (!isFileAccessError(e)) throw e;
        continue; // a directory that cannot be listed matches nothing, as with glob(3)
      }
      for (const n of names) if (matchGlob(part, n)) next.push(joinPath(base, n));
    }
    paths = next;
    if (hasWildcard(part)) expanded = true;
  }
  return paths.sort();
}

function listOrEmpty(listDir: ListDir, dir: string): string[] {
  try {
    return listDir(dir === "" ? "." : dir);
  } catch (e) {
    if (!isFileAccessError(e)) throw e;
    return []; // cannot be listed: nothing in it exists for the pattern
  }
}
