/**
 * Socket activation (chronyd(8) 4.5+, `LISTEN_FDS`), the descriptor side:
 * {@linkcode adoptListenFds} probes the descriptors the service manager
 * passed, once at start, and {@linkcode takeInheritedSocket} hands one to
 * `UdpSocket.open` / `TcpListener.open` in place of a new socket when its
 * family, type and bound address and port are the ones asked for. What is
 * taken and what is not follows chronyd 4.8 (lib/net/socket_activation.ts).
 *
 * @example
 * ```ts ignore
 * import { adoptListenFds } from "./inherited_sockets.ts";
 * const found = adoptListenFds(); // [] without LISTEN_FDS
 * ```
 * @module
 */
import { adoptDescriptor, probeInetSocket } from "../../ffi/libc.ts";
import { type InheritedSocket, listenFdRange, SocketPool } from "../net/socket_activation.ts";

let pool: SocketPool | null = null;

/** The environment variables of the protocol (removed once read, as sd_listen_fds(3) may). */
const LISTEN_VARS = ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"];

/**
 * Reads `LISTEN_FDS` from `env` and probes the descriptors it gives; the
 * IPv4/IPv6 sockets among them become available to
 * {@linkcode takeInheritedSocket}. Returns them. Call before any socket is
 * opened.
 */
export function adoptListenFds(
  env: Pick<Deno.Env, "toObject" | "delete"> = Deno.env,
): readonly InheritedSocket[] {
  const range = listenFdRange(env.toObject());
  for (const v of LISTEN_VARS) env.delete(v);
  if (range === null) return [];
  const found: InheritedSocket[] = [];
  for (let fd = range.first; fd < range.first + range.count; fd++) {
    const s = probeInetSocket(fd);
    if (s !== null) found.push({ fd, ...s });
  }
  pool = new SocketPool(found);
  return found;
}

/**
 * An inherited socket of this family and type bound to exactly `address`
 * and `port`, made non-blocking and close-on-exec, or null: open a new one.
 */
export function takeInheritedSocket(
  family: "ipv4" | "ipv6",
  type: "dgram" | "stream",
  address: string,
  port: number,
): number | null {
  const fd = pool?.take(family, type, address, port) ?? null;
  if (fd !== null) adoptDescriptor(fd);
  return fd;
}
