/**
 * An in-memory file system for parser tests: `readFile` and `listDir` over a
 * map of absolute paths to contents.
 *
 * @example
 * ```ts
 * import { memFs } from "./mem_fs.ts";
 * const fs = memFs({ "/etc/a.conf": "rtcsync\n" });
 * fs.listDir("/etc"); // ["a.conf"]
 * ```
 * @module
 */

/** A missing path, as Deno reports it (`code` "ENOENT": see isFileAccessError). */
function notFound(path: string): Error {
  return Object.assign(new Error(`ENOENT ${path}`), { code: "ENOENT" });
}

/** readFile/listDir over `files` (absolute path -> text). */
export function memFs(files: Record<string, string>): {
  readFile: (path: string) => string;
  listDir: (dir: string) => string[];
} {
  return {
    readFile(path: string): string {
      const t = files[path];
      if (t === undefined) throw notFound(path);
      return t;
    },
    listDir(dir: string): string[] {
      const prefix = dir.endsWith("/") ? dir : `${dir}/`;
      const names = new Set<string>();
      for (const p of Object.keys(files)) {
        if (p.startsWith(prefix)) names.add(p.slice(prefix.length).split("/")[0] ?? "");
      }
      if (names.size === 0) throw notFound(dir);
      return [...names];
    },
  };
}
