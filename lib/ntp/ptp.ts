/**
 * NTP-over-PTP (chrony.conf(5) `ptpport`, 4.x experimental): an NTP message
 * carried in a PTP event message so that NICs that time stamp only PTP
 * packets, and PTP transparent clocks, see it. The layout, as chronyd 4.3
 * sends and answers it (observed on loopback): a 34-byte PTP v2 header
 * (messageType 1 Delay_Req, versionPTP 2, messageLength = the datagram,
 * domainNumber `ptpdomain` (123), flagField with the unicast flag (0x0400),
 * correction and the rest zero), the Delay_Req body (a zero 10-byte
 * originTimestamp), then one TLV: type 0x2023, length, the NTP message.
 * chronyd ignores messages of another domain, type or without the unicast
 * flag, and plain NTP on that port. chronyd 4.8 numbers its messages
 * (sequenceId, bytes 30-31, its own counter in replies too); it is not checked.
 * Transparent clocks add their residence time to correctionField (bytes 8-15,
 * ns * 2^16): {@link ptpCorrection}.
 *
 * @example
 * ```ts
 * import { decodeNtpOverPtp, encodeNtpOverPtp } from "./ptp.ts";
 * const ptp = encodeNtpOverPtp(new Uint8Array(48).fill(0x23, 0, 1));
 * ptp.length; // 96
 * decodeNtpOverPtp(ptp)?.length; // 48
 * ```
 * @module
 */

/** Bytes before the NTP message: PTP header 34, originTimestamp 10, TLV header 4. */
export const PTP_NTP_OFFSET = 48;
/** TLV type carrying the NTP message. */
export const PTP_TLV_NTP = 0x2023;
/** PTP messageType of the carrier (Delay_Req, an event message). */
export const PTP_DELAY_REQ = 1;
/** flagField: unicastFlag (first octet, bit 2). */
export const PTP_FLAG_UNICAST = 0x0400;
/** chrony.conf(5) `ptpdomain` default. */
export const PTP_DEFAULT_DOMAIN = 123;

/** Wraps an NTP message (48 bytes or more, extension fields and MAC included). */
export function encodeNtpOverPtp(ntp: Uint8Array, domain = PTP_DEFAULT_DOMAIN): Uint8Array {
  const out = new Uint8Array(PTP_NTP_OFFSET + ntp.length);
  const v = new DataView(out.buffer);
  v.setUint8(0, PTP_DELAY_REQ);
  v.setUint8(1, 2);
  v.setUint16(2, out.length);
  v.setUint8(4, domain);
  v.setUint16(6, PTP_FLAG_UNICAST);
  v.setUint16(44, PTP_TLV_NTP);
  v.setUint16(46, ntp.length);
  out.set(ntp, PTP_NTP_OFFSET);
  return out;
}

/**
 * The NTP message inside an NTP-over-PTP datagram (a view into `bytes`),
 * or null when it is none of domain `domain`.
 */
export function decodeNtpOverPtp(
  bytes: Uint8Array,
  domain = PTP_DEFAULT_DOMAIN,
): Uint8Array | null {
  if (bytes.length < PTP_NTP_OFFSET + 48) return null;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // chronyd 4.3 also ignores a transportSpecific or minorVersionPTP nibble
  if (v.getUint8(0) !== PTP_DELAY_REQ || v.getUint8(1) !== 2) return null;
  if (v.getUint16(2) !== bytes.length || v.getUint8(4) !== domain) return null;
  if ((v.getUint16(6) & PTP_FLAG_UNICAST) === 0) return null;
  if (v.getUint16(44) !== PTP_TLV_NTP || v.getUint16(46) !== bytes.length - PTP_NTP_OFFSET) {
    return null;
  }
  return bytes.subarray(PTP_NTP_OFFSET);
}

/**
 * The correctionField of an NTP-over-PTP datagram, seconds (signed ns
 * scaled by 2^16; 0 when too short).
 */
export function ptpCorrection(bytes: Uint8Array): number {
  if (bytes.length < 16) return 0;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Number(v.getBigInt64(8)) / 65536 / 1e9;
}
