/**
 * Which program to be: `chronyd` or `chronyc`, from the first argument
 * (`horae chronyd ...`) or from the name the process was started by
 * (a link or copy named `chronyd`/`chronyc`).
 *
 * @example
 * ```ts
 * import { personality } from "./personality.ts";
 * personality(["chronyc", "tracking"], "/usr/bin/deno").name; // "chronyc"
 * personality(["-Q"], "/usr/sbin/chronyd").name; // "chronyd"
 * personality(["chronyd", "-Q"], "chronyd").args; // ["-Q"]
 * ```
 * @module
 */

/** The chosen personality and the arguments meant for it. */
export interface Personality {
  name: "chronyd" | "chronyc" | "horae";
  args: string[];
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Chooses the personality from the arguments and argv[0]. */
export function personality(args: readonly string[], argv0: string): Personality {
  const own = baseName(argv0);
  if (own === "chronyd" || own === "chronyc") {
    // The launchers both set argv[0] and name the personality first (for
    // shells without `exec -a`): take the name once.
    return { name: own, args: args[0] === own ? args.slice(1) : [...args] };
  }
  const first = args[0];
  if (first === "chronyd" || first === "chronyc") return { name: first, args: args.slice(1) };
  return { name: "horae", args: [...args] };
}
