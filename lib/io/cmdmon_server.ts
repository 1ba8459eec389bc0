/**
 * cmdmon sockets of the daemon: the Unix datagram command socket
 * (`bindcmdaddress PATH`, default /run/chrony/chronyd.sock) and the UDP
 * command port (`cmdport`, default 323 on 127.0.0.1 and ::1; 0 disables),
 * feeding each datagram to the sans-IO `handleRequest`.
 *
 * @example
 * ```ts
 * import { startCmdmonServer } from "./cmdmon_server.ts";
 * import type { CmdmonBackend } from "../cmdmon/handlers.ts";
 * async function serve(backend: CmdmonBackend) {
 *   const server = await startCmdmonServer(backend, { socketPath: "/tmp/x/chronyd.sock", port: 0 });
 *   await server.close();
 * }
 * ```
 * @module
 */

import { type CmdmonBackend, handleRequest } from "../cmdmon/handlers.ts";
import type { RequestKind } from "../cmdmon/request.ts";
import {
  type CmdAddress,
  DEFAULT_CMD_PORT,
  DEFAULT_CMD_SOCKET,
  parseAddress,
} from "../cmdmon/wire.ts";
import { addressFamily } from "../../ffi/libc.ts";
import { UdpSocket } from "./udp.ts";
import { isOsError } from "./os_error.ts";

/** Where to listen, and the access hooks (`cmdallow`/`cmddeny`, `cmdratelimit`). */
export interface CmdmonServerOptions {
  /** Unix socket path; "" disables it. Default /run/chrony/chronyd.sock. */
  socketPath?: string;
  /** UDP port; 0 disables. Default 323. */
  port?: number;
  /** UDP addresses; default 127.0.0.1 and ::1. */
  addresses?: string[];
  /** `bindcmddevice`: the UDP sockets are bound to this interface (SO_BINDTODEVICE). */
  device?: string;
  cmdAllowed?: (address: CmdAddress) => boolean;
  rateLimited?: (address: CmdAddress) => boolean;
  /** Counts requests from the Unix socket and localhost. */
  counted?: (address: CmdAddress | undefined) => void;
  /** `opencommands`: request kinds open over UDP (handlers.ts `openRequestKinds`). */
  openKinds?: ReadonlySet<RequestKind>;
  /** Called with problems worth a log line (wrong permissions, bind failures). */
  log?: (message: string) => void;
  /**
   * Who the daemon runs as once started (after `-u`): the socket's directory
   * must belong to this user and group, and the socket is given to them.
   * Default: the process's own uid and gid.
   */
  owner?: { uid: number; gid: number };
}

/** A running server. */
export interface CmdmonServer {
  /** UDP ports actually bound (useful with port 0 in tests is not applicable: 0 disables). */
  readonly udpAddrs: Deno.NetAddr[];
  close(): Promise<void>;
}

/**
 * Why the command socket's directory is refused, as chronyd checks it: no
 * permission bits for others, owned by the daemon's user and group (checked
 * in that order). Null when it is fit.
 */
export function socketDirProblem(
  dir: string,
  st: { mode: number; uid: number; gid: number },
  owner: { uid: number; gid: number },
): string | null {
  if ((st.mode & 0o007) !== 0) return `Wrong permissions on ${dir}`;
  if (st.uid !== owner.uid) return `Wrong owner of ${dir} (UID != ${owner.uid})`;
  if (st.gid !== owner.gid) return `Wrong owner of ${dir} (GID != ${owner.gid})`;
  return null;
}

/** Mode of the command socket: only its owner (the daemon's user) may send to it, as chronyd's. */
export const CMD_SOCKET_MODE = 0o755;

function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}

async function serve(
  sock: Deno.DatagramConn,
  fromUnixSocket: boolean,
  backend: CmdmonBackend,
  opts: CmdmonServerOptions,
): Promise<void> {
  try {
    for await (const [msg, addr] of sock) {
      let address: CmdAddress | undefined;
      if (addr.transport === "udp") address = parseAddress(addr.hostname) ?? undefined;
      const ctx = {
        fromUnixSocket,
        ...(address ? { address } : {}),
        ...(opts.cmdAllowed ? { cmdAllowed: opts.cmdAllowed } : {}),
        ...(opts.rateLimited ? { rateLimited: opts.rateLimited } : {}),
        ...(opts.counted ? { counted: opts.counted } : {}),
        ...(opts.openKinds ? { openKinds: opts.openKinds } : {}),
      };
      const reply = handleRequest(msg, ctx, backend);
      if (reply) await sock.send(reply, addr).catch(() => {});
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.BadResource)) throw e;
  }
}

/**
 * One UDP command socket: IPv6 sockets are IPV6_V6ONLY (so `::` and `0.0.0.0`
 * can both be bound, as chronyd allows) and every address is bound with
 * IP_FREEBIND, as chronyd binds `bindcmdaddress` before its interface is up.
 */
function openUdp(
  hostname: string,
  port: number,
  backend: CmdmonBackend,
  opts: CmdmonServerOptions,
): UdpSocket {
  const family = addressFamily(hostname);
  if (family === null) throw new RangeError(`not an IP address: ${hostname}`);
  const sock = UdpSocket.open({
    family,
    address: hostname,
    port,
    timestamping: false,
    v6Only: true,
    freebind: true,
    batch: 8,
    ...(opts.device ? { device: opts.device } : {}),
  });
  sock.onPacket((bytes, from) => {
    const address = parseAddress(from.address) ?? undefined;
    const ctx = {
      fromUnixSocket: false,
      ...(address ? { address } : {}),
      ...(opts.cmdAllowed ? { cmdAllowed: opts.cmdAllowed } : {}),
      ...(opts.rateLimited ? { rateLimited: opts.rateLimited } : {}),
      ...(opts.counted ? { counted: opts.counted } : {}),
      ...(opts.openKinds ? { openKinds: opts.openKinds } : {}),
    };
    const reply = handleRequest(bytes.slice(), ctx, backend);
    if (!reply) return;
    try {
      sock.send(reply, from);
    } catch (e) {
      if (!isOsError(e)) throw e; // the client is gone; chronyd drops the reply too
    }
  });
  return sock;
}

/** Opens the command sockets and serves requests until `close()`. */
export async function startCmdmonServer(
  backend: CmdmonBackend,
  opts: CmdmonServerOptions = {},
): Promise<CmdmonServer> {
  const socks: Deno.DatagramConn[] = [];
  const loops: Promise<void>[] = [];
  const log = opts.log ?? (() => {});
  const path = opts.socketPath ?? DEFAULT_CMD_SOCKET;
  if (path !== "") {
    const owner = opts.owner ?? { uid: Deno.uid() ?? 0, gid: Deno.gid() ?? 0 };
    const dir = dirOf(path);
    const st = await Deno.stat(dir);
    const problem = socketDirProblem(
      dir,
      { mode: (st.mode ?? 0) & 0o777, uid: st.uid ?? -1, gid: st.gid ?? -1 },
      owner,
    );
    if (problem !== null) {
      log(problem);
      log(`Disabled command socket ${path}`);
    } else {
      await Deno.remove(path).catch(() => {}); // a stale socket from an earlier run
      const s = Deno.listenDatagram({ transport: "unixpacket", path });
      // Writing to a Unix socket needs write permission on it: only the owner.
      await Deno.chmod(path, CMD_SOCKET_MODE);
      if (Deno.uid() === 0) await Deno.chown(path, owner.uid, owner.gid);
      socks.push(s);
      loops.push(serve(s, true, backend, opts));
    }
  }
  const port = opts.port ?? DEFAULT_CMD_PORT;
  const udpAddrs: Deno.NetAddr[] = [];
  const udpSocks: UdpSocket[] = [];
  if (port !== 0) {
    for (const hostname of opts.addresses ?? ["127.0.0.1", "::1"]) {
      try {
        const s = openUdp(hostname, port, backend, opts);
        const a = s.localAddress();
        udpAddrs.push({ transport: "udp", hostname: a.address, port: a.port });
        udpSocks.push(s);
      } catch (e) {
        log(`Could not open command socket on ${hostname}:${port}: ${e}`);
      }
    }
  }
  return {
    udpAddrs,
    async close() {
      for (const s of socks) s.close();
      await Promise.all(udpSocks.map((s) => s.close()));
      await Promise.allSettled(loops);
      if (path !== "") await Deno.remove(path).catch(() => {});
    },
  };
}
