/**
 * lib/conf: the chrony.conf model, parser, support table and `-p` output.
 *
 * @example
 * ```ts
 * import { formatConfig, parseConfig, unsupportedUses } from "./mod.ts";
 * const r = parseConfig("pool pool.ntp.org iburst\nhwtimestamp *\n", { file: "/etc/chrony.conf" });
 * unsupportedUses(r).length; // 1
 * formatConfig(r); // "pool pool.ntp.org iburst\nhwtimestamp *\n"
 * ```
 * @module
 */

export { subnetText } from "./access.ts";
export * from "./config.ts";
export * from "./config_error.ts";
export { applyDirective, DIRECTIVES, isDirective } from "./directives.ts";
export * from "./parse.ts";
export * from "./support.ts";
export * from "./format.ts";
export { loadConfigFile, loadSourceDirs } from "./load.ts";
