/**
 * `authselectmode` (chrony.conf(5)): the selection options sources really
 * get, from those configured and whether each NTP source is authenticated
 * (NTS or a symmetric key). Sources with `noselect` are left out of the
 * counts and keep their options. Observed with chronyd 4.3's `selectdata`
 * (EOpts column):
 * - `require`: unauthenticated NTP sources get `noselect`;
 * - `prefer`: the same, when at least one NTP source is authenticated;
 * - `mix` (default): when both kinds are present, authenticated NTP sources
 *   and reference clocks get `require` and `trust`;
 * - `ignore`: as configured.
 *
 * @example
 * ```ts
 * import { effectiveSelectOptions } from "./authselect.ts";
 * effectiveSelectOptions("mix", [{ auth: true, options: {} }, { auth: false, options: {} }]);
 * // [{ require: true, trust: true }, {}]
 * ```
 * @module
 */
import type { SourceSelectOptions } from "./select.ts";

/** chrony.conf(5) authselectmode. */
export type AuthSelectMode = "require" | "prefer" | "mix" | "ignore";

/** One source: `auth` true/false for NTP sources, null for a reference clock. */
export interface AuthSelectSource {
  auth: boolean | null;
  options: SourceSelectOptions;
}

/** The effective options of each source, in the same order. */
export function effectiveSelectOptions(
  mode: AuthSelectMode,
  sources: readonly AuthSelectSource[],
): SourceSelectOptions[] {
  const counted = sources.filter((s) => !s.options.noselect);
  const auth = counted.filter((s) => s.auth === true).length;
  const unauth = counted.filter((s) => s.auth === false).length;
  return sources.map((s) => {
    const o = s.options;
    if (o.noselect || mode === "ignore") return o;
    if (s.auth === false && (mode === "require" || (mode === "prefer" && auth > 0))) {
      return { ...o, noselect: true };
    }
    if (mode === "mix" && auth > 0 && unauth > 0 && s.auth !== false) {
      return { ...o, require: true, trust: true };
    }
    return o;
  });
}
