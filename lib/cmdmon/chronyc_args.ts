/**
 * chronyc's argument readers: numbers read the way chronyc reads them,
 * addresses, subnets and `[mask/]address`, and the arguments of `local`,
 * `selectopts`, `add`, `settime` and `keygen` turned into requests (or a
 * key-file line). A reader fails with {@link CmdError} carrying chronyc's
 * message; the command table (chronyc_commands.ts) names which reader each
 * command uses.
 *
 * @example
 * ```ts
 * import { parseSubnet } from "./chronyc_args.ts";
 * parseSubnet("10.1"); // { ip: { family: "inet4", address: "10.1.0.0" }, subnetBits: 16 }
 * ```
 * @module
 */

import { AddSrcFlag, AddSrcType, type Request } from "./request.ts";
import { ArgReader } from "../conf/args.ts";
import { ConfigError } from "../conf/config_error.ts";
import { parseSourceDirective } from "../conf/source_options.ts";
import type { SourceKind } from "../conf/config.ts";
import { formatIpBytes, parseSubnet as parseIpSubnet } from "../net/address.ts";
import { type CmdAddress, parseAddress, UNSPEC } from "./wire.ts";
import { getDate } from "./getdate.ts";
import { KEY_TYPE_IDS, type KeyType } from "../ntp/keyfile.ts";
import {
  type ChronycIo,
  CmdError,
  type CommandContext,
  hostAddress,
  needAddress,
} from "./chronyc_session.ts";

/** A number the way chronyc's sscanf reads it: a leading numeric prefix; undefined when none. */
export function num(word: string | undefined): number | undefined {
  if (word === undefined) return undefined;
  const m = /^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(word);
  return m ? Number(m[0]) : undefined;
}

/** An integer the way chronyc's sscanf reads it: a leading decimal prefix; undefined when none. */
export function int(word: string | undefined): number | undefined {
  if (word === undefined) return undefined;
  const m = /^\s*[+-]?\d+/.exec(word);
  return m ? Number(m[0]) : undefined;
}

/** `[[mask/]address]` of online/offline/burst. */
export async function parseMaskAddr(
  arg: string | undefined,
  c: CommandContext,
): Promise<{ mask: CmdAddress; address: CmdAddress }> {
  if (!arg) return { mask: UNSPEC, address: UNSPEC };
  const slash = arg.indexOf("/");
  if (slash < 0) {
    const address = await needAddress(arg, c);
    return { mask: fullMask(address), address };
  }
  // with a mask both halves are addresses, never host names (as chronyc reads them)
  const mask = parseAddress(arg.slice(0, slash));
  const address = parseAddress(arg.slice(slash + 1));
  if (!mask || !address) throw new CmdError("Invalid syntax for mask/address");
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

/**
 * `[all] [subnet]` of allow/deny/cmdallow/cmddeny: the request kind (with
 * `all`) and the subnet, the unspecified address when none is given.
 */
export function parseAccessArgs(
  cmd: "allow" | "deny" | "cmdallow" | "cmddeny",
  args: string[],
): Request {
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
  return { kind: all ? `${cmd}all` : cmd, ip, subnetBits };
}

/**
 * `local [stratum N] [orphan] [distance D] [activate A] [waitsynced S]
 * [waitunsynced U]` or `local off`, as the forms to send, newest first.
 * chronyd 4.8 knows only LOCAL3 (as chronyc 4.8 sends), chronyd 4.3 only
 * LOCAL2: without a 4.5+ option LOCAL3 goes first and LOCAL2 after a 502;
 * with one, LOCAL3 alone (there is no older form to fall back to).
 */
export function parseLocal(args: string[]): Request[] {
  const bad = () => new CmdError("Invalid syntax for local command");
  const newest = (r: Extract<Request, { kind: "local2" }>): Request => ({
    ...r,
    kind: "local3",
    activate: 0,
    waitSynced: 0,
    waitUnsynced: 0,
  });
  if (args[0] === "off") {
    if (args.length !== 1) throw bad();
    const off = { kind: "local2", onOff: 0, stratum: 0, distance: 0, orphan: 0 } as const;
    return [newest(off), off];
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
  if (newer) {
    return [{
      kind: "local3",
      onOff: 1,
      stratum,
      distance,
      orphan,
      activate,
      waitSynced,
      waitUnsynced,
    }];
  }
  const local2 = { kind: "local2", onOff: 1, stratum, distance, orphan } as const;
  return [newest(local2), local2];
}

/** An address, or a reference id of up to 4 characters (refclocks), for selectopts/offset. */
export async function refOrAddress(
  text: string | undefined,
  c: CommandContext,
): Promise<{ address: CmdAddress; refId: number } | null> {
  if (!text) return null;
  const a = await hostAddress(text, c);
  if (a) return { address: a, refId: 0 };
  if (text.length > 4 || !/^[\x21-\x7e]+$/.test(text)) return null;
  let refId = 0;
  for (let i = 0; i < 4; i++) refId = refId * 256 + (text.charCodeAt(i) || 0);
  return { address: UNSPEC, refId: refId >>> 0 };
}

/** candm.h REQ_SELECTOPT_* bits. */
const SELECT_OPTS: Record<string, number> = { noselect: 1, prefer: 2, trust: 4, require: 8 };

/** `selectopts <address|refid> [+|-option]...` */
export async function parseSelectOpts(args: string[], c: CommandContext): Promise<Request> {
  const bad = () => new CmdError("Invalid syntax for selectopts command");
  const target = await refOrAddress(args[0], c);
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
  } catch (e) {
    // the directive's own reason is not chronyc's: chronyc names only the command
    if (e instanceof ConfigError) throw new CmdError("Invalid syntax for add command");
    throw e;
  }
  const F = AddSrcFlag;
  const flag = (on: boolean, bit: number) => (on ? bit : 0);
  const flags = flag(!c.offline, F.ONLINE) | flag(c.autoOffline, F.AUTOOFFLINE) |
    flag(c.iburst, F.IBURST) | flag(c.prefer, F.PREFER) | flag(c.noselect, F.NOSELECT) |
    flag(c.trust, F.TRUST) | flag(c.require, F.REQUIRE) | flag(c.xleave, F.INTERLEAVED) |
    flag(c.burst, F.BURST) | flag(c.nts, F.NTS) | flag(c.copy, F.COPY) |
    flag(c.extfields.includes(0xf323), F.EF_EXP_MONO_ROOT) |
    flag(c.extfields.includes(0xf324), F.EF_NET_CORRECTION) | flag(c.ipv4, F.IPV4) |
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

/** Key lengths of the ciphers (bits); a hash key's length is chosen. */
const CIPHER_BITS: Partial<Record<KeyType, number>> = { AES128: 128, AES256: 256 };

/**
 * keygen's bounds on a hash key (bits): at least 80, at most 4096 (as
 * chronyc 4.3 and 4.8 clamp `bits`).
 */
const KEYGEN_MIN_BITS = 80;
const KEYGEN_MAX_BITS = 4096;

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
  // the key file's type names (case-sensitive, as chronyc's), the ones horae computes
  const type = args[1] ?? "SHA1";
  if (!Object.hasOwn(KEY_TYPE_IDS, type)) {
    throw new CmdError(`Unknown hash function or cipher ${type}`);
  }
  const fixed = CIPHER_BITS[type as KeyType];
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
