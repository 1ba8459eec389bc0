/**
 * Wire primitives of chrony's command protocol (cmdmon/candm, protocol
 * version 6): header layouts, request/reply/status codes, chrony's 32-bit
 * float, the three-word `Timespec`, the 20-byte `IPAddr`, and a big-endian
 * reader/writer. Numbers follow chrony 4.x `candm.h` and were checked against
 * bytes captured from chronyc 4.3 talking to chronyd 4.3 (see
 * tests/cmdmon/golden.ts).
 *
 * @example
 * ```ts
 * import { decodeFloat, encodeFloat } from "./wire.ts";
 * decodeFloat(encodeFloat(3)); // 3
 * ```
 * @module
 */

import type { Timestamp } from "../time/timestamp.ts";
import { formatIp, formatIpBytes, parseIp, parseIpv4, parseIpv6 } from "../net/address.ts";

/** candm.h: PROTO_VERSION_NUMBER. */
export const PROTO_VERSION = 6;
/** candm.h: oldest version a server answers with BADPKTVERSION. */
export const PROTO_VERSION_MISMATCH_COMPAT_SERVER = 5;
/** candm.h: PKT_TYPE_CMD_REQUEST. */
export const PKT_TYPE_REQUEST = 1;
/** candm.h: PKT_TYPE_CMD_REPLY. */
export const PKT_TYPE_REPLY = 2;
/** Request header: version, pkt_type, res1, res2, command, attempt, sequence, pad1, pad2 (bytes). */
export const REQUEST_HEADER_LENGTH = 20;
/** Reply header: version .. res2, command, reply, status, pad1-3, sequence, pad4-5 (bytes). */
export const REPLY_HEADER_LENGTH = 28;
/** candm.h: DEFAULT_CANDM_PORT (UDP). */
export const DEFAULT_CMD_PORT = 323;
/** chronyd(8)/chronyc(1): default command socket. */
export const DEFAULT_CMD_SOCKET = "/run/chrony/chronyd.sock";
/** candm.h: MAX_CLIENT_ACCESSES (clients per CLIENT_ACCESSES_BY_INDEX reply). */
export const MAX_CLIENT_ACCESSES = 8;
/** candm.h: MAX_MANUAL_LIST_SAMPLES. */
export const MAX_MANUAL_LIST_SAMPLES = 16;
/** candm.h: TV_NOHIGHSEC, tv_sec_high value of a 32-bit time. */
export const TV_NOHIGHSEC = 0x7fffffff;

/** Request codes (candm.h REQ_*). Obsolete codes are listed so they can be refused. */
export const Req = {
  NULL: 0,
  ONLINE: 1,
  OFFLINE: 2,
  BURST: 3,
  MODIFY_MINPOLL: 4,
  MODIFY_MAXPOLL: 5,
  DUMP: 6,
  MODIFY_MAXDELAY: 7,
  MODIFY_MAXDELAYRATIO: 8,
  MODIFY_MAXUPDATESKEW: 9,
  LOGON: 10,
  SETTIME: 11,
  LOCAL: 12,
  MANUAL: 13,
  N_SOURCES: 14,
  SOURCE_DATA: 15,
  REKEY: 16,
  ALLOW: 17,
  ALLOWALL: 18,
  DENY: 19,
  DENYALL: 20,
  CMDALLOW: 21,
  CMDALLOWALL: 22,
  CMDDENY: 23,
  CMDDENYALL: 24,
  ACCHECK: 25,
  CMDACCHECK: 26,
  ADD_SERVER: 27,
  ADD_PEER: 28,
  DEL_SOURCE: 29,
  WRITERTC: 30,
  DFREQ: 31,
  DOFFSET: 32,
  TRACKING: 33,
  SOURCESTATS: 34,
  RTCREPORT: 35,
  TRIMRTC: 36,
  CYCLELOGS: 37,
  SUBNETS_ACCESSED: 38,
  CLIENT_ACCESSES: 39,
  CLIENT_ACCESSES_BY_INDEX: 40,
  MANUAL_LIST: 41,
  MANUAL_DELETE: 42,
  MAKESTEP: 43,
  ACTIVITY: 44,
  MODIFY_MINSTRATUM: 45,
  MODIFY_POLLTARGET: 46,
  MODIFY_MAXDELAYDEVRATIO: 47,
  RESELECT: 48,
  RESELECTDISTANCE: 49,
  MODIFY_MAKESTEP: 50,
  SMOOTHING: 51,
  SMOOTHTIME: 52,
  REFRESH: 53,
  SERVER_STATS: 54,
  CLIENT_ACCESSES_BY_INDEX2: 55,
  LOCAL2: 56,
  NTP_DATA: 57,
  ADD_SERVER2: 58,
  ADD_PEER2: 59,
  ADD_SERVER3: 60,
  ADD_PEER3: 61,
  SHUTDOWN: 62,
  ONOFFLINE: 63,
  ADD_SOURCE: 64,
  NTP_SOURCE_NAME: 65,
  RESET_SOURCES: 66,
  AUTH_DATA: 67,
  CLIENT_ACCESSES_BY_INDEX3: 68,
  SELECT_DATA: 69,
  RELOAD_SOURCES: 70,
  DOFFSET2: 71,
  MODIFY_SELECTOPTS: 72,
  MODIFY_OFFSET: 73,
  LOCAL3: 74,
} as const;
/** candm.h: N_REQUEST_TYPES (chrony 4.8). */
export const N_REQUEST_TYPES = 75;

/** Reply codes (candm.h RPY_*). */
export const Rpy = {
  NULL: 1,
  N_SOURCES: 2,
  SOURCE_DATA: 3,
  MANUAL_TIMESTAMP: 4,
  TRACKING: 5,
  SOURCESTATS: 6,
  RTC: 7,
  SUBNETS_ACCESSED: 8,
  CLIENT_ACCESSES: 9,
  CLIENT_ACCESSES_BY_INDEX: 10,
  MANUAL_LIST: 11,
  ACTIVITY: 12,
  SMOOTHING: 13,
  SERVER_STATS: 14,
  CLIENT_ACCESSES_BY_INDEX2: 15,
  NTP_DATA: 16,
  MANUAL_TIMESTAMP2: 17,
  MANUAL_LIST2: 18,
  NTP_SOURCE_NAME: 19,
  AUTH_DATA: 20,
  CLIENT_ACCESSES_BY_INDEX3: 21,
  SERVER_STATS2: 22,
  SELECT_DATA: 23,
  SERVER_STATS3: 24,
  SERVER_STATS4: 25,
  NTP_DATA2: 26,
} as const;

/** Status codes (candm.h STT_*). Note 20 is unused; INVALIDNAME is 21. */
export const Status = {
  SUCCESS: 0,
  FAILED: 1,
  UNAUTH: 2,
  INVALID: 3,
  NOSUCHSOURCE: 4,
  INVALIDTS: 5,
  NOTENABLED: 6,
  BADSUBNET: 7,
  ACCESSALLOWED: 8,
  ACCESSDENIED: 9,
  NOHOSTACCESS: 10,
  SOURCEALREADYKNOWN: 11,
  TOOMANYSOURCES: 12,
  NORTC: 13,
  BADRTCFILE: 14,
  INACTIVE: 15,
  BADSAMPLE: 16,
  INVALIDAF: 17,
  BADPKTVERSION: 18,
  BADPKTLENGTH: 19,
  INVALIDNAME: 21,
} as const;
/** One of the `Status` values. */
export type StatusCode = (typeof Status)[keyof typeof Status];

/** Text chronyc prints for a status (chronyc(1) behaviour, e.g. "501 Not authorised"). */
export function statusText(status: number): string {
  switch (status) {
    case Status.SUCCESS:
      return "200 OK";
    case Status.ACCESSALLOWED:
      return "208 Access allowed";
    case Status.ACCESSDENIED:
      return "209 Access denied";
    case Status.FAILED:
      return "500 Failure";
    case Status.UNAUTH:
      return "501 Not authorised";
    case Status.INVALID:
      return "502 Invalid command";
    case Status.NOSUCHSOURCE:
      return "503 No such source";
    case Status.INVALIDTS:
      return "504 Duplicate or stale logon detected";
    case Status.NOTENABLED:
      return "505 Facility not enabled in daemon";
    case Status.BADSUBNET:
      return "507 Bad subnet";
    case Status.NOHOSTACCESS:
      return "510 No command access from this host";
    case Status.SOURCEALREADYKNOWN:
      return "511 Source already present";
    case Status.TOOMANYSOURCES:
      return "512 Too many sources present";
    case Status.NORTC:
      return "513 RTC driver not running";
    case Status.BADRTCFILE:
      return "514 Can't write RTC parameters";
    case Status.INVALIDAF:
      return "515 Invalid address family";
    case Status.BADSAMPLE:
      return "516 Sample index out of range";
    case Status.BADPKTVERSION:
      return "517 Protocol version mismatch";
    case Status.BADPKTLENGTH:
      return "518 Packet length mismatch";
    case Status.INACTIVE:
      return "519 Client logging is not active in the daemon";
    case Status.INVALIDNAME:
      return "521 Invalid name";
    default:
      return "520 Got unexpected error from daemon";
  }
}

/** candm.h: bits of chrony's Float: 7-bit signed exponent, 25-bit signed coefficient. */
const FLOAT_EXP_BITS = 7;
const FLOAT_COEF_BITS = 25;
const FLOAT_EXP_MIN = -(1 << (FLOAT_EXP_BITS - 1));
const FLOAT_EXP_MAX = (1 << (FLOAT_EXP_BITS - 1)) - 1;
const FLOAT_COEF_MAX = (1 << (FLOAT_COEF_BITS - 1)) - 1;

/**
 * A number to chrony's 32-bit float (value = coef * 2^(exp - 25)), returned
 * as the unsigned 32-bit word. NaN encodes as 0; out of range saturates.
 */
export function encodeFloat(x: number): number {
  if (!Number.isFinite(x) || x === 0) {
    if (Number.isNaN(x) || x === 0) return 0;
  }
  const neg = x < 0;
  const a = Math.abs(x);
  let exp: number;
  let coef: number;
  if (!Number.isFinite(a)) {
    exp = FLOAT_EXP_MAX;
    coef = FLOAT_COEF_MAX;
  } else {
    exp = Math.floor(Math.log2(a)) + 2;
    // log2 may be off by one near powers of two; correct so coef < 2^24.
    coef = Math.round(a * 2 ** (FLOAT_COEF_BITS - exp));
    while (coef > FLOAT_COEF_MAX) {
      exp++;
      coef = Math.round(a * 2 ** (FLOAT_COEF_BITS - exp));
    }
    if (exp > FLOAT_EXP_MAX) {
      exp = FLOAT_EXP_MAX;
      coef = FLOAT_COEF_MAX;
    } else if (exp < FLOAT_EXP_MIN) {
      coef = Math.round(a * 2 ** (FLOAT_COEF_BITS - FLOAT_EXP_MIN));
      exp = FLOAT_EXP_MIN;
    }
  }
  if (neg) coef = -coef;
  return (((exp << FLOAT_COEF_BITS) | (coef & ((1 << FLOAT_COEF_BITS) - 1))) >>> 0);
}

/** chrony's 32-bit float word to a number. */
export function decodeFloat(word: number): number {
  const w = word | 0;
  const exp = w >> FLOAT_COEF_BITS;
  const coef = (w << FLOAT_EXP_BITS) >> FLOAT_EXP_BITS;
  return coef * 2 ** (exp - FLOAT_COEF_BITS);
}

/** candm/addressing.h: IPADDR_* families. */
export const AddrFamily = { UNSPEC: 0, INET4: 1, INET6: 2, ID: 3 } as const;

/**
 * Native form of chrony's `IPAddr`: no address, an IPv4 or IPv6 address in
 * text form, or a source id (unresolved sources).
 */
export type CmdAddress =
  | { family: "unspec" }
  | { family: "inet4" | "inet6"; address: string }
  | { family: "id"; id: number };

/** The unspecified address. */
export const UNSPEC: CmdAddress = { family: "unspec" };

/** Parses address text ("192.0.2.1", "2001:db8::1") into a `CmdAddress`; null when invalid. */
export function parseAddress(text: string): CmdAddress | null {
  const a = parseIp(text);
  if (a === null) return null;
  return { family: a.family === 4 ? "inet4" : "inet6", address: formatIp(a) };
}

/** Text of an address as chronyc prints it (`ID#0000000001` for ids, `[UNSPEC]` when none). */
export function addressText(a: CmdAddress): string {
  switch (a.family) {
    case "unspec":
      return "[UNSPEC]";
    case "id":
      return `ID#${a.id.toString(10).padStart(10, "0")}`;
    default:
      return a.address;
  }
}

/** Thrown when bytes are too short or malformed for the layout being read. */
export class WireError extends Error {
  override name = "WireError";
  /** @param detail what was being read, and where (byte offset). */
  constructor(detail: string) {
    super(detail);
  }
}

/** Big-endian reader over a byte array, with chrony's composite types. */
export class WireReader {
  #view: DataView;
  /** Current byte offset. */
  offset: number;
  /** @param bytes the packet; @param offset where to start (bytes). */
  constructor(readonly bytes: Uint8Array, offset = 0) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = offset;
  }
  #need(n: number): number {
    const at = this.offset;
    if (at + n > this.bytes.length) {
      throw new WireError(`need ${n} bytes at offset ${at}, have ${this.bytes.length}`);
    }
    this.offset += n;
    return at;
  }
  u8(): number {
    return this.#view.getUint8(this.#need(1));
  }
  i8(): number {
    return this.#view.getInt8(this.#need(1));
  }
  u16(): number {
    return this.#view.getUint16(this.#need(2));
  }
  i16(): number {
    return this.#view.getInt16(this.#need(2));
  }
  u32(): number {
    return this.#view.getUint32(this.#need(4));
  }
  i32(): number {
    return this.#view.getInt32(this.#need(4));
  }
  /** candm.h Integer64: high word, low word. */
  u64(): number {
    const hi = this.u32();
    const lo = this.u32();
    return hi * 2 ** 32 + lo;
  }
  float(): number {
    return decodeFloat(this.u32());
  }
  /** candm.h Timespec: tv_sec_high, tv_sec_low, tv_nsec. */
  timespec(): Timestamp {
    const hi = this.u32();
    const lo = this.u32();
    const nsec = this.u32();
    const sec = hi === TV_NOHIGHSEC ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
    return sec * 1_000_000_000n + BigInt(nsec);
  }
  /** candm.h IPAddr: 16 address bytes, uint16 family, uint16 pad. */
  address(): CmdAddress {
    const at = this.#need(16);
    const raw = this.bytes.subarray(at, at + 16);
    const family = this.u16();
    this.u16();
    switch (family) {
      case AddrFamily.INET4:
        return { family: "inet4", address: formatIpBytes(raw.subarray(0, 4)) };
      case AddrFamily.INET6:
        return { family: "inet6", address: formatIpBytes(raw) };
      case AddrFamily.ID:
        return { family: "id", id: new DataView(raw.buffer, raw.byteOffset, 4).getUint32(0) };
      default:
        return UNSPEC;
    }
  }
  /** Fixed-size NUL-padded string of `n` bytes. */
  string(n: number): string {
    const at = this.#need(n);
    const raw = this.bytes.subarray(at, at + n);
    const end = raw.indexOf(0);
    return new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end));
  }
  skip(n: number): void {
    this.#need(n);
  }
}

/** Big-endian writer into a fixed-size zeroed buffer, with chrony's composite types. */
export class WireWriter {
  readonly bytes: Uint8Array;
  #view: DataView;
  /** Current byte offset. */
  offset: number;
  /** @param size buffer size (bytes); @param offset where to start writing. */
  constructor(size: number, offset = 0) {
    this.bytes = new Uint8Array(size);
    this.#view = new DataView(this.bytes.buffer);
    this.offset = offset;
  }
  #take(n: number): number {
    const at = this.offset;
    if (at + n > this.bytes.length) throw new WireError(`write past ${this.bytes.length}`);
    this.offset += n;
    return at;
  }
  u8(v: number): void {
    this.#view.setUint8(this.#take(1), v & 0xff);
  }
  i8(v: number): void {
    this.#view.setInt8(this.#take(1), Math.max(-128, Math.min(127, v)));
  }
  u16(v: number): void {
    this.#view.setUint16(this.#take(2), v & 0xffff);
  }
  i16(v: number): void {
    this.#view.setInt16(this.#take(2), v);
  }
  u32(v: number): void {
    this.#view.setUint32(this.#take(4), v >>> 0);
  }
  i32(v: number): void {
    this.#view.setInt32(this.#take(4), v | 0);
  }
  u64(v: number): void {
    const x = Math.max(0, Math.floor(v));
    this.u32(Math.floor(x / 2 ** 32));
    this.u32(x % 2 ** 32);
  }
  float(v: number): void {
    this.u32(encodeFloat(v));
  }
  timespec(t: Timestamp): void {
    let sec = t / 1_000_000_000n;
    let nsec = t - sec * 1_000_000_000n;
    if (nsec < 0n) {
      sec -= 1n;
      nsec += 1_000_000_000n;
    }
    this.u32(Number((sec >> 32n) & 0xffffffffn));
    this.u32(Number(sec & 0xffffffffn));
    this.u32(Number(nsec));
  }
  address(a: CmdAddress): void {
    const at = this.#take(16);
    let family: number = AddrFamily.UNSPEC;
    if (a.family === "inet4") {
      const b = parseIpv4(a.address);
      if (b) this.bytes.set(b, at);
      family = AddrFamily.INET4;
    } else if (a.family === "inet6") {
      const b = parseIpv6(a.address);
      if (b) this.bytes.set(b, at);
      family = AddrFamily.INET6;
    } else if (a.family === "id") {
      this.#view.setUint32(at, a.id >>> 0);
      family = AddrFamily.ID;
    }
    this.u16(family);
    this.u16(0);
  }
  string(s: string, n: number): void {
    const at = this.#take(n);
    this.bytes.set(new TextEncoder().encode(s).subarray(0, n - 1), at);
  }
  skip(n: number): void {
    this.#take(n);
  }
}
