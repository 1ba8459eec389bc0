/**
 * The one error type the NTP codec throws. Every malformed input ends up as a
 * `PacketError` with a `code` saying which rule it broke, so callers can count
 * or log it without parsing messages.
 *
 * @example
 * ```ts
 * import { PacketError } from "./packet_error.ts";
 * try {
 *   throw new PacketError("short", "12 bytes, need 48");
 * } catch (e) {
 *   if (e instanceof PacketError) console.log(e.code); // "short"
 * }
 * ```
 * @module
 */

/** Which rule a malformed packet broke. */
export type PacketErrorCode =
  | "short" // fewer bytes than the 48-byte header
  | "version" // version field outside 1..4
  | "mode" // a mode whose format this codec does not handle (6, 7)
  | "length" // trailing bytes that are neither extension fields nor a MAC
  | "extension" // an extension field breaking RFC 7822 rules
  | "value"; // a field value that cannot be encoded

/** A packet could not be decoded or encoded. */
export class PacketError extends Error {
  /** Which rule was broken. */
  readonly code: PacketErrorCode;

  constructor(code: PacketErrorCode, detail: string) {
    super(`NTP packet ${code}: ${detail}`);
    this.name = "PacketError";
    this.code = code;
  }
}
