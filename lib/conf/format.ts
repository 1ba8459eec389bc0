/**
 * `chronyd -p`: the whole configuration as chronyd 4.x prints it. Every
 * effective directive line in order, normalised to single spaces, with the
 * contents of `include` and `confdir` files inline in place of those lines
 * (which are not printed themselves). `sourcedir` lines are printed as they
 * are; the sources read from those directories are not, as with chronyd.
 *
 * @example
 * ```ts
 * import { parseConfig } from "./parse.ts";
 * import { formatConfig } from "./format.ts";
 * formatConfig(parseConfig("server  a   iburst\n# c\nmakestep 1 3\n"));
 * // "server a iburst\nmakestep 1 3\n"
 * ```
 * @module
 */

import type { ParseResult } from "./parse.ts";

/** The text `chronyd -p` prints: one line per directive, each ending in a newline. */
export function formatConfig(result: Pick<ParseResult, "directives">): string {
  return result.directives
    .filter((d) => !d.fromSourceDir)
    .map((d) => `${d.text}\n`)
    .join("");
}
