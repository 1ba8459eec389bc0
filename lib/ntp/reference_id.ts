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

/** Reference ID, unsigned 32 bits. */
export type ReferenceId = number;

/** Reference ID of our local reference (chrony uses 127.127.1.1 for `local`). */
export const REFID_LOCAL = 0x7f7f0101;

/** Error for an address that is neither IPv4 nor IPv6 text. */
export class ReferenceIdError extends Error {
  readonly code = "address" as const;
  constructor(address: string) {
    super(`not an IP address: ${address}`);
    this.name = "ReferenceIdError";
  }
}

function parseIpv4(s: string): number[] | null {
  const parts = s.split(".");
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out.push(n);
  }
  return out;
}

/** Parses IPv6 text (with `::` and a trailing dotted quad) into 16 bytes; `null` if invalid. */
export function parseIpv6(text: string): Uint8Array | null {
  const s = text.replace(/%.*$/, "");
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    const items = part.split(":");
    for (let i = 0; i < items.length; i++) {
      const g = items[i]!;
      if (i === items.length - 1 && g.includes(".")) {
        const v4 = parseIpv4(g);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

/**
 * Reference ID of an upstream address: the IPv4 address itself, or for IPv6
 * the first 4 bytes of MD5 over the 16 address bytes (RFC 5905 §7.3).
 * Throws {@link ReferenceIdError} for anything else.
 */
export function refIdFromAddress(address: string): ReferenceId {
  const v4 = parseIpv4(address);
  if (v4) return ((v4[0]! << 24) | (v4[1]! << 16) | (v4[2]! << 8) | v4[3]!) >>> 0;
  const v6 = parseIpv6(address);
  if (!v6) throw new ReferenceIdError(address);
  const d = md5(v6);
  return ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0;
}

/** Per-round left-rotation amounts of MD5. RFC 1321 §3.4. */
const MD5_SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
/** MD5's sine table: floor(2^32 * |sin(i + 1)|). RFC 1321 §3.4. */
const MD5_T = Array.from({ length: 64 }, (_, i) => Math.floor(2 ** 32 * Math.abs(Math.sin(i + 1))));

/**
 * MD5 (RFC 1321) of a short message, written from the RFC so the daemon does
 * not load node:crypto (several MB resident) for IPv6 reference IDs.
 */
export function md5(message: Uint8Array): Uint8Array {
  const blocks = ((message.length + 8) >> 6) + 1;
  const padded = new Uint8Array(blocks * 64);
  padded.set(message);
  padded[message.length] = 0x80;
  const bits = message.length * 8;
  const dv = new DataView(padded.buffer);
  dv.setUint32(padded.length - 8, bits >>> 0, true);
  dv.setUint32(padded.length - 4, Math.floor(bits / 2 ** 32), true);
  let a0 = 0x67452301, b0 = 0xefcdab89, c0 = 0x98badcfe, d0 = 0x10325476;
  const x = new Uint32Array(16);
  for (let blk = 0; blk < blocks; blk++) {
    for (let i = 0; i < 16; i++) x[i] = dv.getUint32(blk * 64 + i * 4, true);
    let a = a0, b = b0, c = c0, d = d0;
    for (let i = 0; i < 64; i++) {
      let f: number, g: number;
      const round = i >> 4;
      if (round === 0) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (round === 1) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) & 15;
      } else if (round === 2) {
        f = b ^ c ^ d;
        g = (3 * i + 5) & 15;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) & 15;
      }
      const s = MD5_SHIFTS[(round << 2) | (i & 3)]!;
      const sum = (a + f + MD5_T[i]! + x[g]!) >>> 0;
      a = d;
      d = c;
      c = b;
      b = (b + ((sum << s) | (sum >>> (32 - s)))) >>> 0;
    }
    a0 = (a0 + a) >>> 0;
    b0 = (b0 + b) >>> 0;
    c0 = (c0 + c) >>> 0;
    d0 = (d0 + d) >>> 0;
  }
  const out = new Uint8Array(16);
  const ov = new DataView(out.buffer);
  [a0, b0, c0, d0].forEach((w, i) => ov.setUint32(i * 4, w, true));
  return out;
}

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
