/**
 * systemd socket activation (chronyd(8) 4.5+, `LISTEN_FDS`), the pure part:
 * which inherited descriptors to look at, and which one a socket the daemon
 * is about to open takes instead of a new one. The descriptors themselves
 * are probed in lib/io/inherited_sockets.ts.
 *
 * As observed with chronyd 4.8 (run under a launcher handing it sockets):
 * - `LISTEN_FDS=N` gives descriptors 3..3+N-1; `LISTEN_PID` is not checked
 *   (a wrong or missing one changes nothing); without `LISTEN_FDS` an
 *   inherited socket is not used.
 * - Every IPv4/IPv6 socket the daemon binds to a fixed address and port
 *   (NTP server, UDP command port, NTS-KE listener, `acquisitionport`
 *   client socket) takes an inherited socket of the same family, type (UDP:
 *   datagram, TCP: stream) and bound address and port, the address compared
 *   exactly (`127.0.0.1:123` is not `0.0.0.0:123`).
 * - Unix sockets are never taken (the command socket is bound anew at its
 *   path); inherited descriptors nothing takes stay open, and nothing is
 *   logged about them.
 *
 * @example
 * ```ts
 * import { listenFdRange, SocketPool } from "./socket_activation.ts";
 * listenFdRange({ LISTEN_FDS: "2" }); // { first: 3, count: 2 }
 * const pool = new SocketPool([
 *   { fd: 3, family: "ipv4", type: "dgram", address: "127.0.0.1", port: 123 },
 * ]);
 * pool.take("ipv4", "stream", "127.0.0.1", 123); // null (not a datagram socket)
 * pool.take("ipv4", "dgram", "127.0.0.1", 123); // 3
 * pool.take("ipv4", "dgram", "127.0.0.1", 123); // null (taken once)
 * ```
 * @module
 */
import { canonicalIp } from "./address.ts";

/** First descriptor passed by the service manager (sd_listen_fds(3)). */
export const LISTEN_FDS_START = 3;

/** Most descriptors looked at (our bound on a malformed `LISTEN_FDS`). */
export const LISTEN_FDS_MAX = 1024;

/** An inherited socket as probed: family, type and bound address. */
export interface InheritedSocket {
  fd: number;
  family: "ipv4" | "ipv6";
  type: "dgram" | "stream";
  /** Numeric address text as getsockname(2) gives it. */
  address: string;
  port: number;
}

/**
 * The descriptors `LISTEN_FDS` hands over, or null when it is absent, not a
 * positive decimal number, or zero. `LISTEN_PID` is ignored, as chronyd 4.8
 * ignores it.
 */
export function listenFdRange(
  env: Readonly<Record<string, string | undefined>>,
): { first: number; count: number } | null {
  const text = env.LISTEN_FDS;
  if (text === undefined || !/^[0-9]{1,9}$/.test(text)) return null;
  const count = Number(text);
  if (count === 0) return null;
  return { first: LISTEN_FDS_START, count: Math.min(count, LISTEN_FDS_MAX) };
}

/** The inherited sockets not taken yet; see the module doc. */
export class SocketPool {
  #free: InheritedSocket[];

  constructor(sockets: readonly InheritedSocket[]) {
    this.#free = [...sockets];
  }

  /**
   * The descriptor of an inherited socket of this family and type bound to
   * exactly `address` and `port` (each taken once), or null. Port 0 (any
   * port) never matches.
   */
  take(
    family: "ipv4" | "ipv6",
    type: "dgram" | "stream",
    address: string,
    port: number,
  ): number | null {
    if (port === 0) return null;
    const want = canonicalIp(address);
    if (want === null) return null;
    const i = this.#free.findIndex((s) =>
      s.family === family && s.type === type && s.port === port && canonicalIp(s.address) === want
    );
    if (i < 0) return null;
    const [s] = this.#free.splice(i, 1);
    return s!.fd;
  }

  /** Inherited sockets nothing has taken (left open, as chronyd 4.8 leaves them). */
  get untaken(): readonly InheritedSocket[] {
    return this.#free;
  }
}
