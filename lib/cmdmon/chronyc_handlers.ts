/**
 * The handlers of chronyc's command table (chronyc_commands.ts): builders for
 * the common shapes (a control command without arguments, a report printed
 * from one reply, `<address> <value>`, one value, an address check) and the
 * commands with work of their own (the source reports, `clients`, `manual`,
 * `settime`, `waitsync`, and the client settings `dns`, `timeout`, `retries`).
 *
 * @example
 * ```ts
 * import { plain } from "./chronyc_handlers.ts";
 * plain("dump")([], undefined as never); // { kind: "dump" }
 * ```
 * @module
 */

import type { Request } from "./request.ts";
import { type Reply, SourceMode } from "./reports.ts";
import { REFID_LOCAL } from "../net/address.ts";
import { type CmdAddress, Status, statusText } from "./wire.ts";
import * as fmt from "./format.ts";
import {
  CmdError,
  type CommandContext,
  control,
  hostAddress,
  nameOf,
  needAddress,
  request,
  StatusError,
} from "./chronyc_session.ts";
import { int, num, parseDate } from "./chronyc_args.ts";

/** A command's own work; resolves to whether it succeeded, or "quit". */
export type CommandHandler = (args: string[], c: CommandContext) => Promise<boolean | "quit">;

/**
 * A control command's request from its arguments; several are the forms of
 * one command, newest first, each older one sent when the daemon refuses the
 * newer with 502 (chronyd 4.3 has no LOCAL3).
 */
export type RequestParser = (
  args: string[],
  c: CommandContext,
) => Request | readonly Request[] | Promise<Request | readonly Request[]>;

/** A control command without arguments (any given are ignored, as chronyc does). */
export function plain(kind: Request["kind"]): RequestParser {
  return () => ({ kind } as Request);
}

/** A report printed from one request's reply. */
export function report<K extends Reply["kind"]>(
  req: Request,
  want: K,
  format: (r: Extract<Reply, { kind: K }>, c: CommandContext) => string | Promise<string>,
): CommandHandler {
  return async (_args, c) => {
    c.io.stdout(await format(await request(c.s, req, want), c));
    return true;
  };
}

/** `<address> <value>` of minpoll, maxdelay, ...: an integer unless `real`. */
export function addressValue(
  kind:
    | "modify_minpoll"
    | "modify_maxpoll"
    | "modify_minstratum"
    | "modify_polltarget"
    | "modify_maxdelay"
    | "modify_maxdelayratio"
    | "modify_maxdelaydevratio",
  real: boolean,
): RequestParser {
  return async (args, c) => {
    // the two words first; then the address, which may be a host name to look up
    const value = real ? num(args[1]) : int(args[1]);
    if (value === undefined) throw new CmdError("Invalid syntax for address value");
    const address = await needAddress(args[0], c);
    return { kind, address, value } as Request;
  };
}

/** `<value>` of dfreq, doffset, maxupdateskew, reselectdist; `quiet`: chronyc prints no error. */
export function oneValue(
  kind: "modify_maxupdateskew" | "reselectdistance" | "dfreq" | "doffset2",
  quiet: boolean,
): CommandHandler {
  return async (args, c) => {
    const value = num(args[0]);
    if (value === undefined) {
      if (!quiet) throw new CmdError("Invalid value");
      return false; // chronyc says nothing here
    }
    return await control(c.s, { kind, value }, c.io);
  };
}

/** `<address>` of accheck and cmdaccheck. */
export function accessCheck(kind: "accheck" | "cmdaccheck"): RequestParser {
  return async (args, c) => {
    const ip = await hostAddress(args[0], c);
    if (!ip) throw new CmdError("Could not read address");
    return { kind, ip };
  };
}

/** `sources`, `sourcestats`, `selectdata`, `authdata` and `ntpdata` over every source. */
export function sourceReport(
  cmd: "sources" | "sourcestats" | "selectdata" | "authdata" | "ntpdata",
): CommandHandler {
  return async (args, c) => {
    const { o, s, io } = c;
    const verbose = args.includes("-v");
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
        io.stdout(fmt.formatSourceStats(r, await statsName(r.address, r.refId, c), o.csv));
        continue;
      }
      if (cmd === "selectdata") {
        const r = (await request(s, { kind: "select_data", index: i }, "select_data")).report;
        io.stdout(fmt.formatSelectData(r, await statsName(r.address, r.refId, c), o.csv));
        continue;
      }
      const src = (await request(s, { kind: "source_data", index: i }, "source_data")).report;
      if (cmd === "sources") {
        // A reference clock's row carries its refid in the address (as chronyc shows it).
        const name = src.mode === SourceMode.REF && src.address.family === "inet4"
          ? refclockName(src.address.address)
          : await nameOf(src.address, c);
        io.stdout(fmt.formatSource(src, name, o.csv));
      } else if (src.mode !== SourceMode.REF) {
        if (cmd === "authdata") {
          const r = await request(s, { kind: "auth_data", ip: src.address }, "auth_data");
          io.stdout(fmt.formatAuthData(r.report, await nameOf(src.address, c), o.csv));
        } else {
          const r = await request(s, { kind: "ntp_data", ip: src.address }, "ntp_data");
          io.stdout(fmt.formatNtpData(r.report, o.csv, r.v2));
        }
      }
    }
    return true;
  };
}

/**
 * The name of a `sourcestats`/`selectdata` row: a reference clock has no address
 * (unspec) and is named by its refid ("GPS"), as the real chronyc does.
 */
function statsName(address: CmdAddress, refId: number, c: CommandContext): Promise<string> {
  if (address.family === "unspec") return Promise.resolve(fmt.refIdName(refId));
  return nameOf(address, c);
}

/** The refid text of a reference clock's row ("71.80.83.0" -> "GPS"). */
function refclockName(address: string): string {
  return address.split(".").map(Number).filter((b) => b > 0).map((b) => String.fromCharCode(b))
    .join("");
}

/** `ntpdata [address]`: one source, or every source. */
export const ntpdata: CommandHandler = async (args, c) => {
  if (args[0] === undefined) return await sourceReport("ntpdata")(args, c);
  const ip = await needAddress(args[0], c);
  const r = await request(c.s, { kind: "ntp_data", ip }, "ntp_data");
  // one source: no blank line before it, unlike the listing of all sources
  c.io.stdout(fmt.formatNtpData(r.report, c.o.csv, r.v2).replace(/^\n/, ""));
  return true;
};

/** `clients [-p packets] [-k] [-r]`: every client, 8 a request. */
export const clients: CommandHandler = async (args, c) => {
  const { o, s, io } = c;
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
    for (const cl of page.clients) {
      out += fmt.formatClient(cl, await nameOf(cl.address, c), nke, o.csv);
    }
    if (page.clients.length === 0 || page.nextIndex <= first) break;
    first = page.nextIndex;
  }
  io.stdout(out);
  return true;
};

/** `manual on|off|reset`, `manual list`, `manual delete <index>`. */
export const manual: CommandHandler = async (args, c) => {
  const sub = args[0];
  if (sub === "delete") {
    // like `list`, `delete` ignores words after its own (as chronyc does)
    const index = int(args[1]);
    if (index === undefined) throw new CmdError("Bad syntax for manual delete command");
    return await control(c.s, { kind: "manual_delete", index }, c.io);
  }
  if (sub === "list") {
    const r = await request(c.s, { kind: "manual_list" }, "manual_list");
    c.io.stdout(fmt.formatManualList(r.samples, c.o.csv));
    return true;
  }
  const option = args.length === 1 ? { off: 0, on: 1, reset: 2 }[sub as "on"] : undefined;
  if (option === undefined) throw new CmdError("Invalid syntax for manual command");
  return await control(c.s, { kind: "manual", option }, c.io);
};

/** `settime <date>`: chronyc prints the status before the report here. */
export const settime: CommandHandler = async (args, c) => {
  const t = parseDate(args.join(" "), c.io.nowMs());
  if (t === null) throw new StatusError("510 - Could not parse date string");
  const r = await request(c.s, { kind: "settime", ts: BigInt(t) * 1_000_000n }, "manual_timestamp");
  c.io.stdout(statusText(Status.SUCCESS) + "\n" + fmt.formatSettime(r.report));
  return true;
};

/**
 * chronyc(1) waitsync: reads tracking every `interval` seconds (default 10,
 * at least 0.1) until the daemon has a real reference (an address, or a
 * reference id other than none and the local clock's 7F7F0101), the absolute
 * correction is at most max-correction (s) and the skew at most max-skew
 * (ppm), 0 meaning no limit; gives up after max-tries (0 = never).
 */
export const waitsync: CommandHandler = async (args, c) => {
  const maxTries = int(args[0]) ?? 0;
  const maxCorrection = num(args[1]) ?? 0;
  const maxSkewPpm = num(args[2]) ?? 0;
  const interval = Math.max(num(args[3]) ?? 10, 0.1);
  for (let tries = 1;; tries++) {
    if (await trackingSynced(tries, maxCorrection, maxSkewPpm, c)) return true;
    if (maxTries > 0 && tries >= maxTries) return false;
    await c.io.sleep(interval * 1000);
  }
};

/**
 * One try of waitsync: prints it and tells whether the limits are met. A
 * failed request (506, or the daemon's refusal) is printed and counts as a
 * try, as chronyc goes on trying.
 */
async function trackingSynced(
  tries: number,
  maxCorrection: number,
  maxSkewPpm: number,
  c: CommandContext,
): Promise<boolean> {
  let t;
  try {
    t = (await request(c.s, { kind: "tracking" }, "tracking")).report;
  } catch (e) {
    if (!(e instanceof StatusError)) throw e;
    c.io.stdout(e.message + "\n");
    return false;
  }
  const correction = Math.abs(t.currentCorrection);
  c.io.stdout(
    `try: ${tries}, refid: ${t.refId.toString(16).toUpperCase().padStart(8, "0")}, ` +
      `correction: ${correction.toFixed(9)}, skew: ${t.skewPpm.toFixed(3)}\n`,
  );
  return (t.address.family !== "unspec" || (t.refId !== 0 && t.refId !== REFID_LOCAL)) &&
    (maxCorrection === 0 || correction <= maxCorrection) &&
    (maxSkewPpm === 0 || t.skewPpm <= maxSkewPpm);
}

/** `dns -n|+n|-4|-6|-46`. */
export const dns: CommandHandler = (args, { o }) => {
  if (args[0] === "-n") o.numeric = true;
  else if (args[0] === "+n") o.numeric = false;
  else if (args[0] === "-4") o.family = 4;
  else if (args[0] === "-6") o.family = 6;
  else if (args[0] === "-46") o.family = undefined;
  else throw new CmdError("Unrecognized dns command");
  return Promise.resolve(true);
};

/** `timeout <ms>`: at least 100 ms. */
export const timeout: CommandHandler = (args, { o }) => {
  const ms = int(args[0]) ?? 0;
  if (ms < 100) throw new CmdError(`Timeout ${ms} is too short`);
  o.limits = { ...o.limits, timeoutMs: ms };
  return Promise.resolve(true);
};

/** `retries <n>`: chronyc ignores an unreadable number. */
export const retries: CommandHandler = (args, { o }) => {
  const n = int(args[0]);
  if (n === undefined) return Promise.resolve(true);
  if (n < 0) throw new CmdError("Invalid maximum number of retries");
  o.limits = { ...o.limits, retries: n };
  return Promise.resolve(true);
};
