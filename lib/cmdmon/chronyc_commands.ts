/**
 * chronyc's command table, as lib/conf/directives.ts is chronyd's directive
 * table: one row per command with its name and aliases, its `help` lines and
 * section, whether it only reads the daemon (monitoring), changes it
 * (control) or stays in chronyc (client), whether `-j` prints it as JSON, the
 * report replies it reads and formats, and either the request(s) its
 * arguments make (a control command: the daemon's status is printed) or its
 * own handler. chronyc.ts looks a command up here and runs the row.
 *
 * @example
 * ```ts
 * import { findCommand } from "./chronyc_commands.ts";
 * findCommand("exit")?.names; // ["quit", "exit"]
 * ```
 * @module
 */

import type { Reply } from "./reports.ts";
import * as fmt from "./format.ts";
import type { JsonReportName } from "./json.ts";
import { CmdError, hostAddress, nameOf, needAddress, request } from "./chronyc_session.ts";
import {
  int,
  keygen,
  num,
  parseAccessArgs,
  parseAdd,
  parseLocal,
  parseMaskAddr,
  parseSelectOpts,
  refOrAddress,
} from "./chronyc_args.ts";
import {
  accessCheck,
  addressValue,
  clients,
  type CommandHandler,
  dns,
  manual,
  ntpdata,
  oneValue,
  plain,
  report,
  type RequestParser,
  retries,
  settime,
  sourceReport,
  timeout,
  waitsync,
} from "./chronyc_handlers.ts";

export type { CommandHandler, RequestParser } from "./chronyc_handlers.ts";

/** The sections of `help`, in the order it prints them. */
export const HELP_SECTIONS = [
  "System clock",
  "Time sources",
  "NTP sources",
  "Manual time input",
  "NTP access",
  "Monitoring access",
  "Real-time clock",
  "Other daemon commands",
  "Client commands",
] as const;

/** A section of `help`. */
export type HelpSection = typeof HELP_SECTIONS[number];

/** One line of `help`: the usage and horae's description of it ("" continues the line above). */
export type HelpLine = readonly [usage: string, description: string];

/**
 * What a command does with the daemon: monitoring commands only read its
 * state (chronyc(1): they "do not affect the behaviour of chronyd"), control
 * commands change it, client commands never reach it.
 */
export type CommandUse = "monitoring" | "control" | "client";

interface CommandInfo {
  /** The command's name, then its aliases. */
  readonly names: readonly [string, ...string[]];
  readonly section: HelpSection;
  /** Its lines in `help`; none for a command `help` does not list (as chronyc 4.3). */
  readonly help: readonly HelpLine[];
  readonly use: CommandUse;
  /** `-j` prints this report as a JSON document (json.ts) instead of the table. */
  readonly json?: JsonReportName;
  /** The report replies it reads and formats (format.ts). */
  readonly replies?: readonly Reply["kind"][];
}

/** One chronyc command: its description and either its request(s) or its handler. */
export type ChronycCommand =
  & CommandInfo
  & ({ readonly request: RequestParser; readonly run?: never } | {
    readonly run: CommandHandler;
    readonly request?: never;
  });

/** Every chronyc command, in the order `help` lists them. */
export const COMMANDS: readonly ChronycCommand[] = [
  {
    names: ["tracking"],
    section: "System clock",
    help: [["tracking", "Show the state of the system clock"]],
    use: "monitoring",
    json: "tracking",
    replies: ["tracking"],
    run: report({ kind: "tracking" }, "tracking", async ({ report: t }, c) => {
      const name = t.address.family === "unspec"
        ? fmt.refIdName(t.refId)
        : await nameOf(t.address, c);
      return fmt.formatTracking(t, name, c.o.csv);
    }),
  },
  {
    names: ["makestep"],
    section: "System clock",
    help: [
      ["makestep", "Step the clock now to remove the offset"],
      ["makestep <threshold> <updates>", "Set the automatic stepping rule"],
    ],
    use: "control",
    request: (args) => {
      if (args.length === 0) return { kind: "makestep" };
      const threshold = num(args[0]);
      const limit = int(args[1]);
      // words after the second are ignored, as chronyc does
      if (threshold === undefined || limit === undefined) {
        throw new CmdError("Bad syntax for makestep command");
      }
      return { kind: "modify_makestep", limit, threshold };
    },
  },
  {
    names: ["maxupdateskew"],
    section: "System clock",
    help: [["maxupdateskew <skew>", "Set the largest skew that updates the frequency"]],
    use: "control",
    run: oneValue("modify_maxupdateskew", true),
  },
  {
    names: ["waitsync"],
    section: "System clock",
    help: [[
      "waitsync [<max-tries> [<max-correction> [<max-skew> [<interval>]]]]",
      "Wait for synchronisation within limits",
    ]],
    use: "monitoring",
    replies: ["tracking"],
    run: waitsync,
  },
  // chronyc 4.3 knows dfreq and doffset but does not list them
  {
    names: ["dfreq"],
    section: "System clock",
    help: [],
    use: "control",
    run: oneValue("dfreq", false),
  },
  {
    names: ["doffset"],
    section: "System clock",
    help: [],
    use: "control",
    run: oneValue("doffset2", false),
  },
  {
    names: ["sources"],
    section: "Time sources",
    help: [["sources [-a] [-v]", "List the sources and their last samples"]],
    use: "monitoring",
    json: "sources",
    replies: ["n_sources", "source_data"],
    run: sourceReport("sources"),
  },
  {
    names: ["sourcestats"],
    section: "Time sources",
    help: [["sourcestats [-a] [-v]", "List the statistics of each source's samples"]],
    use: "monitoring",
    json: "sourcestats",
    replies: ["n_sources", "sourcestats"],
    run: sourceReport("sourcestats"),
  },
  {
    names: ["selectdata"],
    section: "Time sources",
    help: [["selectdata [-a] [-v]", "Show why each source is or is not selected"]],
    use: "monitoring",
    json: "selectdata",
    replies: ["n_sources", "select_data"],
    run: sourceReport("selectdata"),
  },
  {
    names: ["reselect"],
    section: "Time sources",
    help: [["reselect", "Choose the synchronisation source again"]],
    use: "control",
    request: plain("reselect"),
  },
  {
    names: ["reselectdist"],
    section: "Time sources",
    help: [["reselectdist <dist>", "Set the distance penalty for switching source"]],
    use: "control",
    run: oneValue("reselectdistance", true),
  },
  // chronyc 4.8's commands; horae's help lists chronyc 4.3's commands only
  {
    names: ["selectopts"],
    section: "Time sources",
    help: [],
    use: "control",
    request: parseSelectOpts,
  },
  {
    names: ["offset"],
    section: "Time sources",
    help: [],
    use: "control",
    request: async (args, c) => {
      const value = num(args[1]);
      const target = await refOrAddress(args[0], c);
      if (!target || value === undefined || args.length !== 2) {
        throw new CmdError("Invalid syntax for offset command");
      }
      return { kind: "modify_offset", ...target, value };
    },
  },
  {
    names: ["activity"],
    section: "NTP sources",
    help: [["activity", "Count the NTP sources online and offline"]],
    use: "monitoring",
    json: "activity",
    replies: ["activity"],
    run: report({ kind: "activity" }, "activity", (r, c) => fmt.formatActivity(r.report, c.o.csv)),
  },
  {
    names: ["authdata"],
    section: "NTP sources",
    help: [["authdata [-a] [-v]", "Show how each source is authenticated"]],
    use: "monitoring",
    json: "authdata",
    replies: ["n_sources", "source_data", "auth_data"],
    run: sourceReport("authdata"),
  },
  {
    names: ["ntpdata"],
    section: "NTP sources",
    help: [["ntpdata [<address>]", "Show the last good NTP measurement in detail"]],
    use: "monitoring",
    json: "ntpdata",
    replies: ["n_sources", "source_data", "ntp_data"],
    run: ntpdata,
  },
  {
    names: ["add"],
    section: "NTP sources",
    help: [
      ["add server <name> [options]", "Start using a new server"],
      ["add pool <name> [options]", "Start using a new pool of servers"],
      ["add peer <name> [options]", "Start using a new symmetric peer"],
    ],
    use: "control",
    request: async (args, c) => {
      const req = parseAdd(args);
      // the options first, then the name: chronyc refuses one it cannot resolve
      if (req.kind === "add_source" && !(await hostAddress(req.name, c))) {
        throw new CmdError("Invalid host/IP address");
      }
      return req;
    },
  },
  {
    names: ["delete"],
    section: "NTP sources",
    help: [["delete <address>", "Stop using a server or peer"]],
    use: "control",
    request: async (args, c) => {
      if (args[0] === undefined) throw new CmdError("Invalid syntax for address");
      return { kind: "del_source", ip: await needAddress(args[0], c) };
    },
  },
  {
    names: ["burst"],
    section: "NTP sources",
    help: [["burst <n-good>/<n-max> [[<mask>/]<address>]", "Take a quick series of measurements"]],
    use: "control",
    request: async (args, c) => {
      const m = /^(\d+)\/(\d+)$/.exec(args[0] ?? "");
      if (!m) throw new CmdError("Invalid syntax for burst command");
      return {
        kind: "burst",
        ...(await parseMaskAddr(args[1], c)),
        nGoodSamples: Number(m[1]),
        nTotalSamples: Number(m[2]),
      };
    },
  },
  {
    names: ["maxdelay"],
    section: "NTP sources",
    help: [["maxdelay <address> <delay>", "Set the largest delay a sample may have"]],
    use: "control",
    request: addressValue("modify_maxdelay", true),
  },
  {
    names: ["maxdelayratio"],
    section: "NTP sources",
    help: [["maxdelayratio <address> <ratio>", "Set the largest delay to minimum delay ratio"]],
    use: "control",
    request: addressValue("modify_maxdelayratio", true),
  },
  {
    names: ["maxdelaydevratio"],
    section: "NTP sources",
    help: [["maxdelaydevratio <address> <ratio>", "Set the largest delay to deviation ratio"]],
    use: "control",
    request: addressValue("modify_maxdelaydevratio", true),
  },
  {
    names: ["minpoll"],
    section: "NTP sources",
    help: [["minpoll <address> <poll>", "Set the shortest polling interval"]],
    use: "control",
    request: addressValue("modify_minpoll", false),
  },
  {
    names: ["maxpoll"],
    section: "NTP sources",
    help: [["maxpoll <address> <poll>", "Set the longest polling interval"]],
    use: "control",
    request: addressValue("modify_maxpoll", false),
  },
  {
    names: ["minstratum"],
    section: "NTP sources",
    help: [["minstratum <address> <stratum>", "Set the lowest stratum assumed"]],
    use: "control",
    request: addressValue("modify_minstratum", false),
  },
  {
    names: ["offline"],
    section: "NTP sources",
    help: [["offline [[<mask>/]<address>]", "Stop polling the sources in a subnet"]],
    use: "control",
    request: async (args, c) => ({ kind: "offline", ...(await parseMaskAddr(args[0], c)) }),
  },
  {
    names: ["online"],
    section: "NTP sources",
    help: [["online [[<mask>/]<address>]", "Resume polling the sources in a subnet"]],
    use: "control",
    request: async (args, c) => ({ kind: "online", ...(await parseMaskAddr(args[0], c)) }),
  },
  {
    names: ["onoffline"],
    section: "NTP sources",
    help: [["onoffline", "Put every source online or offline\nas the routes allow"]],
    use: "control",
    request: plain("onoffline"),
  },
  {
    names: ["polltarget"],
    section: "NTP sources",
    help: [["polltarget <address> <target>", "Set the number of samples aimed for"]],
    use: "control",
    request: addressValue("modify_polltarget", false),
  },
  {
    names: ["refresh"],
    section: "NTP sources",
    help: [["refresh", "Look the source names up again"]],
    use: "control",
    request: plain("refresh"),
  },
  {
    names: ["reload"],
    section: "NTP sources",
    help: [["reload sources", "Read the *.sources files again"]],
    use: "control",
    request: (args) => {
      if (args.length !== 1 || args[0] !== "sources") {
        throw new CmdError("Invalid syntax for reload command");
      }
      return { kind: "reload_sources" };
    },
  },
  {
    names: ["sourcename"],
    section: "NTP sources",
    help: [["sourcename <address>", "Show the name a source was given as"]],
    use: "monitoring",
    replies: ["ntp_source_name"],
    run: async (args, c) => {
      const ip = await hostAddress(args[0], c);
      if (!ip) throw new CmdError("Could not read address");
      c.io.stdout(
        (await request(c.s, { kind: "ntp_source_name", ip }, "ntp_source_name")).name + "\n",
      );
      return true;
    },
  },
  {
    names: ["manual"],
    section: "Manual time input",
    help: [
      ["manual off|on|reset", "Refuse, accept or forget settime input"],
      ["manual list", "List the settime samples"],
      ["manual delete <index>", "Forget one settime sample"],
    ],
    use: "control",
    replies: ["manual_list"],
    run: manual,
  },
  {
    names: ["settime"],
    section: "Manual time input",
    help: [
      ["settime <time>", "Tell the daemon the current time"],
      ["", "(like Sep 25, 2015 16:30:05 or 16:30:05)"],
    ],
    use: "control",
    replies: ["manual_timestamp"],
    run: settime,
  },
  {
    names: ["accheck"],
    section: "NTP access",
    help: [["accheck <address>", "Tell whether an address may use the NTP server"]],
    use: "monitoring",
    request: accessCheck("accheck"),
  },
  {
    names: ["clients"],
    section: "NTP access",
    help: [["clients [-p <packets>] [-k] [-r]", "List the clients the server has seen"]],
    use: "monitoring",
    json: "clients",
    replies: ["client_accesses"],
    run: clients,
  },
  {
    names: ["serverstats"],
    section: "NTP access",
    help: [["serverstats", "Show the server's counters"]],
    use: "monitoring",
    json: "serverstats",
    replies: ["server_stats"],
    run: report(
      { kind: "server_stats" },
      "server_stats",
      (r, c) => fmt.formatServerStats(r.report, c.o.csv),
    ),
  },
  {
    names: ["allow"],
    section: "NTP access",
    help: [
      ["allow [<subnet>]", "Let a subnet in (narrower rules still apply)"],
      ["allow all [<subnet>]", "Let a subnet in, overriding narrower rules"],
    ],
    use: "control",
    request: (args) => parseAccessArgs("allow", args),
  },
  {
    names: ["deny"],
    section: "NTP access",
    help: [
      ["deny [<subnet>]", "Keep a subnet out (narrower rules still apply)"],
      ["deny all [<subnet>]", "Keep a subnet out, overriding narrower rules"],
    ],
    use: "control",
    request: (args) => parseAccessArgs("deny", args),
  },
  {
    names: ["local"],
    section: "NTP access",
    help: [
      ["local [options]", "Serve time even while unsynchronised"],
      ["local off", "Serve time only while synchronised"],
    ],
    use: "control",
    request: parseLocal,
  },
  {
    names: ["smoothtime"],
    section: "NTP access",
    help: [["smoothtime reset|activate", "Restart or start server time smoothing"]],
    use: "control",
    request: (args) => {
      const option = args.length === 1
        ? { reset: 0, activate: 1 }[args[0] as "reset" | "activate"]
        : undefined;
      if (option === undefined) throw new CmdError("Invalid syntax for smoothtime command");
      return { kind: "smoothtime", option };
    },
  },
  {
    names: ["smoothing"],
    section: "NTP access",
    help: [["smoothing", "Show the server time smoothing state"]],
    use: "monitoring",
    json: "smoothing",
    replies: ["smoothing"],
    run: report(
      { kind: "smoothing" },
      "smoothing",
      (r, c) => fmt.formatSmoothing(r.report, c.o.csv),
    ),
  },
  {
    names: ["cmdaccheck"],
    section: "Monitoring access",
    help: [["cmdaccheck <address>", "Tell whether an address may use this command port"]],
    use: "monitoring",
    request: accessCheck("cmdaccheck"),
  },
  {
    names: ["cmdallow"],
    section: "Monitoring access",
    help: [
      ["cmdallow [<subnet>]", "Let a subnet in (narrower rules still apply)"],
      ["cmdallow all [<subnet>]", "Let a subnet in, overriding narrower rules"],
    ],
    use: "control",
    request: (args) => parseAccessArgs("cmdallow", args),
  },
  {
    names: ["cmddeny"],
    section: "Monitoring access",
    help: [
      ["cmddeny [<subnet>]", "Keep a subnet out (narrower rules still apply)"],
      ["cmddeny all [<subnet>]", "Keep a subnet out, overriding narrower rules"],
    ],
    use: "control",
    request: (args) => parseAccessArgs("cmddeny", args),
  },
  {
    names: ["rtcdata"],
    section: "Real-time clock",
    help: [["rtcdata", "Show the model of the real-time clock"]],
    use: "monitoring",
    json: "rtcdata",
    replies: ["rtc"],
    run: report({ kind: "rtcreport" }, "rtc", (r, c) => fmt.formatRtc(r.report, c.o.csv)),
  },
  {
    names: ["trimrtc"],
    section: "Real-time clock",
    help: [["trimrtc", "Set the real-time clock from the system clock"]],
    use: "control",
    request: plain("trimrtc"),
  },
  {
    names: ["writertc"],
    section: "Real-time clock",
    help: [["writertc", "Save the real-time clock model to its file"]],
    use: "control",
    request: plain("writertc"),
  },
  {
    names: ["cyclelogs"],
    section: "Other daemon commands",
    help: [["cyclelogs", "Reopen the log files"]],
    use: "control",
    request: plain("cyclelogs"),
  },
  {
    names: ["dump"],
    section: "Other daemon commands",
    help: [["dump", "Save measurements and NTS keys and cookies"]],
    use: "control",
    request: plain("dump"),
  },
  {
    names: ["rekey"],
    section: "Other daemon commands",
    help: [["rekey", "Read the key file again"]],
    use: "control",
    request: plain("rekey"),
  },
  {
    names: ["reset"],
    section: "Other daemon commands",
    help: [["reset sources", "Forget every source's measurements"]],
    use: "control",
    request: (args) => {
      if (args.length !== 1 || args[0] !== "sources") {
        throw new CmdError("Invalid syntax for reset command");
      }
      return { kind: "reset_sources" };
    },
  },
  {
    names: ["shutdown"],
    section: "Other daemon commands",
    help: [["shutdown", "Stop the daemon"]],
    use: "control",
    request: plain("shutdown"),
  },
  {
    names: ["dns"],
    section: "Client commands",
    help: [
      ["dns -n|+n", "Print addresses only, or names too"],
      ["dns -4|-6|-46", "Look names up as IPv4, IPv6 or both"],
    ],
    use: "client",
    run: dns,
  },
  {
    names: ["timeout"],
    section: "Client commands",
    help: [["timeout <milliseconds>", "Set the first reply timeout"]],
    use: "client",
    run: timeout,
  },
  {
    names: ["retries"],
    section: "Client commands",
    help: [["retries <retries>", "Set how often a request is sent again"]],
    use: "client",
    run: retries,
  },
  {
    names: ["keygen"],
    section: "Client commands",
    help: [["keygen [<id> [<type> [<bits>]]]", "Print a new line for the key file"]],
    use: "client",
    run: (args, c) => {
      c.io.stdout(keygen(args, c.io));
      return Promise.resolve(true);
    },
  },
  {
    names: ["quit", "exit"],
    section: "Client commands",
    help: [["exit|quit", "Leave chronyc"]],
    use: "client",
    run: () => Promise.resolve("quit"),
  },
  {
    names: ["help"],
    section: "Client commands",
    help: [["help", "Print this list"]],
    use: "client",
    run: (_args, c) => {
      c.io.stdout(helpText());
      return Promise.resolve(true);
    },
  },
];

const BY_NAME: ReadonlyMap<string, ChronycCommand> = new Map(
  COMMANDS.flatMap((row) => row.names.map((n) => [n, row] as const)),
);

/** The row of a command name or alias; undefined for an unknown command. */
export function findCommand(name: string): ChronycCommand | undefined {
  return BY_NAME.get(name);
}

/** Width of the usage column of `help` (a longer usage puts its description on the next line). */
const USAGE_COLUMN = 28;

/**
 * The `help` text from the table: each section's title, its commands' lines
 * (a usage in 28 columns, the description after it, on a line of its own
 * when the usage is longer), and a blank line.
 */
export function helpText(): string {
  const line = (c: string, d: string) => {
    // a description's own line breaks continue in the description column
    const text = d.replaceAll("\n", "\n" + " ".repeat(USAGE_COLUMN));
    return c.length < USAGE_COLUMN
      ? c.padEnd(USAGE_COLUMN) + text + "\n"
      : c + "\n" + " ".repeat(USAGE_COLUMN) + text + "\n";
  };
  let out = "";
  for (const section of HELP_SECTIONS) {
    out += line(section + ":", "");
    for (const row of COMMANDS) {
      if (row.section === section) { for (const [c, d] of row.help) out += line(c, d); }
    }
    out += line("", "");
  }
  return out;
}
