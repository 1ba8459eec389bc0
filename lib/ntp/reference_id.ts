/**
 * Reference IDs (RFC 5905 §7.3): the 32-bit field naming a server's source.
 * For an IPv4 upstream it is the address; for IPv6 the first four bytes of
 * the MD5 hash of the 16-byte address; for a refclock or a Kiss-o'-Death
 * packet it is up to four ASCII characters, left-aligned, zero-padded.
 *
 * @example
 * ```ts
 * import { formatRefId, refIdFromAddress, refIdFromText } from "./reference_id.ts";
 * formatRefId(refIdFromAddress("192.168.0.1")); // "C0A80001"
 * refIdFromText("PPS"); // 0x50505300
 * ```
 * @module
 */
import { addressRefId, parseIp, parseIpv6 as parseIpv6Bytes, REFID_LOCAL } from "../net/address.ts";

/** Reference ID, unsigned 32 bits. */
export type ReferenceId = number;

/** Reference ID of our local reference (lib/net/address.ts). */
export { REFID_LOCAL };

/** Error for an address that is neither IPv4 nor IPv6 text. */
export class ReferenceIdError extends Error {
  readonly code = "address" as const;
  constructor(address: string) {
    super(`not an IP address: ${address}`);
    this.name = "ReferenceIdError";
  }
}

/** Parses IPv6 text (with `::`, a trailing dotted quad, a dropped `%zone`) into 16 bytes; `null` if invalid. */
export function parseIpv6(text: string): Uint8Array | null {
  return parseIpv6Bytes(text, true);
}

/**
 * Reference ID of an upstream address: the IPv4 address itself, or for IPv6
 * the first 4 bytes of MD5 over the 16 address bytes (RFC 5905 §7.3).
 * Throws {@link ReferenceIdError} for anything else.
 */
export function refIdFromAddress(address: string): ReferenceId {
  const a = parseIp(address, true);
  if (a === null) throw new ReferenceIdError(address);
  return addressRefId(a);
}

/** MD5 (RFC 1321), as used for IPv6 reference IDs (lib/net/md5.ts). */
export { md5 } from "../net/md5.ts";

/** Reference ID from up to four ASCII characters ("GPS", "PPS", "RATE"), zero-padded. */
export function refIdFromText(text: string): ReferenceId {
  let id = 0;
  for (let i = 0; i < 4; i++) id = (id << 8) | (text.charCodeAt(i) & 0xff || 0);
  return id >>> 0;
}

/** Printable ASCII of a reference ID, stopping at the first NUL ("RATE", "PPS"). */
export function refIdToText(id: ReferenceId): string {
  let s = "";
  for (let shift = 24; shift >= 0; shift -= 8) {
    const c = (id >>> shift) & 0xff;
    if (c === 0) break;
    s += c >= 0x20 && c < 0x7f ? String.fromCharCode(c) : "?";
  }
  return s;
}

/** Eight upper-case hex digits as chronyc prints a reference ID ("7F7F0101"). */
export function formatRefId(id: ReferenceId): string {
  return (id >>> 0).toString(16).toUpperCase().padStart(8, "0");
}

/** Dotted-quad text of a reference ID read as an IPv4 address ("127.127.1.1"). */
export function refIdToIpv4(id: ReferenceId): string {
  return [24, 16, 8, 0].map((s) => (id >>> s) & 0xff).join(".");
}
