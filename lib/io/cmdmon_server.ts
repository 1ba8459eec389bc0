/**
 * cmdmon sockets of the daemon: the Unix datagram command socket
 * (`bindcmdaddress PATH`, default /run/chrony/chronyd.sock) and the UDP
 * command port (`cmdport`, default 323 on 127.0.0.1 and ::1; 0 disables),
 * feeding each datagram to the sans-IO `handleRequest`.
 *
 * @example
 * ```ts
 * import { startCmdmonServer } from "./cmdmon_server.ts";
 * const server = await startCmdmonServer(backend, { socketPath: "/tmp/x/chronyd.sock", port: 0 });
 * await server.close();
 * ```
 * @module
 */

import { type CmdmonBackend, handleRequest } from "../cmdmon/handlers.ts";
import {
  type CmdAddress,
  DEFAULT_CMD_PORT,
  DEFAULT_CMD_SOCKET,
  parseAddress,
} from "../cmdmon/wire.ts";

/** Where to listen, and the access hooks (`cmdallow`/`cmddeny`, `cmdratelimit`). */
export interface CmdmonServerOptions {
  /** Unix socket path; "" disables it. Default /run/chrony/chronyd.sock. */
  socketPath?: string;
  /** UDP port; 0 disables. Default 323. */
  port?: number;
  /** UDP addresses; default 127.0.0.1 and ::1. */
  addresses?: string[];
  cmdAllowed?: (address: CmdAddress) => boolean;
  rateLimited?: (address: CmdAddress) => boolean;
  /** Counts requests from the Unix socket and localhost. */
  counted?: (address: CmdAddress | undefined) => void;
  /** Called with problems worth a log line (wrong permissions, bind failures). */
  log?: (message: string) => void;
}

/** A running server. */
export interface CmdmonServer {
  /** UDP ports actually bound (useful with port 0 in tests is not applicable: 0 disables). */
  readonly udpAddrs: Deno.NetAddr[];
  close(): Promise<void>;
}

/** Raised when the command socket directory is accessible by others (chronyd: "Wrong permissions"). */
export class CmdSocketPermissionError extends Error {
  override name = "CmdSocketPermissionError";
  /** @param dir the directory; @param mode its permission bits. */
  constructor(readonly dir: string, readonly mode: number) {
    super(`Wrong permissions on ${dir} (mode ${mode.toString(8)}): command socket disabled`);
  }
}

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
      };
      const reply = handleRequest(msg, ctx, backend);
      if (reply) await sock.send(reply, addr).catch(() => {});
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.BadResource)) throw e;
  }
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
    const st = await Deno.stat(dirOf(path));
    const mode = (st.mode ?? 0) & 0o777;
    if ((mode & 0o007) !== 0) {
      const err = new CmdSocketPermissionError(dirOf(path), mode);
      log(err.message);
    } else {
      await Deno.remove(path).catch(() => {}); // a stale socket from an earlier run
      const s = Deno.listenDatagram({ transport: "unixpacket", path });
      await Deno.chmod(path, 0o666);
      socks.push(s);
      loops.push(serve(s, true, backend, opts));
    }
  }
  const port = opts.port ?? DEFAULT_CMD_PORT;
  const udpAddrs: Deno.NetAddr[] = [];
  if (port !== 0) {
    for (const hostname of opts.addresses ?? ["127.0.0.1", "::1"]) {
      try {
        const s = Deno.listenDatagram({ transport: "udp", hostname, port });
        udpAddrs.push(s.addr as Deno.NetAddr);
        socks.push(s);
        loops.push(serve(s, false, backend, opts));
      } catch (e) {
        log(`Could not open command socket on ${hostname}:${port}: ${e}`);
      }
    }
  }
  return {
    udpAddrs,
    async close() {
      for (const s of socks) s.close();
      await Promise.allSettled(loops);
      if (path !== "") await Deno.remove(path).catch(() => {});
    },
  };
}
