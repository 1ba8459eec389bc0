/**
 * Version and feature line, in chronyd's form
 * (`chronyd (chrony) version 4.3 (+CMDMON +NTP ...)`), listing only features
 * this build really has; a missing one is shown as `-FEATURE`.
 *
 * @example
 * ```ts
 * import { versionLine } from "./version.ts";
 * versionLine("chronyd"); // "chronyd (horae) version 0.1.0 (+CMDMON +NTP ...) compatible with chrony 4.8"
 * ```
 * @module
 */

/** horae's version. */
export const VERSION = "0.1.0";

/**
 * The chrony release whose chronyd/chronyc horae matches: its command
 * protocol (request and reply types), chronyc's options and reports, and
 * chrony.conf(5) (what is parsed but not done yet is in docs/STATUS.md).
 */
export const CHRONY_COMPAT = "4.8";

/**
 * chronyd's feature names, in chronyd's order, and whether horae has each.
 * Flip an entry when its feature lands.
 */
export const FEATURES: ReadonlyArray<readonly [name: string, present: boolean]> = [
  ["CMDMON", true],
  ["NTP", true],
  ["REFCLOCK", true],
  ["RTC", true], // rtcfile: lib/clock/rtc.ts, lib/daemon/rtc.ts
  ["PRIVDROP", true], // -u/user: setuid + capset keeping CAP_SYS_TIME
  ["SCFILTER", true], // -F: ffi/seccomp.ts
  ["SIGND", false],
  ["ASYNCDNS", true],
  ["NTS", true],
  ["SECHASH", true], // keyfile: SHA1, SHA2, SHA3, AES-CMAC beside MD5
  ["IPV6", true],
  ["DEBUG", false],
];

/** The feature list as chronyd prints it: `+CMDMON +NTP +REFCLOCK ...`. */
export function featureList(): string {
  return FEATURES.map(([name, on]) => (on ? "+" : "-") + name).join(" ");
}

/** chronyc's feature names, in chronyc's order, and whether horae's chronyc has each. */
export const CHRONYC_FEATURES: ReadonlyArray<readonly [name: string, present: boolean]> = [
  ["READLINE", false],
  ["SECHASH", false],
  ["IPV6", true],
  ["DEBUG", false],
];

/**
 * One line: `chronyd (horae) version 0.1.0 (+CMDMON ...) compatible with chrony 4.8`, or
 * chronyc's: chronyd's form, then the chrony release horae matches.
 */
export function versionLine(program: "chronyd" | "chronyc"): string {
  const features = program === "chronyd"
    ? featureList()
    : CHRONYC_FEATURES.map(([name, on]) => (on ? "+" : "-") + name).join(" ");
  return `${program} (horae) version ${VERSION} (${features}) compatible with chrony ${CHRONY_COMPAT}`;
}
