/**
 * Typed libc bindings for horae: clocks (clock_gettime, adjtimex,
 * clock_adjtime), UDP sockets (socket, bind, connect, setsockopt, getsockname,
 * recvmsg/recvmmsg, sendmsg/sendmmsg, IP_FREEBIND), TCP listeners (listen,
 * accept4, read, send), interface time stamping capabilities (SIOCETHTOOL), eventfd, poll (also as a
 * `nonblocking` call that runs on Deno's worker thread), epoll (checked only), close, getaddrinfo and
 * address conversion, System V shared memory (shmget/shmat/shmdt/shmctl for
 * the SHM refclock), the process name (prctl PR_SET_NAME), privileges (prctl, capget/capset, setgroups, setgid,
 * setuid, mlockall, setrlimit, sched_setscheduler). Failing calls throw {@link ErrnoError} with the errno's
 * name. Struct layouts come from `ffi/layout.ts`; message arenas for batched
 * socket IO are in `ffi/msg_arena.ts`.
 *
 * @example
 * ```ts
 * import { clockGettime, CLOCK } from "./libc.ts";
 * const now = clockGettime(CLOCK.REALTIME); // bigint ns since the Unix epoch
 * ```
 * @module
 */

import type { Timestamp } from "../lib/time/timestamp.ts";
import {
  ADDRINFO,
  CAP,
  CAP_DATA,
  CAP_HEADER,
  EAI,
  type ErrnoCode,
  errnoName,
  ETHTOOL_GET_TS_INFO,
  ETHTOOL_TS_INFO,
  IFREQ,
  IP_FREEBIND,
  IPC,
  IPV6_FREEBIND,
  L,
  PR_SET_KEEPCAPS,
  PR_SET_NAME,
  RLIMIT,
  SCHED,
  SIOCETHTOOL,
  SOCKADDR_IN,
  SOCKADDR_IN6,
  TIMESPEC,
  TIMEX,
} from "./layout.ts";
import { decodeTimex, encodeTimex, type Timex } from "./timex.ts";
import { bindLibrary } from "./bind.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

const SYMBOLS = {
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  adjtimex: { parameters: ["buffer"], result: "i32" },
  clock_adjtime: { parameters: ["i32", "buffer"], result: "i32" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  sendmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  poll_nb: { name: "poll", parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  close: { parameters: ["i32"], result: "i32" },
  getaddrinfo_nb: {
    name: "getaddrinfo",
    parameters: ["buffer", "pointer", "buffer", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  freeaddrinfo: { parameters: ["pointer"], result: "void" },
  inet_pton: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  inet_ntop: { parameters: ["i32", "buffer", "buffer", "u32"], result: "pointer" },
  __errno_location: { parameters: [], result: "pointer" },
  shmget: { parameters: ["i32", "usize", "i32"], result: "i32" },
  shmat: { parameters: ["i32", "pointer", "i32"], result: "pointer" },
  shmdt: { parameters: ["pointer"], result: "i32" },
  shmctl: { parameters: ["i32", "i32", "pointer"], result: "i32" },
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  capget: { parameters: ["buffer", "buffer"], result: "i32" },
  capset: { parameters: ["buffer", "buffer"], result: "i32" },
  setgroups: { parameters: ["usize", "pointer"], result: "i32" },
  setgid: { parameters: ["u32"], result: "i32" },
  setuid: { parameters: ["u32"], result: "i32" },
  mlockall: { parameters: ["i32"], result: "i32" },
  sched_setscheduler: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  sched_getscheduler: { parameters: ["i32"], result: "i32" },
  sched_yield: { parameters: [], result: "i32" },
  setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
} as const;

// Cheap bindings until calls are frequent (ffi/bind.ts): an idle daemon never compiles trampolines.
const lib = bindLibrary("libc.so.6", SYMBOLS);
/** The raw symbols, for the other ffi/ modules only. */
export const rawLibc: Any = lib;

// errno is thread-local; this pointer belongs to the JS thread, so it is only
// meaningful after synchronous calls.
const errnoView = new Deno.UnsafePointerView(lib.__errno_location()!);

/** The calling thread's errno (valid right after a failed synchronous call). */
export function errno(): number {
  return errnoView.getInt32();
}

/** A failed system call: `code` is the errno's name (`"EADDRINUSE"`, ...). */
export class ErrnoError extends Error {
  /** The errno number. */
  readonly errno: number;
  /** The errno's name, or `E<n>` when unnamed. */
  readonly code: ErrnoCode | `E${number}`;
  /** The failing call, e.g. `"bind"`. */
  readonly syscall: string;
  constructor(syscall: string, errnoValue: number, detail?: string) {
    const code = errnoName(errnoValue);
    super(`${syscall}${detail ? ` (${detail})` : ""}: ${code}`);
    this.name = "ErrnoError";
    this.errno = errnoValue;
    this.code = code;
    this.syscall = syscall;
  }
}

function check(rc: number, syscall: string, detail?: string): number {
  if (rc < 0) throw new ErrnoError(syscall, errno(), detail);
  return rc;
}

// ---- clocks ----

/** Clock ids for {@link clockGettime} and {@link clockAdjtime} (linux/time.h). */
export const CLOCK = {
  REALTIME: L.CLOCK_REALTIME,
  MONOTONIC: L.CLOCK_MONOTONIC,
  MONOTONIC_RAW: L.CLOCK_MONOTONIC_RAW,
  BOOTTIME: L.CLOCK_BOOTTIME,
} as const;

const tsWords = new BigInt64Array(TIMESPEC.size / 8);
const tsBytes = new Uint8Array(tsWords.buffer);

/**
 * Reads a clock, in nanoseconds. For `CLOCK.REALTIME` that is a `Timestamp`
 * (ns since the Unix epoch); other clocks count from an unspecified start
 * (boot). Reuses one buffer: about 50 ns a call.
 */
export function clockGettime(clockId: number): Timestamp {
  if (lib.clock_gettime(clockId, tsBytes) !== 0) throw new ErrnoError("clock_gettime", errno());
  return tsWords[0]! * 1_000_000_000n + tsWords[1]!;
}

const tsInts = new Int32Array(tsWords.buffer);

/**
 * {@link clockGettime} without a BigInt: whole seconds at `out[0]`, nanoseconds
 * (0..999 999 999) at `out[1]` (little-endian 64-bit timespec words).
 */
export function clockGettimeTo(clockId: number, out: Float64Array): void {
  if (lib.clock_gettime(clockId, tsBytes) !== 0) throw new ErrnoError("clock_gettime", errno());
  out[0] = tsInts[1]! * 4294967296 + (tsInts[0]! >>> 0);
  out[1] = tsInts[2]!;
}

const timexBuf = new Uint8Array(TIMEX.size);

/**
 * adjtimex(2): applies the fields selected by `tx.modes` (0 = only read) and
 * returns the clock state (`TIME_OK`...`TIME_ERROR`) and the kernel's values.
 */
export function adjtimex(tx: Timex): { state: number; tx: Timex } {
  encodeTimex(tx, timexBuf);
  const state = check(lib.adjtimex(timexBuf), "adjtimex");
  return { state, tx: decodeTimex(timexBuf) };
}

/** clock_adjtime(2): like {@link adjtimex} for a given clock (e.g. a PHC). */
export function clockAdjtime(clockId: number, tx: Timex): { state: number; tx: Timex } {
  encodeTimex(tx, timexBuf);
  const state = check(lib.clock_adjtime(clockId, timexBuf), "clock_adjtime");
  return { state, tx: decodeTimex(timexBuf) };
}

// ---- addresses ----

/** Address family of a socket address. */
export type Family = "ipv4" | "ipv6";

/** An IP address and UDP/TCP port. */
export interface SockAddr {
  /** Address family. */
  family: Family;
  /** Numeric address text (`"127.0.0.1"`, `"::1"`). */
  address: string;
  /** Port number 0..65535. */
  port: number;
}

const textEncoder = new TextEncoder();

function cString(s: string): Uint8Array {
  const b = new Uint8Array(s.length * 3 + 1);
  const { written } = textEncoder.encodeInto(s, b);
  return b.subarray(0, written + 1);
}

/** The C `AF_*` number of a family. */
export function afOf(family: Family): number {
  return family === "ipv4" ? L.AF_INET : L.AF_INET6;
}

/**
 * Parses numeric address text into its 4 or 16 network-order bytes
 * (inet_pton), or returns null when the text is not an address of `family`.
 */
export function parseAddress(address: string, family: Family): Uint8Array | null {
  const out = new Uint8Array(family === "ipv4" ? 4 : 16);
  return lib.inet_pton(afOf(family), cString(address), out) === 1 ? out : null;
}

/** The family of numeric address text, or null when it is not an IP address. */
export function addressFamily(address: string): Family | null {
  if (parseAddress(address, "ipv4")) return "ipv4";
  if (parseAddress(address, "ipv6")) return "ipv6";
  return null;
}

const ntopBuf = new Uint8Array(64);

/** Formats 4 (IPv4) or 16 (IPv6) network-order address bytes as text. */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16) throw new RangeError("address must be 4 or 16 bytes");
  if (lib.inet_ntop(L.AF_INET6, bytes, ntopBuf, ntopBuf.length) === null) {
    throw new ErrnoError("inet_ntop", errno());
  }
  let end = 0;
  while (end < ntopBuf.length && ntopBuf[end] !== 0) end++;
  let s = "";
  for (let i = 0; i < end; i++) s += String.fromCharCode(ntopBuf[i]!);
  return s;
}

/** Encodes a `sockaddr_in`/`sockaddr_in6`; throws RangeError on a bad address. */
export function encodeSockaddr(addr: SockAddr): Uint8Array {
  const ip = parseAddress(addr.address, addr.family);
  if (!ip) throw new RangeError(`not an ${addr.family} address: ${addr.address}`);
  const size = addr.family === "ipv4" ? SOCKADDR_IN.size : SOCKADDR_IN6.size;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, afOf(addr.family), true);
  dv.setUint16(2, addr.port, false);
  out.set(ip, addr.family === "ipv4" ? SOCKADDR_IN.addr : SOCKADDR_IN6.addr);
  return out;
}

/** Decodes a `sockaddr_in`/`sockaddr_in6` at the start of `bytes`, or null for other families. */
export function decodeSockaddr(bytes: Uint8Array): SockAddr | null {
  if (bytes.length < 4) return null;
  const family = bytes[0]! | (bytes[1]! << 8);
  const port = (bytes[2]! << 8) | bytes[3]!;
  if (family === L.AF_INET && bytes.length >= SOCKADDR_IN.size) {
    const a = SOCKADDR_IN.addr;
    return { family: "ipv4", port, address: formatAddress(bytes.subarray(a, a + 4)) };
  }
  if (family === L.AF_INET6 && bytes.length >= SOCKADDR_IN6.size) {
    const a = SOCKADDR_IN6.addr;
    return { family: "ipv6", port, address: formatAddress(bytes.subarray(a, a + 16)) };
  }
  return null;
}

// ---- sockets ----

/** socket(2); throws ErrnoError. Returns the fd. */
export function socket(domain: number, type: number, protocol = 0): number {
  return check(lib.socket(domain, type, protocol), "socket");
}

/** bind(2) to an encoded sockaddr; throws ErrnoError (e.g. `EADDRINUSE`). */
export function bind(fd: number, sockaddr: Uint8Array): void {
  check(lib.bind(fd, sockaddr, sockaddr.length), "bind");
}

/** connect(2) to an encoded sockaddr (a UDP socket then only exchanges datagrams with it). */
export function connect(fd: number, sockaddr: Uint8Array): void {
  check(lib.connect(fd, sockaddr, sockaddr.length), "connect");
}

const intOpt = new Int32Array(1);
const intOptBytes = new Uint8Array(intOpt.buffer);

/** setsockopt(2) with an `int` value. */
export function setsockoptInt(fd: number, level: number, name: number, value: number): void {
  intOpt[0] = value;
  check(lib.setsockopt(fd, level, name, intOptBytes, 4), "setsockopt", `${level}/${name}`);
}

/** setsockopt(2) with raw bytes (e.g. an interface name for SO_BINDTODEVICE). */
export function setsockoptBytes(fd: number, level: number, name: number, value: Uint8Array): void {
  check(lib.setsockopt(fd, level, name, value, value.length), "setsockopt", `${level}/${name}`);
}

/** SO_ATTACH_REUSEPORT_CBPF (asm-generic/socket.h). */
const SO_ATTACH_REUSEPORT_CBPF = 51;
/** Loads relative to the network header in classic BPF (linux/filter.h SKF_NET_OFF). */
const SKF_NET_OFF = 0xfff00000;

/**
 * Steers the SO_REUSEPORT group `fd` (bound, SO_REUSEPORT set) belongs to by
 * source address: a classic BPF program (SO_ATTACH_REUSEPORT_CBPF) folds the
 * IPv4 (or IPv6) source address of each datagram to one word and takes it
 * modulo `groupSize` as the index of the socket in the group (sockets in the
 * order they were bound). Every port of one client address lands on one
 * socket, where the kernel's default hash of the four-tuple would spread a
 * client changing its source port over the group. Throws ErrnoError.
 */
export function steerReuseportBySource(fd: number, family: Family, groupSize: number): void {
  const n = Math.max(1, Math.floor(groupSize));
  // struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }
  const LD_ABS = 0x20, TAX = 0x07, RSH_K = 0x74, XOR_X = 0xac, MOD_K = 0x94, RET_A = 0x16;
  const insns: [number, number][] = [];
  const words = family === "ipv4" ? [12] : [8, 12, 16, 20]; // saddr in the IP header
  insns.push([LD_ABS, SKF_NET_OFF + words[0]!]);
  for (const off of words.slice(1)) insns.push([TAX, 0], [LD_ABS, SKF_NET_OFF + off], [XOR_X, 0]);
  insns.push([TAX, 0], [RSH_K, 16], [XOR_X, 0], [TAX, 0], [RSH_K, 8], [XOR_X, 0]);
  insns.push([MOD_K, n], [RET_A, 0]);
  const prog = new Uint8Array(insns.length * 8);
  const pv = new DataView(prog.buffer);
  insns.forEach(([code, k], i) => {
    pv.setUint16(i * 8, code, true);
    pv.setUint32(i * 8 + 4, k >>> 0, true);
  });
  // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
  const fprog = new Uint8Array(16);
  const fv = new DataView(fprog.buffer);
  fv.setUint16(0, insns.length, true);
  fv.setBigUint64(8, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(prog))), true);
  setsockoptBytes(fd, L.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, fprog);
}

/** SO_BINDTODEVICE: restricts the socket to the interface `device` (needs CAP_NET_RAW). */
export function bindToDevice(fd: number, device: string): void {
  setsockoptBytes(fd, L.SOL_SOCKET, L.SO_BINDTODEVICE, cString(device));
}

/**
 * IP_FREEBIND / IPV6_FREEBIND: lets `bind` take an address that is not (yet)
 * configured on any interface, as chronyd's server and command sockets do.
 */
export function setFreebind(fd: number, family: Family): void {
  if (family === "ipv6") setsockoptInt(fd, L.SOL_IPV6, IPV6_FREEBIND, 1);
  else setsockoptInt(fd, L.SOL_IP, IP_FREEBIND, 1);
}

/**
 * What an inherited descriptor is (socket activation): an IPv4/IPv6 datagram
 * or stream socket and its bound address, or null for anything else (not a
 * socket, closed, a Unix socket...).
 */
export function probeInetSocket(
  fd: number,
): { family: Family; type: "dgram" | "stream"; address: string; port: number } | null {
  try {
    const domain = getsockoptInt(fd, L.SOL_SOCKET, L.SO_DOMAIN);
    if (domain !== L.AF_INET && domain !== L.AF_INET6) return null;
    const t = getsockoptInt(fd, L.SOL_SOCKET, L.SO_TYPE);
    if (t !== L.SOCK_DGRAM && t !== L.SOCK_STREAM) return null;
    const a = getsockname(fd);
    return { ...a, type: t === L.SOCK_DGRAM ? "dgram" : "stream" };
  } catch (e) {
    if (e instanceof ErrnoError) return null; // ENOTSOCK, EBADF...: not ours to use
    throw e;
  }
}

/** Makes an inherited descriptor non-blocking and close-on-exec (ioctl FIONBIO, FIOCLEX). */
export function adoptDescriptor(fd: number): void {
  check(lib.ioctl(fd, BigInt(L.FIONBIO), new Uint8Array(new Int32Array([1]).buffer)), "ioctl");
  check(lib.ioctl(fd, BigInt(L.FIOCLEX), new Uint8Array(4)), "ioctl");
}

/** listen(2); throws ErrnoError. */
export function listen(fd: number, backlog: number): void {
  check(lib.listen(fd, backlog), "listen");
}

/**
 * accept4(2) with SOCK_NONBLOCK | SOCK_CLOEXEC: the new fd and the peer's
 * address, or `-errno` (no throw: EAGAIN is routine on a non-blocking listener).
 */
export function accept(fd: number): { fd: number; peer: SockAddr | null } | number {
  const buf = new Uint8Array(128);
  const len = new Uint32Array([buf.length]);
  const rc = lib.accept4(fd, buf, new Uint8Array(len.buffer), L.SOCK_NONBLOCK | L.SOCK_CLOEXEC);
  if (rc < 0) return -errno();
  return { fd: rc, peer: decodeSockaddr(buf.subarray(0, len[0])) };
}

/** read(2) into `buf`; bytes read (0 at end of stream) or -errno. */
export function readRaw(fd: number, buf: Uint8Array): number {
  const n = Number(lib.read(fd, buf, BigInt(buf.length)));
  return n < 0 ? -errno() : n;
}

/** send(2) of `buf` on a stream socket with `flags` (e.g. MSG_NOSIGNAL); bytes sent or -errno. */
export function sendRaw(fd: number, buf: Uint8Array, flags: number): number {
  const n = Number(lib.send(fd, buf, BigInt(buf.length), flags));
  return n < 0 ? -errno() : n;
}

/**
 * A `struct ifreq` for interface `name` (encoded, shorter than IFNAMSIZ)
 * whose ifr_data points at `data` (SIOCETHTOOL, SIOC[GS]HWTSTAMP): `data`
 * must stay referenced until the ioctl returns.
 */
export function ifreqWithData(name: Uint8Array, data: Uint8Array): Uint8Array {
  const ifr = new Uint8Array(IFREQ.size);
  ifr.set(name, IFREQ.name);
  new DataView(ifr.buffer).setBigUint64(
    IFREQ.data,
    BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(data))),
    true,
  );
  return ifr;
}

/**
 * The `SOF_TIMESTAMPING_*` capabilities of interface `name` (ethtool's
 * ETHTOOL_GET_TS_INFO through SIOCETHTOOL on a throw-away socket), or throws
 * ErrnoError (`ENODEV` for no such interface, `EOPNOTSUPP`).
 */
export function interfaceTimestamping(
  name: string,
): { soTimestamping: number; phcIndex: number; txTypes: number; rxFilters: number } {
  const nameBytes = new TextEncoder().encode(name);
  if (nameBytes.length >= IFREQ.namesize) throw new ErrnoError("ioctl", 19, /* ENODEV */ name);
  const info = new Uint8Array(ETHTOOL_TS_INFO.size);
  const infoView = new DataView(info.buffer);
  infoView.setUint32(ETHTOOL_TS_INFO.cmd, ETHTOOL_GET_TS_INFO, true);
  const ifr = ifreqWithData(nameBytes, info);
  const fd = socket(L.AF_INET, L.SOCK_DGRAM | L.SOCK_CLOEXEC, 0);
  try {
    check(lib.ioctl(fd, BigInt(SIOCETHTOOL), ifr), "ioctl", `SIOCETHTOOL ${name}`);
  } finally {
    close(fd);
  }
  return {
    soTimestamping: infoView.getUint32(ETHTOOL_TS_INFO.soTimestamping, true),
    phcIndex: infoView.getInt32(ETHTOOL_TS_INFO.phcIndex, true),
    txTypes: infoView.getUint32(ETHTOOL_TS_INFO.txTypes, true),
    rxFilters: infoView.getUint32(ETHTOOL_TS_INFO.rxFilters, true),
  };
}

/** getsockopt(2) of an `int` option. */
export function getsockoptInt(fd: number, level: number, name: number): number {
  const len = new Uint32Array([4]);
  check(
    lib.getsockopt(fd, level, name, intOptBytes, new Uint8Array(len.buffer)),
    "getsockopt",
    `${level}/${name}`,
  );
  return intOpt[0]!;
}

/** getsockname(2): the local address and port a socket is bound to. */
export function getsockname(fd: number): SockAddr {
  const buf = new Uint8Array(128);
  const len = new Uint32Array([buf.length]);
  check(lib.getsockname(fd, buf, new Uint8Array(len.buffer)), "getsockname");
  const a = decodeSockaddr(buf.subarray(0, len[0]));
  if (!a) throw new ErrnoError("getsockname", 97 /* EAFNOSUPPORT */);
  return a;
}

/** close(2). Errors other than EBADF are ignored (the fd is gone either way). */
export function close(fd: number): void {
  if (lib.close(fd) !== 0 && errno() === 9) throw new ErrnoError("close", 9);
}

/**
 * recvmsg(2) on an encoded msghdr; returns bytes received or -errno
 * (no throw: EAGAIN is routine on non-blocking sockets).
 */
export function recvmsgRaw(fd: number, msghdr: Uint8Array, flags: number): number {
  const n = Number(lib.recvmsg(fd, msghdr, flags));
  return n < 0 ? -errno() : n;
}

/** sendmsg(2) on an encoded msghdr; returns bytes sent or -errno. */
export function sendmsgRaw(fd: number, msghdr: Uint8Array, flags: number): number {
  const n = Number(lib.sendmsg(fd, msghdr, flags));
  return n < 0 ? -errno() : n;
}

/** recvmmsg(2) on an array of `vlen` mmsghdrs; returns messages received or -errno. */
export function recvmmsgRaw(fd: number, mmsghdrs: Uint8Array, vlen: number, flags: number): number {
  const n = lib.recvmmsg(fd, mmsghdrs, vlen, flags, null);
  return n < 0 ? -errno() : n;
}

/** sendmmsg(2) on an array of `vlen` mmsghdrs; returns messages sent or -errno. */
export function sendmmsgRaw(fd: number, mmsghdrs: Uint8Array, vlen: number, flags: number): number {
  const n = lib.sendmmsg(fd, mmsghdrs, vlen, flags);
  return n < 0 ? -errno() : n;
}

// ---- eventfd and poll ----

const efdWord = new BigUint64Array(1);
const efdBytes = new Uint8Array(efdWord.buffer);

/** eventfd(2), non-blocking and close-on-exec. Returns the fd. */
export function eventfd(initial = 0): number {
  return check(lib.eventfd(initial, L.EFD_NONBLOCK | L.EFD_CLOEXEC), "eventfd");
}

/** Adds 1 to an eventfd's counter (makes it readable). */
export function eventfdWrite(fd: number): void {
  efdWord[0] = 1n;
  if (Number(lib.write(fd, efdBytes, 8n)) < 0 && errno() !== 11) {
    throw new ErrnoError("write", errno(), "eventfd");
  }
}

/** Reads and resets an eventfd's counter; returns it (0 when it was not readable). */
export function eventfdRead(fd: number): number {
  efdWord[0] = 0n;
  return Number(lib.read(fd, efdBytes, 8n)) === 8 ? Number(efdWord[0]) : 0;
}

/** nfds_t values made once each (a poll() under load must not allocate a BigInt per call). */
const nfdsValues: bigint[] = [];
function nfdsOf(n: number): bigint {
  return nfdsValues[n] ??= BigInt(n);
}

/**
 * poll(2) on `nfds` pollfd structs in `fds`, blocking the JS thread for at most
 * `timeoutMs` (0 = just check). Returns the ready count; -1 on EINTR.
 */
export function poll(fds: Uint8Array, nfds: number, timeoutMs: number): number {
  const n = lib.poll(fds, nfdsOf(nfds), timeoutMs);
  if (n < 0 && errno() !== 4) throw new ErrnoError("poll", errno());
  return n;
}

/**
 * poll(2) on Deno's FFI worker thread: the event loop keeps running. Costs
 * ~40 µs a round trip and keeps the process alive until it returns, so put an
 * eventfd in the set to wake it. `fds` must not be touched until the promise
 * settles. Returns the ready count, or a negative value (e.g. EINTR; errno is
 * not readable from the worker thread).
 */
export function pollAsync(fds: Uint8Array, nfds: number, timeoutMs: number): Promise<number> {
  return lib.poll_nb(fds, nfdsOf(nfds), timeoutMs);
}

// ---- epoll (a private readiness set, itself watched by the poller) ----

/** struct epoll_event: packed (12 bytes) on x86_64, 16 bytes with the data at 8 elsewhere. */
const EPOLL_EVENT_SIZE = Deno.build.arch === "x86_64" ? 12 : 16;
const EPOLL_DATA_AT = Deno.build.arch === "x86_64" ? 4 : 8;
const epollEvent = new Uint8Array(EPOLL_EVENT_SIZE);
const epollEventView = new DataView(epollEvent.buffer);

/** epoll_create1(EPOLL_CLOEXEC): a new epoll descriptor. */
export function epollCreate(): number {
  return check(lib.epoll_create1(0o2000000), "epoll_create1");
}

/**
 * Adds (`add` true) or removes descriptor `fd` to or from the epoll set
 * `epfd`, watched for EPOLLIN (and, always, EPOLLERR/EPOLLHUP); its events
 * carry `fd`. Returns 0 or -errno.
 */
export function epollWatch(epfd: number, fd: number, add: boolean): number {
  epollEventView.setUint32(0, 1, true); // EPOLLIN
  epollEventView.setInt32(EPOLL_DATA_AT, fd, true);
  epollEventView.setInt32(EPOLL_DATA_AT + 4, 0, true);
  return lib.epoll_ctl(epfd, add ? 1 : 2, fd, epollEvent) < 0 ? -errno() : 0;
}

/** Scratch of {@linkcode epollReady}. */
let epollEvents = new Uint8Array(0);
let epollEventsView = new DataView(epollEvents.buffer);

/**
 * The descriptors of `epfd` that are ready (epoll_wait), at most
 * `out.length`, written to `out`; returns their count (0 on EINTR). Waits
 * up to `timeoutMs` (-1: until one is) blocking the calling thread: only a
 * thread with nothing else to do (an NTS-KE helper) passes more than 0.
 */
export function epollReady(epfd: number, out: Int32Array, timeoutMs = 0): number {
  if (epollEvents.length < out.length * EPOLL_EVENT_SIZE) {
    epollEvents = new Uint8Array(out.length * EPOLL_EVENT_SIZE);
    epollEventsView = new DataView(epollEvents.buffer);
  }
  const n = lib.epoll_wait(epfd, epollEvents, out.length, timeoutMs);
  if (n < 0) {
    if (errno() === 4) return 0;
    throw new ErrnoError("epoll_wait", errno());
  }
  const dv = epollEventsView;
  for (let i = 0; i < n; i++) out[i] = dv.getInt32(i * EPOLL_EVENT_SIZE + EPOLL_DATA_AT, true);
  return n;
}

// ---- getaddrinfo ----

/** A getaddrinfo failure; `code` is the glibc `EAI_*` name. */
export class GaiError extends Error {
  /** The `EAI_*` return value (negative). */
  readonly gai: number;
  /** Its name, e.g. `"EAI_NONAME"`. */
  readonly code: keyof typeof EAI | `EAI_${number}`;
  constructor(host: string, gai: number) {
    const entry = (Object.entries(EAI) as [keyof typeof EAI, number][]).find(([, v]) => v === gai);
    const code = entry ? entry[0] : (`EAI_${gai}` as const);
    super(`getaddrinfo ${host}: ${code}`);
    this.name = "GaiError";
    this.gai = gai;
    this.code = code;
  }
}

/**
 * getaddrinfo(3) on Deno's worker thread (honours /etc/hosts and nsswitch, like
 * chronyd): the numeric addresses of `host`, in resolver order, without
 * duplicates. `family` limits the answer. Throws GaiError.
 */
export async function getaddrinfo(host: string, family?: Family): Promise<SockAddr[]> {
  const hints = new Uint8Array(ADDRINFO.size);
  const hv = new DataView(hints.buffer);
  hv.setInt32(ADDRINFO.family, family ? afOf(family) : L.AF_UNSPEC, true);
  hv.setInt32(ADDRINFO.socktype, L.SOCK_DGRAM, true);
  const resOut = new BigUint64Array(1);
  const resBytes = new Uint8Array(resOut.buffer);
  const rc = await lib.getaddrinfo_nb(cString(host), null, hints, resBytes);
  if (rc !== 0) throw new GaiError(host, rc);
  const out: SockAddr[] = [];
  const seen = new Set<string>();
  const head = Deno.UnsafePointer.create(resOut[0]!);
  try {
    let p = head;
    for (let guard = 0; p !== null && guard < 1024; guard++) {
      const v = new Deno.UnsafePointerView(p);
      const addrLen = v.getUint32(ADDRINFO.addrlen);
      const addrPtr = v.getPointer(ADDRINFO.addr);
      if (addrPtr !== null && addrLen > 0) {
        const sa = new Uint8Array(addrLen);
        Deno.UnsafePointerView.copyInto(addrPtr, sa);
        const a = decodeSockaddr(sa);
        if (a && !seen.has(a.address)) {
          seen.add(a.address);
          out.push({ ...a, port: 0 });
        }
      }
      p = v.getPointer(ADDRINFO.next);
    }
  } finally {
    if (head !== null) lib.freeaddrinfo(head);
  }
  return out;
}

// --- System V shared memory (the SHM refclock driver)

/** An attached System V shared-memory segment. */
export interface ShmSegment {
  /** Segment id (shmget). */
  readonly id: number;
  /** The segment's bytes, read and written in place. */
  readonly view: DataView;
  /** Detaches (shmdt); the view must not be used afterwards. */
  detach(): void;
}

/**
 * shmget(2) for `key` (IPC.IPC_PRIVATE for a new private segment) of `size`
 * bytes with `flags` (IPC.IPC_CREAT | mode bits); returns the id.
 */
export function shmget(key: number, size: number, flags: number): number {
  const id = lib.shmget(key | 0, BigInt(size), flags);
  if (id < 0) throw new ErrnoError("shmget", errno());
  return id;
}

/** shmat(2): attaches segment `id` (read-write) and returns a view of its `size` bytes. */
export function shmat(id: number, size: number): ShmSegment {
  const p = lib.shmat(id, null, 0);
  // shmat returns (void *) -1 on failure.
  if (p === null || Deno.UnsafePointer.value(p) === 0xffffffffffffffffn) {
    throw new ErrnoError("shmat", errno());
  }
  const view = new DataView(Deno.UnsafePointerView.getArrayBuffer(p, size));
  let attached = true;
  return {
    id,
    view,
    detach() {
      if (!attached) return;
      attached = false;
      if (lib.shmdt(p) !== 0) throw new ErrnoError("shmdt", errno());
    },
  };
}

/** shmctl(id, IPC_RMID): marks the segment for removal (gone after the last detach). */
export function shmRemove(id: number): void {
  if (lib.shmctl(id, IPC.IPC_RMID, null) !== 0) throw new ErrnoError("shmctl", errno());
}

// ---- privileges ----

/** The three capability sets of a thread, one bit per capability number. */
export interface CapabilitySets {
  effective: bigint;
  permitted: bigint;
  inheritable: bigint;
}

/** A capability number as a one-bit set. */
export function capabilityBit(cap: number): bigint {
  return 1n << BigInt(cap);
}

/**
 * Encodes the arguments of capset(2)/capget(2) with
 * `_LINUX_CAPABILITY_VERSION_3`: the header (version, pid 0 = the calling
 * thread) and two data structs (capabilities 0-31, then 32-63), native endian.
 */
export function encodeCapabilities(sets: CapabilitySets): { header: Uint8Array; data: Uint8Array } {
  const header = new Uint8Array(CAP_HEADER.size);
  const hv = new DataView(header.buffer);
  hv.setUint32(CAP_HEADER.version, CAP.LINUX_CAPABILITY_VERSION_3, true);
  hv.setInt32(CAP_HEADER.pid, 0, true);
  const data = new Uint8Array(CAP_DATA.size * CAP_DATA.count);
  const dv = new DataView(data.buffer);
  for (let i = 0; i < CAP_DATA.count; i++) {
    const word = (set: bigint) => Number((set >> BigInt(32 * i)) & 0xffffffffn);
    const base = i * CAP_DATA.size;
    dv.setUint32(base + CAP_DATA.effective, word(sets.effective), true);
    dv.setUint32(base + CAP_DATA.permitted, word(sets.permitted), true);
    dv.setUint32(base + CAP_DATA.inheritable, word(sets.inheritable), true);
  }
  return { header, data };
}

/** Decodes the two version-3 data structs filled by capget(2). */
export function decodeCapabilities(data: Uint8Array): CapabilitySets {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const sets: CapabilitySets = { effective: 0n, permitted: 0n, inheritable: 0n };
  for (let i = 0; i < CAP_DATA.count; i++) {
    const base = i * CAP_DATA.size;
    const shift = BigInt(32 * i);
    sets.effective |= BigInt(dv.getUint32(base + CAP_DATA.effective, true)) << shift;
    sets.permitted |= BigInt(dv.getUint32(base + CAP_DATA.permitted, true)) << shift;
    sets.inheritable |= BigInt(dv.getUint32(base + CAP_DATA.inheritable, true)) << shift;
  }
  return sets;
}

/** capget(2) of the calling thread; throws ErrnoError. */
export function capget(): CapabilitySets {
  const { header, data } = encodeCapabilities({ effective: 0n, permitted: 0n, inheritable: 0n });
  check(lib.capget(header, data), "capget");
  return decodeCapabilities(data);
}

/**
 * capset(2) of the calling thread (capabilities are per thread: the other
 * threads of the process keep theirs); throws ErrnoError (`EPERM`).
 */
export function capset(sets: CapabilitySets): void {
  const { header, data } = encodeCapabilities(sets);
  check(lib.capset(header, data), "capset");
}

/** prctl(PR_SET_KEEPCAPS): keep the permitted set of the calling thread across setuid. */
export function setKeepCaps(keep: boolean): void {
  check(lib.prctl(PR_SET_KEEPCAPS, keep ? 1n : 0n, 0n, 0n, 0n), "prctl", "PR_SET_KEEPCAPS");
}

/**
 * prctl(PR_SET_NAME): the calling thread's name, at most 15 bytes (longer
 * names are cut). Called on the main thread it is the process's name in
 * `/proc/PID/comm`, `ps`, `pidof` and `ss -p`.
 */
export function setThreadName(name: string): void {
  const bytes = new Uint8Array(16);
  bytes.set(new TextEncoder().encode(name).subarray(0, 15));
  const ptr = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
  check(lib.prctl(PR_SET_NAME, ptr, 0n, 0n, 0n), "prctl", "PR_SET_NAME");
}

/**
 * setgroups(0, NULL): clears the supplementary groups. glibc applies this,
 * {@link setgid} and {@link setuid} to every thread of the process.
 */
export function clearGroups(): void {
  check(lib.setgroups(0n, null), "setgroups");
}

/** setgid(2); throws ErrnoError. */
export function setgid(gid: number): void {
  check(lib.setgid(gid), "setgid");
}

/** setuid(2); throws ErrnoError. */
export function setuid(uid: number): void {
  check(lib.setuid(uid), "setuid");
}

/** setrlimit(RLIMIT_MEMLOCK, unlimited) for the process; throws ErrnoError (`EPERM`). */
export function unlimitLockedMemory(): void {
  const lim = new BigUint64Array(RLIMIT.size / 8);
  lim[RLIMIT.cur / 8] = RLIMIT.INFINITY;
  lim[RLIMIT.max / 8] = RLIMIT.INFINITY;
  check(lib.setrlimit(RLIMIT.MEMLOCK, new Uint8Array(lim.buffer)), "setrlimit", "RLIMIT_MEMLOCK");
}

/** mlockall(2) with `MCL` flags; throws ErrnoError (`EPERM`, `ENOMEM`). */
export function mlockall(flags: number): void {
  check(lib.mlockall(flags), "mlockall");
}

/** sched_setscheduler(0, policy, {priority}) for the calling thread; throws ErrnoError. */
export function schedSetScheduler(policy: number, priority: number): void {
  const param = new Int32Array(SCHED.PARAM_SIZE / 4);
  param[0] = priority;
  check(
    lib.sched_setscheduler(0, policy, new Uint8Array(param.buffer)),
    "sched_setscheduler",
  );
}

/** sched_yield(2): lets another runnable task (e.g. one our send just woke) run first. */
export function schedYield(): void {
  lib.sched_yield();
}

/** sched_getscheduler(0): the calling thread's policy (`SCHED.FIFO`, ...). */
export function schedGetScheduler(): number {
  return check(lib.sched_getscheduler(0), "sched_getscheduler");
}
