/**
 * chronyc's transport: a Unix datagram socket bound beside the daemon's
 * socket (`DIR/chronyc.PID.sock`, as chronyc does) or UDP to HOST:PORT, with
 * chronyc's retry rule (attempt counter in the header, timeout doubling from
 * 1 s, three tries).
 *
 * @example
 * ```ts
 * import { openCmdmonTransport } from "./cmdmon_client.ts";
 * const t = await openCmdmonTransport({ host: "/run/chrony/chronyd.sock" });
 * ```
 * @module
 */

import { type ChronycIo, type CmdmonTransport, ConnectError } from "../cmdmon/chronyc.ts";
import { DEFAULT_CMD_PORT } from "../cmdmon/wire.ts";
import { resolve } from "./dns.ts";
import { isOsError } from "./os_error.ts";

/** chronyc: initial reply timeout (ms), doubled per retry. */
const INITIAL_TIMEOUT_MS = 1000;
/** chronyc: attempts per request. */
const MAX_ATTEMPTS = 3;

/** Where to connect. A host starting with "/" is a Unix socket path. */
export interface TransportTarget {
  host: string;
  port?: number;
  family?: 4 | 6;
}

async function receiveWithTimeout(
  sock: Deno.DatagramConn,
  ms: number,
): Promise<Uint8Array | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<null>((r) => {
    timer = setTimeout(() => r(null), ms);
  });
  try {
    const got = await Promise.race([sock.receive().then(([b]) => b), timeout]);
    return got;
  } finally {
    clearTimeout(timer);
  }
}

/** Opens a transport; throws {@link ConnectError} when the socket cannot be opened. */
export async function openCmdmonTransport(target: TransportTarget): Promise<CmdmonTransport> {
  try {
    return await openSocket(target);
  } catch (e) {
    // the system refusing the socket (NotFound for a missing daemon socket,
    // PermissionDenied, no IPv6, ...): chronyc treats them alike, this host cannot
    // be reached and the next one is tried
    if (!isOsError(e)) throw e;
    throw new ConnectError(`${target.host}: ${e.message}`, { cause: e });
  }
}

async function openSocket(target: TransportTarget): Promise<CmdmonTransport> {
  let sock: Deno.DatagramConn;
  let dest: Deno.Addr;
  let clientPath = "";
  if (target.host.startsWith("/")) {
    const dir = target.host.slice(0, Math.max(1, target.host.lastIndexOf("/")));
    // like chronyc's connect(): a missing daemon socket is an open failure
    await Deno.stat(target.host);
    clientPath = `${dir}/chronyc.${Deno.pid}.sock`;
    await Deno.remove(clientPath).catch(() => {});
    sock = Deno.listenDatagram({ transport: "unixpacket", path: clientPath });
    await Deno.chmod(clientPath, 0o666).catch(() => {});
    dest = { transport: "unixpacket", path: target.host };
  } else {
    let hostname = target.host;
    if (!/^[0-9.]+$/.test(hostname) && !hostname.includes(":")) {
      const recs = await Deno.resolveDns(hostname, target.family === 6 ? "AAAA" : "A")
        .catch(() => [] as string[]);
      hostname = recs[0] ?? (hostname === "localhost" ? "127.0.0.1" : hostname);
    }
    const v6 = hostname.includes(":");
    sock = Deno.listenDatagram({ transport: "udp", hostname: v6 ? "::" : "0.0.0.0", port: 0 });
    dest = { transport: "udp", hostname, port: target.port ?? DEFAULT_CMD_PORT };
  }
  return {
    async exchange(build, accept, limits) {
      let timeout = limits?.timeoutMs ?? INITIAL_TIMEOUT_MS;
      const attempts = limits ? limits.retries + 1 : MAX_ATTEMPTS;
      for (let attempt = 0; attempt < attempts; attempt++) {
        try {
          await sock.send(build(attempt), dest);
        } catch (e) {
          if (!isOsError(e)) throw e;
          return null; // not sent (no daemon socket, no route): "506 Cannot talk to daemon"
        }
        const deadline = Date.now() + timeout;
        for (;;) {
          const left = deadline - Date.now();
          if (left <= 0) break;
          const reply = await receiveWithTimeout(sock, left);
          if (!reply) break;
          if (accept(reply)) return reply;
        }
        timeout *= 2;
      }
      return null;
    },
    async close() {
      sock.close();
      if (clientPath) await Deno.remove(clientPath).catch(() => {});
    },
  };
}

let pending = "";
let stdinEnded = false;
const stdinReader = { reader: null as ReadableStreamDefaultReader<Uint8Array> | null };

/** One line of piped standard input; null at its end. */
async function readStdinLine(): Promise<string | null> {
  const dec = new TextDecoder();
  for (;;) {
    const nl = pending.indexOf("\n");
    if (nl >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      return line;
    }
    if (stdinEnded) {
      const last = pending;
      pending = "";
      return last === "" ? null : last;
    }
    stdinReader.reader ??= Deno.stdin.readable.getReader();
    const { value, done } = await stdinReader.reader.read();
    if (done) stdinEnded = true;
    else pending += dec.decode(value, { stream: true });
  }
}

/** Reverse name of an address from /etc/hosts (the first name listed), else null. */
async function resolveHosts(address: string): Promise<string | null> {
  const text = await Deno.readTextFile("/etc/hosts").catch(() => "");
  for (const line of text.split("\n")) {
    const [ip, name] = line.replace(/#.*/, "").trim().split(/\s+/);
    if (ip === address && name) return name;
  }
  return null;
}

/**
 * The real-world `ChronycIo`: process stdout/stderr, sockets, /etc/hosts names
 * (`-u USER` is the process's: lib/daemon/chronyc_main.ts adds it).
 */
export function chronycIo(): ChronycIo {
  const enc = new TextEncoder();
  return {
    stdout: (t) => Deno.stdout.writeSync(enc.encode(t)),
    stderr: (t) => Deno.stderr.writeSync(enc.encode(t)),
    connect: (target) => openCmdmonTransport(target),
    // chronyc prompts only on a terminal; piped input is read line by line
    readLine: Deno.stdin.isTerminal() ? (p) => Promise.resolve(prompt(p.trimEnd())) : readStdinLine,
    terminal: Deno.stdin.isTerminal(),
    lookup: async (name, family) =>
      (await resolve(name, family === 4 ? "ipv4" : family === 6 ? "ipv6" : undefined)
        .catch(() => []))[0] ?? null,
    resolve: resolveHosts,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    random32: () => crypto.getRandomValues(new Uint32Array(1))[0]!,
    randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
    nowMs: () => Date.now(),
  };
}
