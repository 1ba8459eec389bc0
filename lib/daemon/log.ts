/**
 * chronyd's log: each line `YYYY-MM-DDThh:mm:ssZ message`, to stderr (`-d`,
 * one-shot modes), to a file (`-l FILE`, appended), or to syslog (daemon
 * facility) when running in the background. Severity follows `-L LEVEL`
 * (0 informational, 1 warning, 2 error, 3 fatal; debug below 0 with `-d -d`).
 * Every message has its control characters escaped and is cut to
 * {@link MAX_LOG_MESSAGE} characters ({@link sanitizeLogMessage}).
 *
 * @example
 * ```ts
 * import { Logger } from "./log.ts";
 * const log = new Logger({ sink: "stderr", level: 0 });
 * log.info("chronyd starting");
 * ```
 * @module
 */
import { isOsError } from "../io/os_error.ts";

/** Log severity, chronyd's numbering for `-L`. */
export const enum Severity {
  Debug = -1,
  Info = 0,
  Warn = 1,
  Error = 2,
  Fatal = 3,
}

/** Where log lines go. */
export type LogSink = "stderr" | "syslog" | { file: string } | { lines: string[] };

/** Logger options. */
export interface LoggerOptions {
  sink: LogSink;
  /** Lowest severity written (`-L`). */
  level: number;
  /** Wall clock for the line prefix; injected so tests can fix it. */
  now?: () => Date;
}

const encoder = new TextEncoder();

/**
 * Longest message written, in characters after escaping (chronyd's log
 * buffer is 2048 bytes); the rest is cut and counted.
 */
export const MAX_LOG_MESSAGE = 2048;

/**
 * A message as it is logged: control characters (C0, DEL, C1) escaped as
 * `\xHH` so a value copied from a file or a packet cannot forge lines or
 * drive a terminal, and cut to `max` characters with the number of the
 * characters left out (a 10 MB line of a corrupt file is not logged whole).
 */
export function sanitizeLogMessage(message: string, max = MAX_LOG_MESSAGE): string {
  // deno-lint-ignore no-control-regex
  if (message.length <= max && !/[\x00-\x1f\x7f-\x9f]/.test(message)) return message;
  let out = "";
  let i = 0;
  for (; i < message.length; i++) {
    const c = message.charCodeAt(i);
    const piece = c < 0x20 || (c >= 0x7f && c <= 0x9f)
      ? `\\x${c.toString(16).padStart(2, "0")}`
      : message[i]!;
    if (out.length + piece.length > max) break;
    out += piece;
  }
  return i < message.length ? `${out}... (${message.length - i} more characters)` : out;
}

/**
 * A value from outside (a file's line, a name from a packet) for a log
 * message: at most `max` characters, cut with "..."; control characters are
 * escaped by the logger itself.
 */
export function logValue(value: string, max = 64): string {
  return value.length <= max ? value : `${value.slice(0, max)}...`;
}

/** chronyd's time prefix: ISO-8601 UTC to the second. */
export function logTime(d: Date): string {
  return d.toISOString().slice(0, 19) + "Z";
}

/** A chronyd-style logger. */
export class Logger {
  #sink: LogSink;
  #level: number;
  #now: () => Date;
  #file: Deno.FsFile | null = null;
  #syslog: Deno.DatagramConn | null = null;
  #syslogFailed = false;

  constructor(options: LoggerOptions) {
    this.#sink = options.sink;
    this.#level = options.level;
    this.#now = options.now ?? (() => new Date());
  }

  /** Writes one message at `severity` (dropped below the threshold). */
  write(severity: Severity, message: string): void {
    if (severity < this.#level) return;
    message = sanitizeLogMessage(message);
    const sink = this.#sink;
    if (sink === "syslog") {
      if (this.#sendSyslog(severity, message)) return;
    }
    const line = `${logTime(this.#now())} ${message}\n`;
    if (typeof sink === "object" && "lines" in sink) {
      sink.lines.push(line.slice(0, -1));
      return;
    }
    if (typeof sink === "object" && "file" in sink) {
      try {
        this.#file ??= Deno.openSync(sink.file, { append: true, create: true });
        this.#file.writeSync(encoder.encode(line));
        return;
      } catch (e) {
        if (!isOsError(e)) throw e; // fall through to stderr: a log line is never lost silently
      }
    }
    Deno.stderr.writeSync(encoder.encode(line));
  }

  debug(message: string): void {
    this.write(Severity.Debug, message);
  }
  info(message: string): void {
    this.write(Severity.Info, message);
  }
  warn(message: string): void {
    this.write(Severity.Warn, message);
  }
  error(message: string): void {
    this.write(Severity.Error, message);
  }
  fatal(message: string): void {
    this.fatalLogged = true;
    this.write(Severity.Fatal, `Fatal error : ${message}`);
  }
  /** A fatal error was logged (chronyd exits then without "chronyd exiting"). */
  fatalLogged = false;

  /** Closes the log file / syslog socket. */
  close(): void {
    this.#file?.close();
    this.#file = null;
    this.#syslog?.close();
    this.#syslog = null;
  }

  #sendSyslog(severity: Severity, message: string): boolean {
    if (this.#syslogFailed) return false;
    try {
      if (this.#syslog === null) {
        const path = `/tmp/horae-syslog-${Deno.pid}.sock`;
        try {
          Deno.removeSync(path);
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) throw e; // else not there: fine
        }
        this.#syslog = Deno.listenDatagram({ transport: "unixpacket", path });
        Deno.removeSync(path);
      }
      // RFC 3164: <PRI> with facility daemon (3); severities info 6, warning 4, err 3, crit 2.
      const sev = severity <= Severity.Info
        ? (severity < 0 ? 7 : 6)
        : severity === Severity.Warn
        ? 4
        : severity === Severity.Error
        ? 3
        : 2;
      const text = `<${3 * 8 + sev}>chronyd[${Deno.pid}]: ${message}`;
      this.#syslog.send(encoder.encode(text), { transport: "unixpacket", path: "/dev/log" })
        .catch(() => {
          this.#syslogFailed = true;
        });
      return true;
    } catch (e) {
      if (!isOsError(e)) throw e;
      // no socket to send from: this line and every later one go to stderr instead
      this.#syslogFailed = true;
      return false;
    }
  }
}
