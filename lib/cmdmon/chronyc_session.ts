/**
 * What chronyc's commands share: the outside world (`ChronycIo`), the
 * per-run settings, the daemon session, the three ways a command fails, and
 * the request helpers every command row of chronyc_commands.ts uses (a report
 * request, a control request printing its status, address look-ups).
 *
 * @example
 * ```ts
 * import { CmdError } from "./chronyc_session.ts";
 * new CmdError("Invalid syntax for burst command").message; // printed on stderr
 * ```
 * @module
 */

import type { Request } from "./request.ts";
import type { Reply } from "./reports.ts";
import { addressText, type CmdAddress, parseAddress, Status, statusText } from "./wire.ts";

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

/**
 * `ChronycIo.connect` could not open a socket to that host (a missing Unix
 * socket, no IPv6, ...): chronyc tries the next host, and says "Could not
 * open connection to daemon" when none opens.
 */
export class ConnectError extends Error {
  override name = "ConnectError";
}

/** Everything chronyc needs from the outside world. */
export interface ChronycIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /**
   * Opens a transport; a host starting with "/" is a Unix socket path.
   * Rejects with {@link ConnectError} when the socket cannot be opened.
   */
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
export interface Options {
  csv: boolean;
  /** `-j`/`--json`: reports as JSON documents (lib/cmdmon/json.ts, docs/API.md). */
  json?: boolean;
  numeric: boolean;
  origNames: boolean;
  /** Address family for host name look-ups (`-4`, `-6`, `dns -4|-6|-46`). */
  family: 4 | 6 | undefined;
  limits: ExchangeLimits;
}

/** The daemon as one command sees it: a request in, a status and reply out (null: no answer). */
export interface Session {
  exchange(req: Request): Promise<{ status: number; reply: Reply } | null>;
}

/** What a command row's handler works with. */
export interface CommandContext {
  o: Options;
  s: Session;
  io: ChronycIo;
}

/** A command failed before or without a daemon status; the message goes to stderr. */
export class CmdError extends Error {
  override name = "CmdError";
}

/** No daemon socket could be opened at all: chronyc gives up with exit code 1. */
export class OpenError extends Error {
  override name = "OpenError";
}

/** A daemon status (or 506) to print on stdout; the command failed. */
export class StatusError extends Error {
  override name = "StatusError";
}

/** The reply of a request whose status is not 200 (there is no body to read). */
export const NULL_REPLY: Reply = { kind: "null" };

/** A status of {@link Session.exchange} for a reply that could not be decoded. */
export const UNREADABLE = -1;

/** Sends a report request; throws StatusError unless the reply is a `want` reply. */
export async function request<K extends Reply["kind"]>(
  s: Session,
  req: Request,
  want: K,
): Promise<Extract<Reply, { kind: K }>> {
  const r = await s.exchange(req);
  if (!r) throw new StatusError("506 Cannot talk to daemon");
  if (r.status === UNREADABLE) throw new StatusError("Invalid reply from daemon");
  if (r.status !== Status.SUCCESS) throw new StatusError(statusText(r.status));
  if (r.reply.kind !== want) throw new StatusError("Invalid reply from daemon");
  return r.reply as Extract<Reply, { kind: K }>;
}

/**
 * Sends a control request and prints its status; true for 200, 208 and 209.
 * Several requests are one command's forms, newest first: each older form is
 * sent when the daemon refuses the newer one with 502 (or does not answer).
 */
export async function control(
  s: Session,
  reqs: Request | readonly Request[],
  io: ChronycIo,
): Promise<boolean> {
  const forms = Array.isArray(reqs) ? reqs : [reqs as Request];
  for (const req of forms.slice(0, -1)) {
    const r = await s.exchange(req);
    if (r && r.status !== Status.INVALID) {
      io.stdout(statusText(r.status) + "\n");
      return r.status === Status.SUCCESS;
    }
  }
  const r = await s.exchange(forms[forms.length - 1]!);
  if (!r) throw new StatusError("506 Cannot talk to daemon");
  io.stdout(statusText(r.status) + "\n");
  return r.status === Status.SUCCESS || r.status === Status.ACCESSALLOWED ||
    r.status === Status.ACCESSDENIED;
}

/** How an address is printed: the source's given name (-N), a reverse name, or the address. */
export async function nameOf(a: CmdAddress, c: CommandContext): Promise<string> {
  const { o, io, s } = c;
  if (o.origNames && a.family !== "unspec") {
    const r = await s.exchange({ kind: "ntp_source_name", ip: a });
    if (r && r.reply.kind === "ntp_source_name" && r.reply.name) return r.reply.name;
  }
  const text = addressText(a);
  if (o.numeric || o.csv || a.family === "unspec" || a.family === "id" || !io.resolve) return text;
  return (await io.resolve(text)) ?? text;
}

/** An address or host name to an address; null when it cannot be resolved. */
export async function hostAddress(
  text: string | undefined,
  c: CommandContext,
): Promise<CmdAddress | null> {
  if (!text) return null;
  const direct = parseAddress(text);
  if (direct) return direct;
  if (!c.io.lookup || !/^[A-Za-z0-9.-]+$/.test(text)) return null;
  const found = await c.io.lookup(text, c.o.family);
  return found ? parseAddress(found) : null;
}

/** {@link hostAddress}, failing with chronyc's message when it cannot be resolved. */
export async function needAddress(text: string | undefined, c: CommandContext) {
  const a = await hostAddress(text, c);
  if (!a) throw new CmdError("Could not get address for hostname");
  return a;
}
