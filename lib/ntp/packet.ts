/**
 * NTP packet codec for versions 1-4 (RFC 5905 §7.3, RFC 1305, RFC 7822): the
 * 48-byte header, NTPv4 extension fields and the MAC trailer (key id +
 * digest). Timestamps stay raw 64-bit words ({@link Ntp64}, seconds since 1900 in
 * the high 32 bits, binary fraction in the low 32) so that random transmit
 * timestamps and round trips are exact; {@link ntpToTimestamp} and
 * {@link timestampToNtp} convert to and from {@link Timestamp} with a pivot.
 *
 * Only {@link PacketError} is thrown by {@link decodePacket}.
 *
 * How the bytes after the header are read (our rule, after RFC 7822 §7.5):
 * - version 1-3: everything after the header is a MAC (4 bytes = crypto-NAK,
 *   or a 4-byte key id and a 16..64-byte digest in steps of 4); nothing else.
 * - version 4: repeatedly, 0 bytes left ends the packet; exactly 4 bytes left
 *   is a crypto-NAK; 20..24 bytes left is a MAC (a MAC never exceeds 24 bytes
 *   once extension fields may follow the header); otherwise a valid extension
 *   field (length >= 16, multiple of 4, within the packet) is taken; if none
 *   is valid there but the remainder has a MAC length (<= 68 bytes), it is a
 *   long MAC (e.g. SHA-256/512 keys); else the packet is rejected.
 * This lenient rule reads replies; the server reads requests with chronyd's
 * stricter one (`classifyTrailer` in server.ts).
 *
 * @example
 * ```ts
 * import { decodePacket, encodePacket, newPacket } from "./packet.ts";
 * import { ntp64Bits } from "../time/timestamp.ts";
 * const bytes = encodePacket({ ...newPacket(), mode: 3, transmitTs: ntp64Bits(0x1234n) });
 * decodePacket(bytes).transmitTs; // 0x1234n
 * ```
 * @module
 */
import type { LeapIndicator } from "../clock/sample.ts";
import {
  fromNtp64,
  type Ntp64,
  NTP64_ZERO,
  ntp64Bits,
  type Timestamp,
  toNtp64,
} from "../time/timestamp.ts";
import {
  type ExtensionField,
  extensionFieldLength,
  readExtensionField,
  writeExtensionField,
} from "./extension_field.ts";
import { PacketError } from "./packet_error.ts";

export { PacketError } from "./packet_error.ts";
export type { PacketErrorCode } from "./packet_error.ts";
export type { ExtensionField } from "./extension_field.ts";

/** Length of the fixed NTP header. RFC 5905 §7.3. */
export const NTP_HEADER_LENGTH = 48;
/** Bytes of a MAC key identifier. RFC 5905 §7.3. */
export const MAC_KEY_ID_LENGTH = 4;
/** Shortest digest we accept (MD5, AES-128-CMAC). */
export const MAC_MIN_DIGEST_LENGTH = 16;
/** Longest digest we accept (SHA-512). */
export const MAC_MAX_DIGEST_LENGTH = 64;
/** Longest MAC (key id + digest) when NTPv4 extension fields may be present. RFC 7822 §7.5. */
export const MAC_MAX_V4_LENGTH = 24;

/** Association modes. RFC 5905 §7.3 (Figure 10). */
export const MODE_RESERVED = 0;
export const MODE_ACTIVE = 1;
export const MODE_PASSIVE = 2;
export const MODE_CLIENT = 3;
export const MODE_SERVER = 4;
export const MODE_BROADCAST = 5;
export const MODE_CONTROL = 6;
export const MODE_PRIVATE = 7;

/** Highest NTP version. RFC 5905 §7.3. */
export const NTP_VERSION = 4;

/** Association mode 0..7. */
export type NtpMode = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7;

/** A MAC trailer: key id and digest. A crypto-NAK has an empty digest. */
export interface Mac {
  /** Key identifier (32 bits); 0 in a crypto-NAK. */
  keyId: number;
  /** Digest bytes; empty for a crypto-NAK. */
  digest: Uint8Array;
}

/** One decoded NTP packet. */
export interface NtpPacket {
  /** Leap indicator. */
  leap: LeapIndicator;
  /** Version 1..4. */
  version: number;
  /** Association mode. */
  mode: NtpMode;
  /** Stratum 0..255 (0 = unspecified or Kiss-o'-Death). */
  stratum: number;
  /** Poll interval, log2 seconds (signed 8 bits). */
  poll: number;
  /** Clock precision, log2 seconds (signed 8 bits). */
  precision: number;
  /** Root delay, seconds (NTP short format, 16.16 unsigned). */
  rootDelay: number;
  /** Root dispersion, seconds (NTP short format, 16.16 unsigned). */
  rootDispersion: number;
  /** Reference ID (32 bits, unsigned). */
  referenceId: number;
  /** Reference timestamp, raw NTP 64-bit. */
  referenceTs: Ntp64;
  /** Origin timestamp, raw NTP 64-bit. */
  originTs: Ntp64;
  /** Receive timestamp, raw NTP 64-bit. */
  receiveTs: Ntp64;
  /** Transmit timestamp, raw NTP 64-bit. */
  transmitTs: Ntp64;
  /** NTPv4 extension fields in wire order. */
  extensions: ExtensionField[];
  /** MAC trailer, if any. */
  mac: Mac | null;
}

/** A zeroed NTPv4 packet (leap 0, mode 0): a base to spread fields over. */
export function newPacket(): NtpPacket {
  return {
    leap: 0,
    version: NTP_VERSION,
    mode: 0,
    stratum: 0,
    poll: 0,
    precision: 0,
    rootDelay: 0,
    rootDispersion: 0,
    referenceId: 0,
    referenceTs: NTP64_ZERO,
    originTs: NTP64_ZERO,
    receiveTs: NTP64_ZERO,
    transmitTs: NTP64_ZERO,
    extensions: [],
    mac: null,
  };
}

/** Raw NTP 64-bit timestamp to a Timestamp near `pivot`; `null` for the zero "unknown" value. */
export function ntpToTimestamp(raw: Ntp64, pivot: Timestamp): Timestamp | null {
  if (raw === 0n) return null;
  return fromNtp64(Number(raw >> 32n), Number(raw & 0xffffffffn), pivot);
}

/** Timestamp to a raw NTP 64-bit timestamp (era dropped). */
export function timestampToNtp(t: Timestamp): Ntp64 {
  const { hi, lo } = toNtp64(t);
  return ntp64Bits((BigInt(hi) << 32n) | BigInt(lo));
}

/** NTP short format (16.16 unsigned) to seconds. RFC 5905 §6. */
export function ntpShortToSeconds(raw: number): number {
  return (raw >>> 0) / 65536;
}

/**
 * Seconds to NTP short format, rounded up (as chronyd encodes root delay and
 * dispersion: a nonzero value never becomes 0) and clamped to 0..0xffffffff.
 */
export function secondsToNtpShort(seconds: number): number {
  if (!(seconds > 0)) return 0;
  const raw = Math.ceil(seconds * 65536);
  return raw > 0xffffffff ? 0xffffffff : raw;
}

function isMacLength(n: number, max: number): boolean {
  if (n === MAC_KEY_ID_LENGTH) return true;
  const d = n - MAC_KEY_ID_LENGTH;
  return n <= max && d >= MAC_MIN_DIGEST_LENGTH && d <= MAC_MAX_DIGEST_LENGTH && d % 4 === 0;
}

function readMac(bytes: Uint8Array, view: DataView, offset: number): Mac {
  return { keyId: view.getUint32(offset), digest: bytes.slice(offset + MAC_KEY_ID_LENGTH) };
}

/**
 * Decodes an NTP packet. Throws only {@link PacketError}: `short` under 48
 * bytes, `version` outside 1..4, `mode` for control/private (6, 7) packets,
 * `length` for trailing bytes that are neither extension fields nor a MAC.
 */
export function decodePacket(bytes: Uint8Array): NtpPacket {
  if (bytes.length < NTP_HEADER_LENGTH) {
    throw new PacketError("short", `${bytes.length} bytes, need ${NTP_HEADER_LENGTH}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const b0 = view.getUint8(0);
  const version = (b0 >> 3) & 7;
  const mode = (b0 & 7) as NtpMode;
  if (version < 1 || version > NTP_VERSION) throw new PacketError("version", `version ${version}`);
  if (mode === MODE_CONTROL || mode === MODE_PRIVATE) throw new PacketError("mode", `mode ${mode}`);
  const extensions: ExtensionField[] = [];
  let mac: Mac | null = null;
  let at = NTP_HEADER_LENGTH;
  const end = bytes.length;
  if (version < 4) {
    if (end > at) {
      if (!isMacLength(end - at, MAC_KEY_ID_LENGTH + MAC_MAX_DIGEST_LENGTH)) {
        throw new PacketError("length", `${end - at} bytes after an NTPv${version} header`);
      }
      mac = readMac(bytes, view, at);
    }
  } else {
    while (at < end) {
      const left = end - at;
      if (left === MAC_KEY_ID_LENGTH || (left >= 20 && left <= MAC_MAX_V4_LENGTH)) {
        mac = readMac(bytes, view, at);
        break;
      }
      const ef = readExtensionField(bytes, at, end);
      if (ef) {
        extensions.push(ef.field);
        at += ef.length;
        continue;
      }
      if (isMacLength(left, MAC_KEY_ID_LENGTH + MAC_MAX_DIGEST_LENGTH)) {
        mac = readMac(bytes, view, at);
        break;
      }
      throw new PacketError("length", `${left} bytes at ${at} are neither extension field nor MAC`);
    }
  }
  return {
    leap: (b0 >> 6) as LeapIndicator,
    version,
    mode,
    stratum: view.getUint8(1),
    poll: view.getInt8(2),
    precision: view.getInt8(3),
    rootDelay: ntpShortToSeconds(view.getUint32(4)),
    rootDispersion: ntpShortToSeconds(view.getUint32(8)),
    referenceId: view.getUint32(12),
    referenceTs: ntp64Bits(view.getBigUint64(16)),
    originTs: ntp64Bits(view.getBigUint64(24)),
    receiveTs: ntp64Bits(view.getBigUint64(32)),
    transmitTs: ntp64Bits(view.getBigUint64(40)),
    extensions,
    mac,
  };
}

/** Bytes {@link encodeInto} writes for `p`. */
export function encodedLength(p: NtpPacket): number {
  let n = NTP_HEADER_LENGTH;
  for (const f of p.extensions) n += extensionFieldLength(f);
  if (p.mac) n += MAC_KEY_ID_LENGTH + p.mac.digest.length;
  return n;
}

function checkInt(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new PacketError("value", `${name} ${v} outside ${min}..${max}`);
  }
}

function checkU64(name: string, v: bigint): void {
  if (v < 0n || v > 0xffffffffffffffffn) throw new PacketError("value", `${name} ${v}`);
}

/**
 * Writes `p` at the start of `view` and returns the number of bytes written.
 * Throws `PacketError("value")` for out-of-range fields and `RangeError` if
 * `view` is too small (see {@link encodedLength}).
 */
export function encodeInto(view: DataView, p: NtpPacket): number {
  checkInt("leap", p.leap, 0, 3);
  checkInt("version", p.version, 0, 7);
  checkInt("mode", p.mode, 0, 7);
  checkInt("stratum", p.stratum, 0, 255);
  checkInt("poll", p.poll, -128, 127);
  checkInt("precision", p.precision, -128, 127);
  checkInt("referenceId", p.referenceId, 0, 0xffffffff);
  checkU64("referenceTs", p.referenceTs);
  checkU64("originTs", p.originTs);
  checkU64("receiveTs", p.receiveTs);
  checkU64("transmitTs", p.transmitTs);
  const total = encodedLength(p);
  if (view.byteLength < total) {
    throw new RangeError(`NTP packet needs ${total} bytes, view has ${view.byteLength}`);
  }
  view.setUint8(0, (p.leap << 6) | (p.version << 3) | p.mode);
  view.setUint8(1, p.stratum);
  view.setInt8(2, p.poll);
  view.setInt8(3, p.precision);
  view.setUint32(4, secondsToNtpShort(p.rootDelay));
  view.setUint32(8, secondsToNtpShort(p.rootDispersion));
  view.setUint32(12, p.referenceId);
  view.setBigUint64(16, p.referenceTs);
  view.setBigUint64(24, p.originTs);
  view.setBigUint64(32, p.receiveTs);
  view.setBigUint64(40, p.transmitTs);
  let at = NTP_HEADER_LENGTH;
  for (const f of p.extensions) at += writeExtensionField(view, at, f);
  if (p.mac) {
    checkInt("mac.keyId", p.mac.keyId, 0, 0xffffffff);
    view.setUint32(at, p.mac.keyId);
    new Uint8Array(view.buffer, view.byteOffset + at + 4, p.mac.digest.length).set(p.mac.digest);
    at += MAC_KEY_ID_LENGTH + p.mac.digest.length;
  }
  return at;
}

/** Encodes `p` into a new byte array. */
export function encodePacket(p: NtpPacket): Uint8Array {
  const out = new Uint8Array(encodedLength(p));
  encodeInto(new DataView(out.buffer), p);
  return out;
}
