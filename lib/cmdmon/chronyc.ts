/**
 * chronyc, sans-IO: argument parsing, the command loop (`-m`, the
 * `chronyc>` prompt with help/quit/exit), request/reply exchange through an
 * injected transport, and report printing via format.ts. Errors and exit
 * codes follow chronyc(1): "506 Cannot talk to daemon", "501 Not
 * authorised", "Unrecognized command"; exit 0 when every command succeeded.
 *
 * @example
 * ```ts
 * import { runChronyc } from "./chronyc.ts";
 * const code = await runChronyc(["-n", "tracking"], io);
 * ```
 * @module
 */

import { encodeRequest, type Request } from "./request.ts";
import { decodeReply, decodeReplyHeader, type Reply } from "./reports.ts";
import {
  addressText,
  type CmdAddress,
  DEFAULT_CMD_PORT,
  DEFAULT_CMD_SOCKET,
  parseAddress,
  PKT_TYPE_REPLY,
  PROTO_VERSION,
  REPLY_HEADER_LENGTH,
  Status,
  statusText,
  UNSPEC,
} from "./wire.ts";
import * as fmt from "./format.ts";

/** A request/response channel to a daemon (Unix socket or UDP). */
export interface CmdmonTransport {
  /**
   * Sends `build(attempt)` and waits, retrying with a new attempt number,
   * until `accept` takes a reply; null when the daemon never answers.
   */
  exchange(
    build: (attempt: number) => Uint8Array,
    accept: (reply: Uint8Array) => boolean,
  ): Promise<Uint8Array | null>;
  close(): Promise<void>;
}

/** Everything chronyc needs from the outside world. */
export interface ChronycIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Opens a transport; a host starting with "/" is a Unix socket path. */
  connect(target: { host: string; port: number; family?: 4 | 6 }): Promise<CmdmonTransport>;
  /** Interactive input; null at end of input. */
  readLine?(prompt: string): Promise<string | null>;
  /** Reverse name of an address (without -n); null to print the address. */
  resolve?(address: string): Promise<string | null>;
  sleep(ms: number): Promise<void>;
  /** 32 random bits for sequence numbers. */
  random32(): number;
}

interface Options {
  csv: boolean;
  numeric: boolean;
  origNames: boolean;
  verbose: boolean;
}

class CmdError extends Error {
  override name = "CmdError";
}

const HELP = `System clock:
  tracking                  Display system time information
  makestep                  Correct clock by stepping immediately
  waitsync [max-tries [max-correction [max-skew [interval]]]] Wait until synchronised
Time sources:
  sources [-a] [-v]         Display information about current sources
  sourcestats [-a] [-v]     Display statistics about collected measurements
  selectdata [-a] [-v]      Display information about source selection
  activity                  Check how many NTP sources are online/offline
  authdata [-a]             Display information about authentication
  ntpdata [<address>]       Display information about last valid measurement
  online|offline [<address>] Set sources online or offline
  burst <n>/<m> [<address>] Start rapid set of measurements
  refresh | reload sources | reset sources | onoffline
NTP access:
  clients [-p <poll>] [-r] [-k] Report on clients that accessed the server
  serverstats               Display statistics of the server
Other daemon commands:
  cyclelogs | dump | rekey | shutdown | writertc | trimrtc
Client commands:
  quit | exit | help
`;

/** Runs chronyc with its command-line arguments; resolves to the exit code. */
export async function runChronyc(args: string[], io: ChronycIo): Promise<number> {
  const opts: Options = { csv: false, numeric: false, origNames: false, verbose: false };
  let host: string | undefined;
  let port = DEFAULT_CMD_PORT;
  let family: 4 | 6 | undefined;
  let multi = false;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === "-h") host = args[++i] ?? "";
    else if (a === "-p") port = Number(args[++i]);
    else if (a === "-n") opts.numeric = true;
    else if (a === "-N") opts.origNames = true;
    else if (a === "-c") opts.csv = opts.numeric = true;
    else if (a === "-m") multi = true;
    else if (a === "-4") family = 4;
    else if (a === "-6") family = 6;
    else if (a === "-a" || a === "-d" || a === "-v") continue;
    else if (a === "--version" || a === "-V") {
      io.stdout("chronyc (horae) version 4.3-compatible\n");
      return 0;
    } else if (a.startsWith("-") && a !== "-") {
      io.stderr(`Unknown option ${a}\n`);
      return 1;
    } else break;
  }
  const rest = args.slice(i);
  const commands = rest.length === 0 ? [] : multi ? rest : [rest.join(" ")];
  const hosts = host !== undefined ? [host] : [
    DEFAULT_CMD_SOCKET,
    ...(family === 6 ? [] : ["127.0.0.1"]),
    ...(family === 4 ? [] : ["::1"]),
  ];
  let transport: CmdmonTransport | null = null;
  const session = {
    async exchange(req: Request): Promise<{ status: number; reply: Reply } | null> {
      for (const h of transport ? [] : hosts) {
        try {
          transport = await io.connect({ host: h, port, ...(family ? { family } : {}) });
          const t: CmdmonTransport = transport;
          const r = await roundTrip(t, req, io);
          if (r) return r;
          await t.close();
          transport = null;
        } catch {
          transport = null;
        }
      }
      if (!transport) return null;
      return await roundTrip(transport, req, io);
    },
  };
  let ok = true;
  try {
    if (commands.length === 0 && io.readLine) {
      for (;;) {
        const line = await io.readLine("chronyc> ");
        if (line === null) break;
        const cmd = line.trim();
        if (cmd === "quit" || cmd === "exit") break;
        if (cmd === "") continue;
        await runCommand(cmd, opts, session, io);
      }
      return 0;
    }
    for (const cmd of commands) {
      if (!(await runCommand(cmd.trim(), opts, session, io))) ok = false;
    }
  } finally {
    const t = transport as CmdmonTransport | null;
    if (t) await t.close();
  }
  return ok ? 0 : 1;
}

interface Session {
  exchange(req: Request): Promise<{ status: number; reply: Reply } | null>;
}

async function roundTrip(t: CmdmonTransport, req: Request, io: ChronycIo) {
  const sequence = io.random32() >>> 0;
  const bytes = await t.exchange(
    (attempt) => encodeRequest(req, { sequence, attempt }),
    (b) => {
      if (b.length < REPLY_HEADER_LENGTH) return false;
      const h = decodeReplyHeader(b);
      return h.pktType === PKT_TYPE_REPLY && h.sequence === sequence && h.res1 === 0 &&
        h.res2 === 0;
    },
  );
  if (!bytes) return null;
  const h = decodeReplyHeader(bytes);
  if (h.version !== PROTO_VERSION) return { status: Status.BADPKTVERSION, reply: NULL };
  if (h.status !== Status.SUCCESS) return { status: h.status, reply: NULL };
  try {
    return { status: h.status, reply: decodeReply(bytes).reply };
  } catch {
    return { status: -1, reply: NULL };
  }
}

const NULL: Reply = { kind: "null" };

async function request<K extends Reply["kind"]>(
  s: Session,
  req: Request,
  want: K,
): Promise<Extract<Reply, { kind: K }>> {
  const r = await s.exchange(req);
  if (!r) throw new CmdError("506 Cannot talk to daemon");
  if (r.status === -1) throw new CmdError("Invalid reply from daemon");
  if (r.status !== Status.SUCCESS) throw new CmdError(statusText(r.status));
  if (r.reply.kind !== want) throw new CmdError("Invalid reply from daemon");
  return r.reply as Extract<Reply, { kind: K }>;
}

async function control(s: Session, req: Request, io: ChronycIo): Promise<boolean> {
  const r = await s.exchange(req);
  if (!r) throw new CmdError("506 Cannot talk to daemon");
  io.stdout(statusText(r.status) + "\n");
  return r.status === Status.SUCCESS || r.status === Status.ACCESSALLOWED ||
    r.status === Status.ACCESSDENIED;
}

async function nameOf(a: CmdAddress, o: Options, io: ChronycIo, s: Session): Promise<string> {
  if (o.origNames && a.family !== "unspec") {
    const r = await s.exchange({ kind: "ntp_source_name", ip: a });
    if (r && r.reply.kind === "ntp_source_name" && r.reply.name) return r.reply.name;
  }
  const text = addressText(a);
  if (o.numeric || a.family === "unspec" || a.family === "id" || !io.resolve) return text;
  return (await io.resolve(text)) ?? text;
}

function parseMaskAddr(arg: string | undefined): { mask: CmdAddress; address: CmdAddress } {
  if (!arg) return { mask: UNSPEC, address: UNSPEC };
  const [m, a] = arg.includes("/") ? arg.split("/") : [undefined, arg];
  const address = parseAddress(a ?? "");
  if (!address) throw new CmdError("Invalid syntax for address");
  const mask = m ? parseAddress(m) : null;
  return {
    mask: mask ??
      (address.family === "inet6"
        ? { family: "inet6", address: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" }
        : { family: "inet4", address: "255.255.255.255" }),
    address,
  };
}

function addrArg(arg: string | undefined): CmdAddress {
  const a = parseAddress(arg ?? "");
  if (!a) throw new CmdError("Could not get address for hostname");
  return a;
}

const SIMPLE: Record<string, Request["kind"]> = {
  cyclelogs: "cyclelogs",
  dump: "dump",
  rekey: "rekey",
  refresh: "refresh",
  reselect: "reselect",
  shutdown: "shutdown",
  writertc: "writertc",
  trimrtc: "trimrtc",
  onoffline: "onoffline",
  "reload sources": "reload_sources",
  "reset sources": "reset_sources",
};

async function runCommand(line: string, o: Options, s: Session, io: ChronycIo): Promise<boolean> {
  const words = line.split(/\s+/);
  const cmd = words[0] ?? "";
  const flags = new Set(words.slice(1).filter((w) => w.startsWith("-")));
  const argsOnly = words.slice(1).filter((w) => !w.startsWith("-"));
  const verbose = o.verbose || flags.has("-v");
  try {
    if (line === "help") {
      io.stdout(HELP);
      return true;
    }
    const simple = SIMPLE[line];
    if (simple) return await control(s, { kind: simple } as Request, io);
    switch (cmd) {
      case "tracking": {
        const t = (await request(s, { kind: "tracking" }, "tracking")).report;
        const name = t.address.family === "unspec"
          ? fmt.refIdName(t.refId)
          : await nameOf(t.address, o, io, s);
        io.stdout(fmt.formatTracking(t, name, o.csv));
        return true;
      }
      case "sources":
      case "sourcestats":
      case "selectdata":
      case "authdata":
      case "ntpdata": {
        if (cmd === "ntpdata" && argsOnly[0]) {
          const r = await request(s, { kind: "ntp_data", ip: addrArg(argsOnly[0]) }, "ntp_data");
          io.stdout(fmt.formatNtpData(r.report, o.csv));
          return true;
        }
        const n = (await request(s, { kind: "n_sources" }, "n_sources")).nSources;
        let out = "";
        if (!o.csv) {
          if (cmd === "sources") {
            if (verbose) out += fmt.SOURCES_LEGEND.join("\n") + "\n";
            out += fmt.SOURCES_HEADER;
          } else if (cmd === "sourcestats") {
            if (verbose) out += fmt.SOURCESTATS_LEGEND.join("\n") + "\n";
            out += fmt.SOURCESTATS_HEADER;
          } else if (cmd === "selectdata") {
            if (verbose) out += fmt.SELECTDATA_LEGEND.join("\n") + "\n";
            out += fmt.SELECTDATA_HEADER;
          } else if (cmd === "authdata") out += fmt.AUTHDATA_HEADER;
        }
        for (let i = 0; i < n; i++) {
          if (cmd === "sourcestats") {
            const r = (await request(s, { kind: "sourcestats", index: i }, "sourcestats")).report;
            out += fmt.formatSourceStats(r, await nameOf(r.address, o, io, s), o.csv);
            continue;
          }
          if (cmd === "selectdata") {
            const r = (await request(s, { kind: "select_data", index: i }, "select_data")).report;
            out += fmt.formatSelectData(r, await nameOf(r.address, o, io, s), o.csv);
            continue;
          }
          const src = (await request(s, { kind: "source_data", index: i }, "source_data")).report;
          if (cmd === "sources") {
            out += fmt.formatSource(src, await nameOf(src.address, o, io, s), o.csv);
          } else if (src.mode !== 2) {
            if (cmd === "authdata") {
              const r = await request(s, { kind: "auth_data", ip: src.address }, "auth_data");
              out += fmt.formatAuthData(r.report, await nameOf(src.address, o, io, s), o.csv);
            } else {
              const r = await request(s, { kind: "ntp_data", ip: src.address }, "ntp_data");
              out += fmt.formatNtpData(r.report, o.csv);
            }
          }
        }
        io.stdout(out);
        return true;
      }
      case "activity":
        io.stdout(
          fmt.formatActivity((await request(s, { kind: "activity" }, "activity")).report, o.csv),
        );
        return true;
      case "serverstats":
        io.stdout(
          fmt.formatServerStats(
            (await request(s, { kind: "server_stats" }, "server_stats")).report,
            o.csv,
          ),
        );
        return true;
      case "clients": {
        const nke = flags.has("-k");
        let out = o.csv ? "" : fmt.clientsHeader(nke);
        for (let first = 0;;) {
          const page = (await request(s, {
            kind: "client_accesses_by_index3",
            firstIndex: first,
            nClients: 8,
            minHits: 0,
            reset: flags.has("-r") ? 1 : 0,
          }, "client_accesses")).page;
          for (const c of page.clients) {
            out += fmt.formatClient(c, await nameOf(c.address, o, io, s), nke, o.csv);
          }
          if (page.clients.length === 0 || page.nextIndex <= first) break;
          first = page.nextIndex;
        }
        io.stdout(out);
        return true;
      }
      case "online":
      case "offline":
        return await control(s, { kind: cmd, ...parseMaskAddr(argsOnly[0]) }, io);
      case "burst": {
        const [n, m] = (argsOnly[0] ?? "").split("/").map(Number);
        if (!n || !m) throw new CmdError("Invalid syntax for burst command");
        return await control(s, {
          kind: "burst",
          ...parseMaskAddr(argsOnly[1]),
          nGoodSamples: n,
          nTotalSamples: m,
        }, io);
      }
      case "makestep":
        if (argsOnly.length === 2) {
          return await control(s, {
            kind: "modify_makestep",
            limit: Number(argsOnly[1]),
            threshold: Number(argsOnly[0]),
          }, io);
        }
        return await control(s, { kind: "makestep" }, io);
      case "delete":
        return await control(s, { kind: "del_source", ip: addrArg(argsOnly[0]) }, io);
      case "accheck":
      case "cmdaccheck":
        return await control(s, { kind: cmd, ip: addrArg(argsOnly[0]) }, io);
      case "minpoll":
      case "maxpoll":
      case "minstratum":
      case "polltarget":
        return await control(s, {
          kind: `modify_${cmd}`,
          address: addrArg(argsOnly[0]),
          value: Number(argsOnly[1]),
        }, io);
      case "maxdelay":
      case "maxdelayratio":
      case "maxdelaydevratio":
        return await control(s, {
          kind: `modify_${cmd}`,
          address: addrArg(argsOnly[0]),
          value: Number(argsOnly[1]),
        }, io);
      case "maxupdateskew":
        return await control(s, { kind: "modify_maxupdateskew", value: Number(argsOnly[0]) }, io);
      case "dfreq":
        return await control(s, { kind: "dfreq", value: Number(argsOnly[0]) }, io);
      case "doffset":
        return await control(s, { kind: "doffset2", value: Number(argsOnly[0]) }, io);
      case "waitsync":
        return await waitsync(argsOnly.map(Number), o, s, io);
      default:
        io.stderr("Unrecognized command\n");
        return false;
    }
  } catch (e) {
    if (e instanceof CmdError) {
      io.stderr(e.message + "\n");
      return false;
    }
    throw e;
  }
}

/** chronyc(1) waitsync: poll tracking until synchronised with small enough correction and skew. */
async function waitsync(a: number[], o: Options, s: Session, io: ChronycIo): Promise<boolean> {
  const maxTries = a[0] || 0;
  const maxCorrection = a[1] || 0;
  const maxSkewPpm = a[2] || 0;
  const interval = a[3] || 10;
  for (let tries = 1;; tries++) {
    const t = (await request(s, { kind: "tracking" }, "tracking")).report;
    const correction = Math.abs(t.currentCorrection) + Math.abs(t.lastOffset) * 0 +
      t.rootDelay / 2 + t.rootDispersion;
    io.stdout(
      `try: ${tries}, refid: ${t.refId.toString(16).toUpperCase().padStart(8, "0")}, ` +
        `correction: ${Math.abs(t.currentCorrection).toFixed(9)}, skew: ${t.skewPpm.toFixed(3)}\n`,
    );
    const synced = t.refId !== 0 && t.leapStatus !== 3 &&
      (maxCorrection === 0 || correction <= maxCorrection) &&
      (maxSkewPpm === 0 || t.skewPpm <= maxSkewPpm);
    if (synced) return true;
    if (maxTries !== 0 && tries >= maxTries) return false;
    void o;
    await io.sleep(interval * 1000);
  }
}
