/**
 * chronyc, sans-IO: argument parsing, the command loop (`-m`, the
 * `chronyc>` prompt with help/quit/exit), request/reply exchange through an
 * injected transport, and report printing via format.ts. Errors and exit
 * codes follow chronyc(1): "506 Cannot talk to daemon", "501 Not
 * authorised", "Unrecognized command"; exit 0 when every command succeeded.
 *
 * @example
 * ```ts
 * import { type ChronycIo, runChronyc } from "./chronyc.ts";
 * async function tracking(io: ChronycIo) {
 *   return await runChronyc(["-n", "tracking"], io); // the exit code
 * }
 * ```
 * @module
 */

import { VERSION, versionLine } from "../version.ts";
import { AddSrcFlag, AddSrcType, encodeRequest, type Request } from "./request.ts";
import { ArgReader } from "../conf/args.ts";
import { parseSourceDirective } from "../conf/source_options.ts";
import type { SourceKind } from "../conf/config.ts";
import { formatIpBytes, parseSubnet as parseIpSubnet, REFID_LOCAL } from "../net/address.ts";
import { decodeReply, decodeReplyHeader, type Reply, SourceMode } from "./reports.ts";
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
import { collectReport, fetchVia, isJsonReport, ReportError } from "./json.ts";
import { getDate } from "./getdate.ts";

/** chronyc's `timeout` and `retries` settings. */
export interface ExchangeLimits {
  /** First reply timeout (ms), doubled after each unanswered try; chronyc default 1000. */
  timeoutMs: number;
  /** Tries after the first; chronyc default 2. */
  retries: number;
}

/** A request/response channel to a daemon (Unix socket or UDP). */
export interface CmdmonTransport {
  /**
   * Sends `build(attempt)` and waits, retrying with a new attempt number,
   * until `accept` takes a reply; null when the daemon never answers.
   */
  exchange(
    build: (attempt: number) => Uint8Array,
    accept: (reply: Uint8Array) => boolean,
    limits?: ExchangeLimits,
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
  /** Standard input is a terminal: the interactive session starts with a banner. */
  terminal?: boolean;
  /** Reverse name of an address (without -n); null to print the address. */
  resolve?(address: string): Promise<string | null>;
  sleep(ms: number): Promise<void>;
  /** 32 random bits for sequence numbers. */
  random32(): number;
  /** Addresses of a host name (without -n it is still used for commands taking a host). */
  lookup?(name: string, family?: 4 | 6): Promise<string | null>;
  /** `n` random bytes (`keygen`). */
  randomBytes(n: number): Uint8Array;
  /** Wall clock, ms since the Unix epoch (for `settime` dates without a year). */
  nowMs(): number;
  /** chronyc 4.8 `-u USER`: switch to that user; an error message when it cannot. */
  dropPrivileges?(user: string): string | null;
}

/** Per-run settings changed by options and client commands. */
interface Options {
  csv: boolean;
  /** `-j`/`--json`: reports as JSON documents (lib/cmdmon/json.ts, docs/API.md). */
  json?: boolean;
  numeric: boolean;
  origNames: boolean;
  /** Address family for host name look-ups (`-4`, `-6`, `dns -4|-6|-46`). */
  family: 4 | 6 | undefined;
  limits: ExchangeLimits;
}

/** A command failed before or without a daemon status; the message goes to stderr. */
class CmdError extends Error {
  override name = "CmdError";
}

/** No daemon socket could be opened at all: chronyc gives up with exit code 1. */
class OpenError extends Error {
  override name = "OpenError";
}

/** A daemon status (or 506) to print on stdout; the command failed. */
class StatusError extends Error {
  override name = "StatusError";
}

/** `help`: chronyc's command list, described in horae's words. */
const HELP_ROWS: readonly (readonly [string, string])[] = [
  ["System clock:", ""],
  ["tracking", "Show the state of the system clock"],
  ["makestep", "Step the clock now to remove the offset"],
  ["makestep <threshold> <updates>", "Set the automatic stepping rule"],
  ["maxupdateskew <skew>", "Set the largest skew that updates the frequency"],
  [
    "waitsync [<max-tries> [<max-correction> [<max-skew> [<interval>]]]]",
    "Wait for synchronisation within limits",
  ],
  ["", ""],
  ["Time sources:", ""],
  ["sources [-a] [-v]", "List the sources and their last samples"],
  ["sourcestats [-a] [-v]", "List the statistics of each source's samples"],
  ["selectdata [-a] [-v]", "Show why each source is or is not selected"],
  ["reselect", "Choose the synchronisation source again"],
  ["reselectdist <dist>", "Set the distance penalty for switching source"],
  ["", ""],
  ["NTP sources:", ""],
  ["activity", "Count the NTP sources online and offline"],
  ["authdata [-a] [-v]", "Show how each source is authenticated"],
  ["ntpdata [<address>]", "Show the last good NTP measurement in detail"],
  ["add server <name> [options]", "Start using a new server"],
  ["add pool <name> [options]", "Start using a new pool of servers"],
  ["add peer <name> [options]", "Start using a new symmetric peer"],
  ["delete <address>", "Stop using a server or peer"],
  ["burst <n-good>/<n-max> [[<mask>/]<address>]", "Take a quick series of measurements"],
  ["maxdelay <address> <delay>", "Set the largest delay a sample may have"],
  ["maxdelayratio <address> <ratio>", "Set the largest delay to minimum delay ratio"],
  ["maxdelaydevratio <address> <ratio>", "Set the largest delay to deviation ratio"],
  ["minpoll <address> <poll>", "Set the shortest polling interval"],
  ["maxpoll <address> <poll>", "Set the longest polling interval"],
  ["minstratum <address> <stratum>", "Set the lowest stratum assumed"],
  ["offline [[<mask>/]<address>]", "Stop polling the sources in a subnet"],
  ["online [[<mask>/]<address>]", "Resume polling the sources in a subnet"],
  ["onoffline", "Put every source online or offline\nas the routes allow"],
  ["polltarget <address> <target>", "Set the number of samples aimed for"],
  ["refresh", "Look the source names up again"],
  ["reload sources", "Read the *.sources files again"],
  ["sourcename <address>", "Show the name a source was given as"],
  ["", ""],
  ["Manual time input:", ""],
  ["manual off|on|reset", "Refuse, accept or forget settime input"],
  ["manual list", "List the settime samples"],
  ["manual delete <index>", "Forget one settime sample"],
  ["settime <time>", "Tell the daemon the current time"],
  ["", "(like Sep 25, 2015 16:30:05 or 16:30:05)"],
  ["", ""],
  ["NTP access:", ""],
  ["accheck <address>", "Tell whether an address may use the NTP server"],
  ["clients [-p <packets>] [-k] [-r]", "List the clients the server has seen"],
  ["serverstats", "Show the server's counters"],
  ["allow [<subnet>]", "Let a subnet in (narrower rules still apply)"],
  ["allow all [<subnet>]", "Let a subnet in, overriding narrower rules"],
  ["deny [<subnet>]", "Keep a subnet out (narrower rules still apply)"],
  ["deny all [<subnet>]", "Keep a subnet out, overriding narrower rules"],
  ["local [options]", "Serve time even while unsynchronised"],
  ["local off", "Serve time only while synchronised"],
  ["smoothtime reset|activate", "Restart or start server time smoothing"],
  ["smoothing", "Show the server time smoothing state"],
  ["", ""],
  ["Monitoring access:", ""],
  ["cmdaccheck <address>", "Tell whether an address may use this command port"],
  ["cmdallow [<subnet>]", "Let a subnet in (narrower rules still apply)"],
  ["cmdallow all [<subnet>]", "Let a subnet in, overriding narrower rules"],
  ["cmddeny [<subnet>]", "Keep a subnet out (narrower rules still apply)"],
  ["cmddeny all [<subnet>]", "Keep a subnet out, overriding narrower rules"],
  ["", ""],
  ["Real-time clock:", ""],
  ["rtcdata", "Show the model of the real-time clock"],
  ["trimrtc", "Set the real-time clock from the system clock"],
  ["writertc", "Save the real-time clock model to its file"],
  ["", ""],
  ["Other daemon commands:", ""],
  ["cyclelogs", "Reopen the log files"],
  ["dump", "Save measurements and NTS keys and cookies"],
  ["rekey", "Read the key file again"],
  ["reset sources", "Forget every source's measurements"],
  ["shutdown", "Stop the daemon"],
  ["", ""],
  ["Client commands:", ""],
  ["dns -n|+n", "Print addresses only, or names too"],
  ["dns -4|-6|-46", "Look names up as IPv4, IPv6 or both"],
  ["timeout <milliseconds>", "Set the first reply timeout"],
  ["retries <retries>", "Set how often a request is sent again"],
  ["keygen [<id> [<type> [<bits>]]]", "Print a new line for the key file"],
  ["exit|quit", "Leave chronyc"],
  ["help", "Print this list"],
  ["", ""],
];

/** The `help` text: a command in 28 columns, its description after (on a new line when longer). */
export function helpText(): string {
  let out = "";
  for (const [c, d] of HELP_ROWS) {
    // a description's own line breaks continue in the description column
    const text = d.replaceAll("\n", "\n" + " ".repeat(28));
    out += c.length < 28 ? c.padEnd(28) + text + "\n" : c + "\n" + " ".repeat(28) + text + "\n";
  }
  return out;
}

/**
 * The banner of an interactive session (chronyc's layout: five lines and a
 * blank one; horae's own words).
 */
export function bannerText(): string {
  return `horae version ${VERSION} (chronyc)\n` +
    "Copyright (C) 2026 the horae authors\n" +
    "horae is given as it is, with NO WARRANTY of any kind.  You may use,\n" +
    "change and pass it on under the terms that come with its source; see\n" +
    "the project's documentation for them.\n" +
    "\n";
}

/** Runs chronyc with its command-line arguments; resolves to the exit code. */
export async function runChronyc(args: string[], io: ChronycIo): Promise<number> {
  const opts: Options = {
    csv: false,
    numeric: false,
    origNames: false,
    family: undefined,
    limits: { timeoutMs: 1000, retries: 2 },
  };
  let host: string | undefined;
  let port = DEFAULT_CMD_PORT;
  let multi = false;
  let endDots = false; // chronyc 4.8 -e: a line "." ends each response
  let user: string | undefined;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === "-h") host = args[++i] ?? "";
    else if (a === "-p") port = Number(args[++i]);
    else if (a === "-n") opts.numeric = true;
    else if (a === "-N") opts.origNames = true;
    else if (a === "-c") opts.csv = true;
    else if (a === "-j" || a === "--json") opts.json = true;
    else if (a === "-m") multi = true;
    else if (a === "-e") endDots = true;
    else if (a === "-u") user = args[++i] ?? "";
    else if (a === "-4") opts.family = 4;
    else if (a === "-6") opts.family = 6;
    else if (a === "-a" || a === "-d" || a === "-dd") continue;
    else if (a === "--version" || a === "-v" || a === "-V") {
      io.stdout(versionLine("chronyc") + "\n");
      return 0;
    } else if (a === "--help") {
      io.stdout(
        "Usage: chronyc [OPTION]... [COMMAND]...\n\nOptions:\n" +
          "  -4\t\tUse IPv4 addresses only\n  -6\t\tUse IPv6 addresses only\n" +
          "  -n\t\tPrint addresses, not names\n  -N\t\tPrint the names sources were given as\n" +
          "  -c\t\tPrint comma-separated values\n  -j, --json\tPrint reports as JSON\n" +
          "  -e\t\tEnd each response with a dot line\n  -m\t\tTake each argument as a command\n" +
          "  -h HOST\tDaemon's host or socket path\n  -p PORT\tDaemon's command port\n" +
          "  -u USER\tRun as this user\n" +
          "  -v\t\tPrint the version and exit\n",
      );
      return 0;
    } else if (a.startsWith("-") && a !== "-" && !/^-?\d/.test(a)) {
      io.stderr(`Unknown option ${a}\n`);
      return 1;
    } else break;
  }
  if (user !== undefined && user !== "root") {
    const why = io.dropPrivileges ? io.dropPrivileges(user) : `Could not switch to user ${user}`;
    if (why !== null) {
      io.stderr(why + "\n");
      return 1;
    }
  }
  const rest = args.slice(i);
  const commands = rest.length === 0 ? [] : multi ? rest : [rest.join(" ")];
  const family = opts.family;
  const hosts = host !== undefined ? host.split(",") : [
    DEFAULT_CMD_SOCKET,
    ...(family === 6 ? [] : ["127.0.0.1"]),
    ...(family === 4 ? [] : ["::1"]),
  ];
  let transport: CmdmonTransport | null = null;
  const session: Session = {
    async exchange(req: Request): Promise<{ status: number; reply: Reply } | null> {
      if (transport) return await roundTrip(transport, req, io, opts.limits);
      let opened = false;
      for (const h of hosts) {
        let t: CmdmonTransport;
        try {
          t = await io.connect({ host: h, port, ...(family ? { family } : {}) });
        } catch {
          continue;
        }
        opened = true;
        const r = await roundTrip(t, req, io, opts.limits);
        if (r) {
          transport = t;
          return r;
        }
        await t.close();
      }
      if (!opened) throw new OpenError("Could not open connection to daemon");
      return null;
    },
  };
  let last = true;
  let ok = true;
  try {
    return await loop();
  } catch (e) {
    if (!(e instanceof OpenError)) throw e;
    io.stderr(e.message + "\n");
    return 1;
  } finally {
    const t = transport as CmdmonTransport | null;
    if (t) await t.close();
  }
  async function loop(): Promise<number> {
    if (commands.length === 0 && io.readLine) {
      if (io.terminal) io.stdout(bannerText());
      for (;;) {
        const line = await io.readLine("chronyc> ");
        if (line === null) break;
        const r = await runCommand(line, opts, session, io);
        if (r === "quit") break;
        if (endDots) io.stdout(".\n");
        last = r;
      }
      return last ? 0 : 1;
    }
    for (const cmd of commands) {
      const r = await runCommand(cmd, opts, session, io);
      if (r === "quit") break;
      if (endDots) io.stdout(".\n");
      if (!r) {
        ok = false;
        if (multi) break;
      }
    }
    return ok ? 0 : 1;
  }
}

interface Session {
  exchange(req: Request): Promise<{ status: number; reply: Reply } | null>;
}

async function roundTrip(t: CmdmonTransport, req: Request, io: ChronycIo, limits: ExchangeLimits) {
  const sequence = io.random32() >>> 0;
  const bytes = await t.exchange(
    (attempt) => encodeRequest(req, { sequence, attempt }),
    (b) => {
      if (b.length < REPLY_HEADER_LENGTH) return false;
      const h = decodeReplyHeader(b);
      return h.pktType === PKT_TYPE_REPLY && h.sequence === sequence && h.res1 === 0 &&
        h.res2 === 0;
    },
    limits,
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

/** Sends a report request; throws StatusError unless the reply is a `want` reply. */
async function request<K extends Reply["kind"]>(
  s: Session,
  req: Request,
  want: K,
): Promise<Extract<Reply, { kind: K }>> {
  const r = await s.exchange(req);
  if (!r) throw new StatusError("506 Cannot talk to daemon");
  if (r.status === -1) throw new StatusError("Invalid reply from daemon");
  if (r.status !== Status.SUCCESS) throw new StatusError(statusText(r.status));
  if (r.reply.kind !== want) throw new StatusError("Invalid reply from daemon");
  return r.reply as Extract<Reply, { kind: K }>;
}

/** Sends a control request and prints its status; true for 200, 208 and 209. */
async function control(s: Session, req: Request, io: ChronycIo): Promise<boolean> {
  const r = await s.exchange(req);
  if (!r) throw new StatusError("506 Cannot talk to daemon");
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
  if (o.numeric || o.csv || a.family === "unspec" || a.family === "id" || !io.resolve) return text;
  return (await io.resolve(text)) ?? text;
}

/** An address or host name to an address; null when it cannot be resolved. */
async function hostAddress(
  text: string | undefined,
  o: Options,
  io: ChronycIo,
): Promise<CmdAddress | null> {
  if (!text) return null;
  const direct = parseAddress(text);
  if (direct) return direct;
  if (!io.lookup || !/^[A-Za-z0-9.-]+$/.test(text)) return null;
  const found = await io.lookup(text, o.family);
  return found ? parseAddress(found) : null;
}

async function needAddress(text: string | undefined, o: Options, io: ChronycIo) {
  const a = await hostAddress(text, o, io);
  if (!a) throw new CmdError("Could not get address for hostname");
  return a;
}

/** `[[mask/]address]` of online/offline/burst. */
async function parseMaskAddr(
  arg: string | undefined,
  o: Options,
  io: ChronycIo,
): Promise<{ mask: CmdAddress; address: CmdAddress }> {
  if (!arg) return { mask: UNSPEC, address: UNSPEC };
  const slash = arg.indexOf("/");
  if (slash < 0) {
    const address = await needAddress(arg, o, io);
    return { mask: fullMask(address), address };
  }
  const mask = parseAddress(arg.slice(0, slash));
  const address = await hostAddress(arg.slice(slash + 1), o, io);
  if (!mask || !address) throw new CmdError("Could not get address for hostname");
  return { mask, address };
}

function fullMask(a: CmdAddress): CmdAddress {
  return a.family === "inet6"
    ? { family: "inet6", address: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" }
    : { family: "inet4", address: "255.255.255.255" };
}

/**
 * A subnet of allow/deny: `a.b.c.d[/bits]`, a shortened IPv4 prefix
 * (`10.1` = 10.1.0.0/16), `ipv6[/bits]`; null when unreadable.
 */
export function parseSubnet(text: string): { ip: CmdAddress; subnetBits: number } | null {
  const s = parseIpSubnet(text);
  if (typeof s === "string") return null;
  const family = s.family === 4 ? "inet4" : "inet6";
  return { ip: { family, address: formatIpBytes(s.bytes) }, subnetBits: s.bits };
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
};

/** A number the way chronyc's sscanf reads it: a leading numeric prefix; undefined when none. */
function num(word: string | undefined): number | undefined {
  if (word === undefined) return undefined;
  const m = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(word);
  return m ? Number(m[0]) : undefined;
}

function int(word: string | undefined): number | undefined {
  if (word === undefined) return undefined;
  const m = /^\s*[+-]?\d+/.exec(word);
  return m ? Number(m[0]) : undefined;
}

/** Runs one command line; "quit" for quit/exit, else whether it succeeded. */
async function runCommand(
  line: string,
  o: Options,
  s: Session,
  io: ChronycIo,
): Promise<boolean | "quit"> {
  const words = line.trim().split(/\s+/).filter((w) => w !== "");
  const cmd = words[0] ?? "";
  const args = words.slice(1);
  try {
    return await dispatch(cmd, args, o, s, io);
  } catch (e) {
    if (e instanceof CmdError) {
      io.stderr(e.message + "\n");
      return false;
    }
    if (e instanceof StatusError) {
      io.stdout(e.message + "\n");
      return false;
    }
    throw e;
  }
}

async function dispatch(
  cmd: string,
  args: string[],
  o: Options,
  s: Session,
  io: ChronycIo,
): Promise<boolean | "quit"> {
  const flags = new Set(args.filter((w) => w.startsWith("-")));
  const verbose = flags.has("-v");
  const simple = SIMPLE[cmd];
  if (simple) return await control(s, { kind: simple } as Request, io);
  if (o.json && isJsonReport(cmd)) {
    try {
      io.stdout(JSON.stringify(await collectReport(cmd, fetchVia(s.exchange)), null, 2) + "\n");
    } catch (e) {
      throw e instanceof ReportError ? new StatusError(e.message) : e;
    }
    return true;
  }
  switch (cmd) {
    case "":
      return true;
    case "quit":
    case "exit":
      return "quit";
    case "help":
      io.stdout(helpText());
      return true;
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
      return await sourceReport(cmd, verbose, o, s, io);
    case "ntpdata": {
      if (args[0] !== undefined) {
        const ip = await needAddress(args[0], o, io);
        const r = await request(s, { kind: "ntp_data", ip }, "ntp_data");
        // one source: no blank line before it, unlike the listing of all sources
        io.stdout(fmt.formatNtpData(r.report, o.csv, r.v2).replace(/^\n/, ""));
        return true;
      }
      return await sourceReport(cmd, verbose, o, s, io);
    }
    case "activity":
      io.stdout(
        fmt.formatActivity((await request(s, { kind: "activity" }, "activity")).report, o.csv),
      );
      return true;
    case "serverstats":
      io.stdout(fmt.formatServerStats(
        (await request(s, { kind: "server_stats" }, "server_stats")).report,
        o.csv,
      ));
      return true;
    case "rtcdata":
      io.stdout(fmt.formatRtc((await request(s, { kind: "rtcreport" }, "rtc")).report, o.csv));
      return true;
    case "smoothing":
      io.stdout(
        fmt.formatSmoothing((await request(s, { kind: "smoothing" }, "smoothing")).report, o.csv),
      );
      return true;
    case "clients":
      return await clients(args, o, s, io);
    case "online":
    case "offline":
      return await control(s, { kind: cmd, ...(await parseMaskAddr(args[0], o, io)) }, io);
    case "burst": {
      const m = /^(\d+)\/(\d+)$/.exec(args[0] ?? "");
      if (!m) throw new CmdError("Invalid syntax for burst command");
      return await control(s, {
        kind: "burst",
        ...(await parseMaskAddr(args[1], o, io)),
        nGoodSamples: Number(m[1]),
        nTotalSamples: Number(m[2]),
      }, io);
    }
    case "makestep": {
      if (args.length === 0) return await control(s, { kind: "makestep" }, io);
      const threshold = num(args[0]);
      const limit = int(args[1]);
      if (args.length !== 2 || threshold === undefined || limit === undefined) {
        throw new CmdError("Bad syntax for makestep command");
      }
      return await control(s, { kind: "modify_makestep", limit, threshold }, io);
    }
    case "delete": {
      if (args[0] === undefined) throw new CmdError("Invalid syntax for address");
      return await control(s, { kind: "del_source", ip: await needAddress(args[0], o, io) }, io);
    }
    case "accheck":
    case "cmdaccheck":
    case "sourcename": {
      const ip = await hostAddress(args[0], o, io);
      if (!ip) throw new CmdError("Could not read address");
      if (cmd !== "sourcename") return await control(s, { kind: cmd, ip }, io);
      io.stdout((await request(s, { kind: "ntp_source_name", ip }, "ntp_source_name")).name + "\n");
      return true;
    }
    case "minpoll":
    case "maxpoll":
    case "minstratum":
    case "polltarget":
    case "maxdelay":
    case "maxdelayratio":
    case "maxdelaydevratio": {
      const isInt = !cmd.startsWith("maxdelay");
      const value = isInt ? int(args[1]) : num(args[1]);
      const address = await hostAddress(args[0], o, io);
      if (!address || value === undefined) throw new CmdError("Invalid syntax for address value");
      return await control(s, { kind: `modify_${cmd}`, address, value } as Request, io);
    }
    case "maxupdateskew":
    case "reselectdist":
    case "dfreq":
    case "doffset": {
      const value = num(args[0]);
      if (value === undefined) {
        if (cmd === "dfreq" || cmd === "doffset") throw new CmdError("Invalid value");
        return false; // chronyc says nothing here
      }
      const kind = cmd === "maxupdateskew"
        ? "modify_maxupdateskew"
        : cmd === "reselectdist"
        ? "reselectdistance"
        : cmd === "doffset"
        ? "doffset2"
        : "dfreq";
      return await control(s, { kind, value }, io);
    }
    case "reset":
    case "reload":
      if (args.length !== 1 || args[0] !== "sources") {
        throw new CmdError(`Invalid syntax for ${cmd} command`);
      }
      return await control(s, { kind: cmd === "reset" ? "reset_sources" : "reload_sources" }, io);
    case "allow":
    case "deny":
    case "cmdallow":
    case "cmddeny": {
      const all = args[0] === "all";
      const rest = all ? args.slice(1) : args;
      let ip: CmdAddress = UNSPEC;
      let subnetBits = 0;
      if (rest.length > 1) throw new CmdError("Could not read address");
      if (rest[0] !== undefined) {
        const sub = parseSubnet(rest[0]);
        if (!sub) throw new CmdError("Could not read address");
        ({ ip, subnetBits } = sub);
      }
      return await control(
        s,
        { kind: (all ? `${cmd}all` : cmd) as "allow", ip, subnetBits },
        io,
      );
    }
    case "local": {
      // chronyd 4.8 knows only LOCAL3 (as chronyc 4.8 sends), chronyd 4.3 only
      // LOCAL2: LOCAL3 first, LOCAL2 when refused and no 4.5+ option is used
      const req = parseLocal(args);
      if (req.kind !== "local2") return await control(s, req, io);
      const r = await s.exchange({
        ...req,
        kind: "local3",
        activate: 0,
        waitSynced: 0,
        waitUnsynced: 0,
      });
      if (r && r.status !== Status.INVALID) {
        io.stdout(statusText(r.status) + "\n");
        return r.status === Status.SUCCESS;
      }
      return await control(s, req, io);
    }
    case "manual":
      return await manual(args, o, s, io);
    case "settime": {
      const t = parseDate(args.join(" "), io.nowMs());
      if (t === null) throw new StatusError("510 - Could not parse date string");
      const r = await request(
        s,
        { kind: "settime", ts: BigInt(t) * 1_000_000n },
        "manual_timestamp",
      );
      // chronyc prints the status before the report here
      io.stdout(statusText(Status.SUCCESS) + "\n" + fmt.formatSettime(r.report));
      return true;
    }
    case "smoothtime": {
      const option = args.length === 1
        ? { reset: 0, activate: 1 }[args[0] as "reset" | "activate"]
        : undefined;
      if (option === undefined) throw new CmdError("Invalid syntax for smoothtime command");
      return await control(s, { kind: "smoothtime", option }, io);
    }
    case "selectopts":
      return await control(s, await parseSelectOpts(args, o, io), io);
    case "offset": {
      const value = num(args[1]);
      const target = await refOrAddress(args[0], o, io);
      if (!target || value === undefined || args.length !== 2) {
        throw new CmdError("Invalid syntax for offset command");
      }
      return await control(s, { kind: "modify_offset", ...target, value }, io);
    }
    case "add":
      return await control(s, parseAdd(args), io);
    case "waitsync":
      return await waitsync(args, s, io);
    case "keygen":
      io.stdout(keygen(args, io));
      return true;
    case "dns":
      if (args[0] === "-n") o.numeric = true;
      else if (args[0] === "+n") o.numeric = false;
      else if (args[0] === "-4") o.family = 4;
      else if (args[0] === "-6") o.family = 6;
      else if (args[0] === "-46") o.family = undefined;
      else throw new CmdError("Unrecognized dns command");
      return true;
    case "timeout": {
      const ms = int(args[0]) ?? 0;
      if (ms < 100) throw new CmdError(`Timeout ${ms} is too short`);
      o.limits = { ...o.limits, timeoutMs: ms };
      return true;
    }
    case "retries": {
      const n = int(args[0]);
      if (n === undefined) return true; // chronyc ignores an unreadable number
      if (n < 0) throw new CmdError("Invalid maximum number of retries");
      o.limits = { ...o.limits, retries: n };
      return true;
    }
    default:
      throw new CmdError("Unrecognized command");
  }
}

/** sources, sourcestats, selectdata, authdata and ntpdata over every source. */
async function sourceReport(
  cmd: "sources" | "sourcestats" | "selectdata" | "authdata" | "ntpdata",
  verbose: boolean,
  o: Options,
  s: Session,
  io: ChronycIo,
): Promise<boolean> {
  const n = (await request(s, { kind: "n_sources" }, "n_sources")).nSources;
  let out = "";
  if (!o.csv) {
    const [legend, header] = {
      sources: [fmt.SOURCES_LEGEND, fmt.SOURCES_HEADER],
      sourcestats: [fmt.SOURCESTATS_LEGEND, fmt.SOURCESTATS_HEADER],
      selectdata: [fmt.SELECTDATA_LEGEND, fmt.SELECTDATA_HEADER],
      authdata: [fmt.AUTHDATA_LEGEND, fmt.AUTHDATA_HEADER],
      ntpdata: [[], ""],
    }[cmd] as [readonly string[], string];
    if (verbose && legend.length > 0) out += legend.join("\n") + "\n";
    out += header;
  }
  // Printed as it comes, as chronyc does: a failing request (501 over UDP
  // for authdata/ntpdata) then follows the header and rows printed so far.
  io.stdout(out);
  for (let i = 0; i < n; i++) {
    if (cmd === "sourcestats") {
      const r = (await request(s, { kind: "sourcestats", index: i }, "sourcestats")).report;
      io.stdout(fmt.formatSourceStats(r, await nameOf(r.address, o, io, s), o.csv));
      continue;
    }
    if (cmd === "selectdata") {
      const r = (await request(s, { kind: "select_data", index: i }, "select_data")).report;
      io.stdout(fmt.formatSelectData(r, await nameOf(r.address, o, io, s), o.csv));
      continue;
    }
    const src = (await request(s, { kind: "source_data", index: i }, "source_data")).report;
    if (cmd === "sources") {
      // A reference clock's row carries its refid in the address (as chronyc shows it).
      const name = src.mode === SourceMode.REF && src.address.family === "inet4"
        ? refclockName(src.address.address)
        : await nameOf(src.address, o, io, s);
      io.stdout(fmt.formatSource(src, name, o.csv));
    } else if (src.mode !== 2) {
      if (cmd === "authdata") {
        const r = await request(s, { kind: "auth_data", ip: src.address }, "auth_data");
        io.stdout(fmt.formatAuthData(r.report, await nameOf(src.address, o, io, s), o.csv));
      } else {
        const r = await request(s, { kind: "ntp_data", ip: src.address }, "ntp_data");
        io.stdout(fmt.formatNtpData(r.report, o.csv, r.v2));
      }
    }
  }
  return true;
}

async function clients(args: string[], o: Options, s: Session, io: ChronycIo): Promise<boolean> {
  let minHits = 0;
  let nke = false;
  let reset = 0;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "-k") nke = true;
    else if (args[i] === "-r") reset = 1;
    else if (args[i] === "-p") {
      const v = int(args[++i]);
      if (v === undefined) throw new CmdError("Invalid syntax for clients command");
      minHits = v;
    }
  }
  io.stdout(o.csv ? "" : fmt.clientsHeader(nke));
  let out = "";
  for (let first = 0;;) {
    const page = (await request(s, {
      kind: "client_accesses_by_index3",
      firstIndex: first,
      nClients: 8,
      minHits,
      reset,
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

/** `local [stratum N] [orphan] [distance D] [activate A] [waitsynced S] [waitunsynced U]` or `local off`. */
function parseLocal(args: string[]): Request {
  const bad = () => new CmdError("Invalid syntax for local command");
  if (args[0] === "off") {
    if (args.length !== 1) throw bad();
    return { kind: "local2", onOff: 0, stratum: 0, distance: 0, orphan: 0 };
  }
  let stratum = 10;
  let distance = 1.0;
  let orphan = 0;
  let activate = 0;
  let waitSynced = 0;
  let waitUnsynced = 0;
  let newer = false;
  for (let i = 0; i < args.length; i++) {
    const w = args[i]!;
    if (w === "orphan") {
      orphan = 1;
      continue;
    }
    const v = w === "stratum" ? int(args[i + 1]) : num(args[i + 1]);
    if (v === undefined) throw bad();
    i++;
    if (w === "stratum") {
      if (v < 1 || v > 15) throw bad();
      stratum = v;
    } else if (w === "distance") distance = v;
    else if (w === "activate") [activate, newer] = [v, true];
    else if (w === "waitsynced") [waitSynced, newer] = [v, true];
    else if (w === "waitunsynced") [waitUnsynced, newer] = [v, true];
    else throw bad();
  }
  // chronyd 4.3 knows only LOCAL2; the options of 4.5+ need LOCAL3
  return newer
    ? { kind: "local3", onOff: 1, stratum, distance, orphan, activate, waitSynced, waitUnsynced }
    : { kind: "local2", onOff: 1, stratum, distance, orphan };
}

async function manual(args: string[], o: Options, s: Session, io: ChronycIo): Promise<boolean> {
  const sub = args[0];
  if (sub === "delete") {
    const index = int(args[1]);
    if (index === undefined || args.length !== 2) {
      throw new CmdError("Bad syntax for manual delete command");
    }
    return await control(s, { kind: "manual_delete", index }, io);
  }
  if (args.length === 1 && sub === "list") {
    const r = await request(s, { kind: "manual_list" }, "manual_list");
    io.stdout(fmt.formatManualList(r.samples, o.csv));
    return true;
  }
  const option = args.length === 1 ? { off: 0, on: 1, reset: 2 }[sub as "on"] : undefined;
  if (option === undefined) throw new CmdError("Invalid syntax for manual command");
  return await control(s, { kind: "manual", option }, io);
}

/** An address, or a reference id of up to 4 characters (refclocks), for selectopts/offset. */
async function refOrAddress(
  text: string | undefined,
  o: Options,
  io: ChronycIo,
): Promise<{ address: CmdAddress; refId: number } | null> {
  if (!text) return null;
  const a = await hostAddress(text, o, io);
  if (a) return { address: a, refId: 0 };
  if (text.length > 4 || !/^[\x21-\x7e]+$/.test(text)) return null;
  let refId = 0;
  for (let i = 0; i < 4; i++) refId = refId * 256 + (text.charCodeAt(i) || 0);
  return { address: UNSPEC, refId: refId >>> 0 };
}

/** candm.h REQ_SELECTOPT_* bits. */
const SELECT_OPTS: Record<string, number> = { noselect: 1, prefer: 2, trust: 4, require: 8 };

/** `selectopts <address|refid> [+|-option]...` */
async function parseSelectOpts(args: string[], o: Options, io: ChronycIo): Promise<Request> {
  const bad = () => new CmdError("Invalid syntax for selectopts command");
  const target = await refOrAddress(args[0], o, io);
  if (!target) throw bad();
  let mask = 0;
  let options = 0;
  for (const w of args.slice(1)) {
    const bit = SELECT_OPTS[w.slice(1)];
    if ((w[0] !== "+" && w[0] !== "-") || bit === undefined) throw bad();
    mask |= bit;
    if (w[0] === "+") options |= bit;
  }
  return { kind: "modify_selectopts", ...target, mask, options };
}

/** `add server|peer|pool <name> [options]`, validated like the configuration directive. */
export function parseAdd(args: string[]): Request {
  const type = { server: AddSrcType.SERVER, peer: AddSrcType.PEER, pool: AddSrcType.POOL }[
    args[0] as SourceKind
  ];
  if (type === undefined || args.length < 2) throw new CmdError("Invalid syntax for add command");
  let c;
  try {
    c = parseSourceDirective(
      args[0] as SourceKind,
      new ArgReader(args.slice(1), { file: "chronyc", line: 0, directive: args[0]!, warnings: [] }),
    );
  } catch {
    throw new CmdError("Invalid syntax for add command");
  }
  const F = AddSrcFlag;
  const flag = (on: boolean, bit: number) => (on ? bit : 0);
  const flags = flag(!c.offline, F.ONLINE) | flag(c.autoOffline, F.AUTOOFFLINE) |
    flag(c.iburst, F.IBURST) | flag(c.prefer, F.PREFER) | flag(c.noselect, F.NOSELECT) |
    flag(c.trust, F.TRUST) | flag(c.require, F.REQUIRE) | flag(c.xleave, F.INTERLEAVED) |
    flag(c.burst, F.BURST) | flag(c.nts, F.NTS) | flag(c.copy, F.COPY) |
    flag(c.extfields.includes(0xf323), F.EF_EXP_MONO_ROOT) |
    flag(c.extfields.includes(0x10a), F.EF_NET_CORRECTION) | flag(c.ipv4, F.IPV4) |
    flag(c.ipv6, F.IPV6);
  return {
    kind: "add_source",
    type,
    name: c.name,
    port: c.port,
    minpoll: c.minpoll,
    maxpoll: c.maxpoll,
    presendMinpoll: c.presend ?? 100,
    minStratum: c.minstratum,
    pollTarget: c.polltarget,
    version: c.version ?? 0,
    maxSources: c.maxsources,
    minSamples: c.minsamples ?? -1,
    maxSamples: c.maxsamples ?? -1,
    authkey: c.key ?? 0,
    ntsPort: c.ntsport,
    maxDelay: c.maxdelay,
    maxDelayRatio: c.maxdelayratio ?? 0,
    maxDelayDevRatio: c.maxdelaydevratio,
    minDelay: c.mindelay ?? 0,
    asymmetry: c.asymmetry ?? 1.0,
    offset: c.offset,
    flags,
    filterLength: c.filter ?? 0,
    certSet: c.certset,
    maxDelayQuant: c.maxdelayquant ?? 0,
    maxUnreach: c.maxunreach,
  };
}

/**
 * settime's date, every form chronyc 4.3 reads (see getdate.ts), local time
 * unless a zone is given; ms since the epoch (whole seconds), null when unreadable.
 */
export function parseDate(text: string, nowMs: number): number | null {
  const t = getDate(text, nowMs);
  return t === null ? null : t * 1000;
}

/** Hash functions and ciphers keygen knows; a cipher's key length is fixed (bits). */
const KEY_TYPES: Record<string, number | null> = {
  MD5: null,
  SHA1: null,
  SHA256: null,
  SHA384: null,
  SHA512: null,
  "SHA3-224": null,
  "SHA3-256": null,
  "SHA3-384": null,
  "SHA3-512": null,
  TIGER: null,
  WHIRLPOOL: null,
  RMD128: null,
  RMD160: null,
  RMD256: null,
  RMD320: null,
  AES128: 128,
  AES256: 256,
};

/** keygen's bounds on a hash key (bits): at least 80, at most 2048 bytes' worth. */
const KEYGEN_MIN_BITS = 80;
const KEYGEN_MAX_BITS = 2048 * 8;

/** `keygen [id [type [bits]]]`: one key-file line, `ID TYPE HEX:...`, from random bytes. */
export function keygen(args: string[], io: Pick<ChronycIo, "randomBytes">): string {
  const bad = () => new CmdError("Invalid syntax for keygen command");
  if (args.length > 3) throw bad();
  let id = 1;
  if (args[0] !== undefined) {
    const v = int(args[0]);
    if (v === undefined) throw bad();
    id = ((v % 2 ** 32) + 2 ** 32) % 2 ** 32;
  }
  const type = args[1] ?? "SHA1";
  const fixed = KEY_TYPES[type.toUpperCase()];
  if (fixed === undefined) throw new CmdError(`Unknown hash function or cipher ${type}`);
  let bits = 160;
  if (args[2] !== undefined) {
    const v = int(args[2]);
    if (v === undefined) throw bad();
    bits = v;
  }
  bits = fixed ?? Math.min(Math.max(bits, KEYGEN_MIN_BITS), KEYGEN_MAX_BITS);
  const n = Math.ceil(bits / 8);
  const bytes = io.randomBytes(n);
  let hex = "";
  for (const b of bytes) hex += b.toString(16).toUpperCase().padStart(2, "0");
  return `${id} ${type} HEX:${hex}\n`;
}

/**
 * chronyc(1) waitsync: reads tracking every `interval` seconds (default 10,
 * at least 0.1) until the daemon has a real reference (an address, or a
 * reference id other than none and the local clock's 7F7F0101), the absolute
 * correction is at most max-correction (s) and the skew at most max-skew
 * (ppm), 0 meaning no limit; gives up after max-tries (0 = never).
 */
async function waitsync(args: string[], s: Session, io: ChronycIo): Promise<boolean> {
  const maxTries = int(args[0]) ?? 0;
  const maxCorrection = num(args[1]) ?? 0;
  const maxSkewPpm = num(args[2]) ?? 0;
  const interval = Math.max(num(args[3]) ?? 10, 0.1);
  for (let tries = 1;; tries++) {
    const t = (await request(s, { kind: "tracking" }, "tracking")).report;
    const correction = Math.abs(t.currentCorrection);
    io.stdout(
      `try: ${tries}, refid: ${t.refId.toString(16).toUpperCase().padStart(8, "0")}, ` +
        `correction: ${correction.toFixed(9)}, skew: ${t.skewPpm.toFixed(3)}\n`,
    );
    const synced = (t.address.family !== "unspec" || (t.refId !== 0 && t.refId !== REFID_LOCAL)) &&
      (maxCorrection === 0 || correction <= maxCorrection) &&
      (maxSkewPpm === 0 || t.skewPpm <= maxSkewPpm);
    if (synced) return true;
    if (maxTries > 0 && tries >= maxTries) return false;
    await io.sleep(interval * 1000);
  }
}

/** The refid text of a reference clock's row ("71.80.83.0" -> "GPS"). */
function refclockName(address: string): string {
  return address.split(".").map(Number).filter((b) => b > 0).map((b) => String.fromCharCode(b))
    .join("");
}
