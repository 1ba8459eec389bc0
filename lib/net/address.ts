/**
 * IP addresses, one definition for the whole tree (sans-IO): parse and
 * format IPv4/IPv6 text, subnet text as chrony's `allow`/`deny` read it,
 * the reference id of an address, and the local reference id.
 *
 * - {@link IpAddress}: a family (4 or 6) and its 4 or 16 network-order bytes.
 * - Parsing ({@link parseIp}), as inet_pton reads text (chronyd's parser):
 *   IPv4 is four decimal octets 0..255 without leading zeros (`010.1.1.1` is
 *   refused, as chronyd 4.3 refuses `allow 010.1.1.1`); IPv6 is 1 to 8 groups of 1 to 4 hex digits with at most one
 *   `::` standing for at least one zero group, and a dotted IPv4 allowed
 *   only as the last two groups (`::ffff:1.2.3.4`). A zone (`fe80::1%eth0`)
 *   is refused unless asked for, and then dropped.
 * - Formatting ({@link formatIp}): dotted IPv4; IPv6 as glibc's inet_ntop
 *   (what chronyd prints): lower-case hex, the first longest run of two or
 *   more zero groups as `::`, and `::a.b.c.d` / `::ffff:a.b.c.d` for
 *   IPv4-compatible and IPv4-mapped addresses (tests/ffi/libc_test.ts
 *   compares both directions with libc).
 * - Subnets ({@link parseSubnet}): `address[/bits]`; a dotted IPv4 with 1 to
 *   3 octets is the short form (`1.2.3` = 1.2.3.0/24, `10` = 10.0.0.0/8;
 *   its octets may have leading zeros, read as decimal: chronyd 4.3 takes
 *   `allow 010.1/99` as 10.1.0.0/99), while four octets without `/bits` are one host (`1.2.3.0` = /32), as
 *   chronyd 4.3 reads them (checked with accheck). The prefix is returned
 *   as written, even beyond the address length: lib/conf keeps such a rule
 *   and refuses it at start-up as chronyd does ("Bad subnet"), the server's
 *   filter refuses it at once ({@link prefixFits}).
 * - Reference ids ({@link addressRefId}): IPv4 is the address itself; IPv6
 *   is the first four bytes of the MD5 of its 16 bytes (RFC 5905 §7.3).
 *
 * @example
 * ```ts
 * import { addressRefId, formatIp, parseIp, parseSubnet } from "./address.ts";
 * formatIp(parseIp("2001:DB8:0:0::1")!); // "2001:db8::1"
 * parseSubnet("1.2.3"); // { family: 4, bytes: Uint8Array [1, 2, 3, 0], bits: 24 }
 * addressRefId(parseIp("192.168.0.1")!).toString(16); // "c0a80001"
 * ```
 * @module
 */
import { md5 } from "./md5.ts";

/** An address family: 4 (IPv4) or 6 (IPv6). */
export type IpFamily = 4 | 6;

/** An IP address: its family and 4 (IPv4) or 16 (IPv6) network-order bytes. */
export interface IpAddress {
  readonly family: IpFamily;
  readonly bytes: Uint8Array;
}

/** Reference id of the local reference (`local` directive): 127.127.1.1, as chronyd sends. */
export const REFID_LOCAL = 0x7f7f0101;

/** An octet of a full dotted quad: no leading zero (inet_pton). */
const OCTET = /^(0|[1-9][0-9]{0,2})$/;
/** An octet of the short subnet form: 1 to 3 decimal digits. */
const SHORT_OCTET = /^[0-9]{1,3}$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Writes dotted IPv4 text (exactly `octets` parts) into `out` at `at`; false when invalid. */
function readDotted(text: string, octets: number, out: Uint8Array, at: number): boolean {
  const parts = text.split(".");
  if (parts.length !== octets) return false;
  const octet = octets === 4 ? OCTET : SHORT_OCTET;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (!octet.test(p)) return false;
    const v = Number(p);
    if (v > 255) return false;
    out[at + i] = v;
  }
  return true;
}

/** The 4 bytes of dotted-quad IPv4 text, or null. */
export function parseIpv4(text: string): Uint8Array | null {
  const out = new Uint8Array(4);
  return readDotted(text, 4, out, 0) ? out : null;
}

/** Groups of one side of `::` into `words`; false when a group is invalid. */
function readGroups(text: string, v4Tail: boolean, words: number[]): boolean {
  if (text === "") return true;
  const groups = text.split(":");
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    if (v4Tail && i === groups.length - 1 && g.includes(".")) {
      const b = new Uint8Array(4);
      if (!readDotted(g, 4, b, 0)) return false;
      words.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
    } else {
      if (!HEX_GROUP.test(g)) return false;
      words.push(parseInt(g, 16));
    }
  }
  return true;
}

/**
 * The 16 bytes of IPv6 text, or null. With `zone`, a `%zone` suffix is
 * accepted and dropped; without, it makes the text invalid.
 */
export function parseIpv6(text: string, zone = false): Uint8Array | null {
  let s = text;
  const pct = s.indexOf("%");
  if (pct >= 0) {
    if (!zone || pct === s.length - 1) return null;
    s = s.slice(0, pct);
  }
  if (!s.includes(":")) return null;
  const dbl = s.indexOf("::");
  if (dbl !== s.lastIndexOf("::")) return null;
  const head: number[] = [];
  const tail: number[] = [];
  if (dbl >= 0) {
    if (!readGroups(s.slice(0, dbl), false, head)) return null;
    if (!readGroups(s.slice(dbl + 2), true, tail)) return null;
    if (head.length + tail.length > 7) return null;
  } else {
    if (!readGroups(s, true, head) || head.length !== 8) return null;
  }
  const out = new Uint8Array(16);
  head.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  const start = 8 - tail.length;
  tail.forEach((w, i) => {
    out[2 * (start + i)] = w >> 8;
    out[2 * (start + i) + 1] = w & 0xff;
  });
  return out;
}

/**
 * Parses IPv4 or IPv6 text (see the module documentation for the rules);
 * null when it is neither. `zone` accepts and drops an IPv6 `%zone`.
 */
export function parseIp(text: string, zone = false): IpAddress | null {
  if (text.includes(":")) {
    const bytes = parseIpv6(text, zone);
    return bytes === null ? null : { family: 6, bytes };
  }
  const bytes = parseIpv4(text);
  return bytes === null ? null : { family: 4, bytes };
}

/** Dotted text of 4 bytes at `at` in `b`. */
function dotted(b: Uint8Array, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

/** IPv6 text of 16 bytes, as glibc's inet_ntop writes it. */
export function formatIpv6(b: Uint8Array): string {
  const w = new Array<number>(8);
  for (let i = 0; i < 8; i++) w[i] = (b[2 * i]! << 8) | b[2 * i + 1]!;
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i >= 2 && j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
    return `::${bestLen === 5 ? "ffff:" : ""}${dotted(b, 12)}`;
  }
  const hex = (ws: number[]) => ws.map((x) => x.toString(16)).join(":");
  if (best < 0) return hex(w);
  return `${hex(w.slice(0, best))}::${hex(w.slice(best + bestLen))}`;
}

/** Text of 4 (IPv4) or 16 (IPv6) network-order bytes. */
export function formatIpBytes(bytes: Uint8Array): string {
  if (bytes.length === 4) return dotted(bytes, 0);
  if (bytes.length === 16) return formatIpv6(bytes);
  throw new RangeError(`an address has 4 or 16 bytes, not ${bytes.length}`);
}

/** Text of an address: dotted IPv4, IPv6 as inet_ntop. */
export function formatIp(a: IpAddress): string {
  return formatIpBytes(a.bytes);
}

/** Canonical text of address text (`2001:DB8:0::1` -> `2001:db8::1`), or null when not one. */
export function canonicalIp(text: string): string | null {
  const a = parseIp(text);
  return a === null ? null : formatIp(a);
}

/** Whether 16 bytes are an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`). */
export function isIpv4Mapped(a: IpAddress): boolean {
  if (a.family !== 6) return false;
  for (let i = 0; i < 10; i++) if (a.bytes[i] !== 0) return false;
  return a.bytes[10] === 0xff && a.bytes[11] === 0xff;
}

/** The IPv4 address inside an IPv4-mapped IPv6 address; other addresses unchanged. */
export function unmapIpv4(a: IpAddress): IpAddress {
  return isIpv4Mapped(a) ? { family: 4, bytes: a.bytes.slice(12) } : a;
}

/** A parsed subnet: address bytes (4 or 16) and the prefix length as written. */
export interface Subnet {
  family: IpFamily;
  bytes: Uint8Array;
  /** Prefix length in bits; may exceed the address length (see {@link prefixFits}). */
  bits: number;
}

/** Why subnet text is not a subnet. */
export type SubnetError = "address" | "prefix";

const PREFIX = /^\+?[0-9]+$/;

/**
 * Parses subnet text: `address[/bits]`, where an IPv4 address of 1 to 3
 * octets is the short form (prefix = 8 x octets) and a full address
 * without `/bits` is one host. Returns the reason when the address or the
 * prefix is unreadable; a prefix beyond the address length is returned as
 * is (check it with {@link prefixFits}).
 */
export function parseSubnet(text: string): Subnet | SubnetError {
  const slash = text.indexOf("/");
  const addr = slash < 0 ? text : text.slice(0, slash);
  let family: IpFamily;
  let bytes: Uint8Array | null;
  let bits: number;
  if (addr.includes(":")) {
    family = 6;
    bytes = parseIpv6(addr);
    bits = 128;
  } else {
    const octets = addr.split(".").length;
    family = 4;
    bytes = new Uint8Array(4);
    if (octets > 4 || !readDotted(addr, octets, bytes, 0)) bytes = null;
    bits = 8 * octets;
  }
  if (bytes === null) return "address";
  if (slash >= 0) {
    const word = text.slice(slash + 1);
    if (!PREFIX.test(word)) return "prefix";
    bits = Number(word);
    if (!Number.isSafeInteger(bits)) return "prefix";
  }
  return { family, bytes, bits };
}

/** Whether a subnet's prefix fits its address (0..32 for IPv4, 0..128 for IPv6). */
export function prefixFits(s: Subnet): boolean {
  return s.bits <= (s.family === 4 ? 32 : 128);
}

/**
 * Reference id of an address (RFC 5905 §7.3): IPv4 is the address as a
 * 32-bit number; IPv6 the first 4 bytes of the MD5 of its 16 bytes.
 */
export function addressRefId(a: IpAddress): number {
  const b = a.family === 4 ? a.bytes : md5(a.bytes);
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}
