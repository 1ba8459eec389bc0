/**
 * chronyd's log: each line `YYYY-MM-DDThh:mm:ssZ message`, to stderr (`-d`,
 * one-shot modes), to a file (`-l FILE`, appended), or to syslog (daemon
 * facility) when running in the background. Severity follows `-L LEVEL`
 * (0 informational, 1 warning, 2 error, 3 fatal; debug below 0 with `-d -d`).
 *
 * @example
 * ```ts
 * import { Logger } from "./log.ts";
 * const log = new Logger({ sink: "stderr", level: 0 });
 * log.info("chronyd starting");
 * ```
 * @module
 */

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
      } catch {
        // fall through to stderr: a log line is never lost silently
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
    this.write(Severity.Fatal, `Fatal error : ${message}`);
  }

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
        } catch { /* not there */ }
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
    } catch {
      this.#syslogFailed = true;
      return false;
    }
  }
}
