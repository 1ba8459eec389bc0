/**
 * systemd's readiness protocol (sd_notify(3)), written without libsystemd:
 * one datagram such as `READY=1` sent on a Unix datagram socket to the path in
 * `NOTIFY_SOCKET` (a leading `@` names an abstract socket). chronyd 4.7+
 * sends `READY=1` once it is serving and `STOPPING=1` when it exits.
 *
 * @example
 * ```ts
 * import { sdNotify } from "./sd_notify.ts";
 * const path = Deno.env.get("NOTIFY_SOCKET");
 * if (path) sdNotify(path, "READY=1");
 * ```
 * @module
 */

import { close, errno, ErrnoError, rawLibc, socket } from "./libc.ts";
import { IOVEC, L, MSGHDR } from "./layout.ts";

/** AF_UNIX: 1 on every Linux architecture. */
const AF_UNIX = 1;
/** `struct sockaddr_un`: a u16 family, then `sun_path[108]`. */
const SUN_PATH_OFFSET = 2;
const SUN_PATH_MAX = 108;

/** Encodes a `sockaddr_un` for `path` (`@name` = abstract); returns the bytes to pass (addrlen = length). */
export function encodeSockaddrUn(path: string): Uint8Array {
  const name = new TextEncoder().encode(path);
  const abstract = path.startsWith("@");
  if (name.length === 0 || name.length > SUN_PATH_MAX - (abstract ? 0 : 1)) {
    throw new RangeError(`NOTIFY_SOCKET path is empty or too long: ${path}`);
  }
  // Abstract names: a NUL for the '@', no terminator; paths: NUL-terminated.
  const out = new Uint8Array(SUN_PATH_OFFSET + name.length + (abstract ? 0 : 1));
  new DataView(out.buffer).setUint16(0, AF_UNIX, true);
  out.set(name, SUN_PATH_OFFSET);
  if (abstract) out[SUN_PATH_OFFSET] = 0;
  return out;
}

function addressOf(buf: Uint8Array): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf as Uint8Array<ArrayBuffer>)));
}

/**
 * Sends `message` to the service manager's socket `path`. Throws
 * {@link ErrnoError} when the socket cannot be reached (e.g. ENOENT,
 * ECONNREFUSED); the caller decides whether that matters (chronyd only logs).
 */
export function sdNotify(path: string, message: string): void {
  const addr = encodeSockaddrUn(path);
  const data = new TextEncoder().encode(message);
  const iov = new Uint8Array(IOVEC.size);
  const iv = new DataView(iov.buffer);
  iv.setBigUint64(IOVEC.base, addressOf(data), true);
  iv.setBigUint64(IOVEC.len, BigInt(data.length), true);
  const msg = new Uint8Array(MSGHDR.size);
  const mv = new DataView(msg.buffer);
  mv.setBigUint64(MSGHDR.name, addressOf(addr), true);
  mv.setUint32(MSGHDR.namelen, addr.length, true);
  mv.setBigUint64(MSGHDR.iov, addressOf(iov), true);
  mv.setBigUint64(MSGHDR.iovlen, 1n, true);
  const fd = socket(AF_UNIX, L.SOCK_DGRAM | L.SOCK_CLOEXEC);
  try {
    const n = Number(rawLibc.sendmsg(fd, msg, 0));
    if (n < 0) throw new ErrnoError("sendmsg", errno(), path);
  } finally {
    close(fd);
  }
}
