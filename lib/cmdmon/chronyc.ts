/**
 * chronyc, sans-IO: argument parsing, the command loop (`-m`, the
 * `chronyc>` prompt), request/reply exchange through an injected transport,
 * and the dispatch of each command line to its row in the command table
 * (chronyc_commands.ts). Errors and exit codes follow chronyc(1): "506 Cannot
 * talk to daemon", "501 Not authorised", "Unrecognized command"; exit 0 when
 * every command succeeded.
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
import { encodeRequest, type Request } from "./request.ts";
import { decodeReply, decodeReplyHeader, type Reply } from "./reports.ts";
import {
  DEFAULT_CMD_PORT,
  DEFAULT_CMD_SOCKET,
  PKT_TYPE_REPLY,
  PROTO_VERSION,
  REPLY_HEADER_LENGTH,
  Status,
  WireError,
} from "./wire.ts";
import { collectReport, fetchVia, ReportError } from "./json.ts";
import { findCommand } from "./chronyc_commands.ts";
import {
  type ChronycIo,
  CmdError,
  type CmdmonTransport,
  type CommandContext,
  ConnectError,
  control,
  type ExchangeLimits,
  NULL_REPLY,
  OpenError,
  type Options,
  type Session,
  StatusError,
  UNREADABLE,
} from "./chronyc_session.ts";

export type { ChronycIo, CmdmonTransport, ExchangeLimits } from "./chronyc_session.ts";
export { ConnectError } from "./chronyc_session.ts";
export { helpText } from "./chronyc_commands.ts";
export { keygen, parseAdd, parseDate, parseSubnet } from "./chronyc_args.ts";

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

/** chronyc's command line read up to its first command word. */
interface CommandLine {
  opts: Options;
  /** `-h`: host names or socket paths, comma-separated. */
  host: string | undefined;
  port: number;
  /** `-m`: each argument is a command. */
  multi: boolean;
  /** chronyc 4.8 `-e`: a line "." ends each response. */
  endDots: boolean;
  /** chronyc 4.8 `-u USER`. */
  user: string | undefined;
  /** The words after the options. */
  rest: string[];
}

const USAGE = "Usage: chronyc [OPTION]... [COMMAND]...\n\nOptions:\n" +
  "  -4\t\tUse IPv4 addresses only\n  -6\t\tUse IPv6 addresses only\n" +
  "  -n\t\tPrint addresses, not names\n  -N\t\tPrint the names sources were given as\n" +
  "  -c\t\tPrint comma-separated values\n  -j, --json\tPrint reports as JSON\n" +
  "  -e\t\tEnd each response with a dot line\n  -m\t\tTake each argument as a command\n" +
  "  -h HOST\tDaemon's host or socket path\n  -p PORT\tDaemon's command port\n" +
  "  -u USER\tRun as this user\n" +
  "  -v\t\tPrint the version and exit\n";

/** Reads the options; an exit code when chronyc is done (`--help`, `-v`, an unknown option). */
function parseCommandLine(args: string[], io: ChronycIo): CommandLine | number {
  const c: CommandLine = {
    opts: {
      csv: false,
      numeric: false,
      origNames: false,
      family: undefined,
      limits: { timeoutMs: 1000, retries: 2 },
    },
    host: undefined,
    port: DEFAULT_CMD_PORT,
    multi: false,
    endDots: false,
    user: undefined,
    rest: [],
  };
  const opts = c.opts;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === "-h") c.host = args[++i] ?? "";
    else if (a === "-p") c.port = Number(args[++i]);
    else if (a === "-n") opts.numeric = true;
    else if (a === "-N") opts.origNames = true;
    else if (a === "-c") opts.csv = true;
    else if (a === "-j" || a === "--json") opts.json = true;
    else if (a === "-m") c.multi = true;
    else if (a === "-e") c.endDots = true;
    else if (a === "-u") c.user = args[++i] ?? "";
    else if (a === "-4") opts.family = 4;
    else if (a === "-6") opts.family = 6;
    else if (a === "-a" || a === "-d" || a === "-dd") continue;
    else if (a === "--version" || a === "-v" || a === "-V") {
      io.stdout(versionLine("chronyc") + "\n");
      return 0;
    } else if (a === "--help") {
      io.stdout(USAGE);
      return 0;
    } else if (a.startsWith("-") && a !== "-" && !/^-?\d/.test(a)) {
      io.stderr(`Unknown option ${a}\n`);
      return 1;
    } else break;
  }
  c.rest = args.slice(i);
  return c;
}

/** Runs chronyc with its command-line arguments; resolves to the exit code. */
export async function runChronyc(args: string[], io: ChronycIo): Promise<number> {
  const line = parseCommandLine(args, io);
  if (typeof line === "number") return line;
  const { opts, host, port, multi, endDots, user, rest } = line;
  if (user !== undefined && user !== "root") {
    const why = io.dropPrivileges ? io.dropPrivileges(user) : `Could not switch to user ${user}`;
    if (why !== null) {
      io.stderr(why + "\n");
      return 1;
    }
  }
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
        } catch (e) {
          // this host's socket cannot be opened: chronyc goes on to the next one
          if (e instanceof ConnectError) continue;
          throw e;
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
  const ctx: CommandContext = { o: opts, s: session, io };
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
        const r = await runCommand(line, ctx);
        if (r === "quit") break;
        if (endDots) io.stdout(".\n");
        last = r;
      }
      return last ? 0 : 1;
    }
    for (const cmd of commands) {
      const r = await runCommand(cmd, ctx);
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
  if (h.version !== PROTO_VERSION) return { status: Status.BADPKTVERSION, reply: NULL_REPLY };
  if (h.status !== Status.SUCCESS) return { status: h.status, reply: NULL_REPLY };
  try {
    return { status: h.status, reply: decodeReply(bytes).reply };
  } catch (e) {
    // a short or unknown reply body: "Invalid reply from daemon", as chronyc says
    if (e instanceof WireError) return { status: UNREADABLE, reply: NULL_REPLY };
    throw e;
  }
}

/** Runs one command line; "quit" for quit/exit, else whether it succeeded. */
async function runCommand(line: string, c: CommandContext): Promise<boolean | "quit"> {
  const words = line.trim().split(/\s+/).filter((w) => w !== "");
  const cmd = words[0] ?? "";
  const args = words.slice(1);
  try {
    return await dispatch(cmd, args, c);
  } catch (e) {
    if (e instanceof CmdError) {
      c.io.stderr(e.message + "\n");
      return false;
    }
    if (e instanceof StatusError) {
      c.io.stdout(e.message + "\n");
      return false;
    }
    throw e;
  }
}

/** Looks the command up in the table and runs its row (JSON reports under `-j`). */
async function dispatch(
  cmd: string,
  args: string[],
  c: CommandContext,
): Promise<boolean | "quit"> {
  if (cmd === "") return true;
  const row = findCommand(cmd);
  if (!row) throw new CmdError("Unrecognized command");
  if (c.o.json && row.json) {
    try {
      const doc = await collectReport(row.json, fetchVia(c.s.exchange));
      c.io.stdout(JSON.stringify(doc, null, 2) + "\n");
    } catch (e) {
      throw e instanceof ReportError ? new StatusError(e.message) : e;
    }
    return true;
  }
  if (row.request) return await control(c.s, await row.request(args, c), c.io);
  return await row.run(args, c);
}
