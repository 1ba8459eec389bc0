/**
 * The files of chronyd's `log` directive: `logdir/<kind>.log` opened for
 * append on the first entry, a banner every `logbanner` entries (counted from
 * each opening), `cycle()` for `chronyc cyclelogs` (close all; the next entry
 * reopens the file by name, so a renamed file is left alone and a new one is
 * started with a banner, as chronyd 4.3 does). A failed open or write never
 * throws: it is counted, reported through `onError` once per file ("Could
 * not open PATH : reason", as chronyd), and that file is not tried again
 * (chronyd 4.3 gives it up too, even across `cyclelogs`).
 *
 * `log rawmeasurements` writes to measurements.log too, also for responses
 * that failed a test; {@link LogWriter.wantsMeasurement} tells the caller which.
 *
 * @example
 * ```ts
 * import { LogWriter } from "./log_writer.ts";
 * const logs = new LogWriter({
 *   dir: Deno.makeTempDirSync(), kinds: ["tracking"], logBanner: 32,
 *   onError: (message) => console.error(message),
 * });
 * logs.write("tracking", "2026-11-23 11:11:33 127.0.0.1 ...");
 * logs.cycle();
 * logs.close();
 * ```
 * @module
 */
import type { LogKind } from "../conf/config.ts";
import { entryText, LOG_FILE_KINDS, type LogFileKind } from "../engine/logfiles.ts";
import { strerror } from "./files.ts";
import { isOsError } from "../io/os_error.ts";

/** Options of {@link LogWriter}. */
export interface LogWriterOptions {
  /** `logdir`: the directory of the files. */
  dir: string;
  /** Kinds from the `log` directive. */
  kinds: readonly LogKind[];
  /** `logbanner`: entries between banners, 0 = no banner. chrony.conf(5) default 32. */
  logBanner: number;
  /** Called once per file, on its first failure to open or write, with a message for the log. */
  onError: (message: string) => void;
}

interface OpenFile {
  file: Deno.FsFile;
  /** Entries written since the file was opened. */
  entries: number;
}

const encoder = new TextEncoder();

/** Appends entries to the enabled log files. */
export class LogWriter {
  readonly dir: string;
  readonly logBanner: number;
  readonly #enabled: ReadonlySet<LogFileKind>;
  readonly #raw: boolean;
  readonly #onError: (message: string) => void;
  readonly #open = new Map<LogFileKind, OpenFile>();
  /** Files given up after a failure. */
  readonly #failed = new Set<LogFileKind>();
  #failures = 0;

  constructor(options: LogWriterOptions) {
    this.dir = options.dir;
    this.logBanner = Math.max(0, Math.trunc(options.logBanner));
    this.#onError = options.onError;
    this.#raw = options.kinds.includes("rawmeasurements");
    const enabled = new Set<LogFileKind>();
    for (const kind of options.kinds) {
      const file = kind === "rawmeasurements" ? "measurements" : kind;
      if ((LOG_FILE_KINDS as readonly string[]).includes(file)) enabled.add(file as LogFileKind);
    }
    this.#enabled = enabled;
  }

  /** Whether entries of `kind` are written. */
  enabled(kind: LogFileKind): boolean {
    return this.#enabled.has(kind);
  }

  /**
   * Whether a measurement goes to measurements.log: valid ones (tests 1-7
   * passed, synchronised source) with `measurements` or `rawmeasurements`,
   * the others only with `rawmeasurements`.
   */
  wantsMeasurement(valid: boolean): boolean {
    return this.#enabled.has("measurements") && (valid || this.#raw);
  }

  /** Failed opens and writes so far. */
  get failures(): number {
    return this.#failures;
  }

  /** Path of the file of `kind`. */
  path(kind: LogFileKind): string {
    return `${this.dir}/${kind}.log`;
  }

  /**
   * Appends one entry (a line without its newline) to `<kind>.log`, preceded
   * by the banner when due. Does nothing for a kind not enabled; never throws.
   */
  write(kind: LogFileKind, line: string): void {
    if (!this.#enabled.has(kind) || this.#failed.has(kind)) return;
    const open = this.#openFile(kind);
    if (open === null) return;
    const text = entryText(kind, line, { index: open.entries, logBanner: this.logBanner });
    try {
      const bytes = encoder.encode(text);
      let done = 0;
      while (done < bytes.length) done += open.file.writeSync(bytes.subarray(done));
      open.entries++;
    } catch (e) {
      this.#fail(kind, `Could not write to ${this.path(kind)} : ${strerror(e)}`);
    }
  }

  /** `chronyc cyclelogs`: closes every file; the next entry reopens it by name. */
  cycle(): void {
    this.close();
  }

  /** Closes every open file. */
  close(): void {
    for (const open of this.#open.values()) {
      try {
        open.file.close();
      } catch (e) {
        if (!isOsError(e)) throw e; // already closed (BadResource): nothing to do
      }
    }
    this.#open.clear();
  }

  #openFile(kind: LogFileKind): OpenFile | null {
    const existing = this.#open.get(kind);
    if (existing !== undefined) return existing;
    try {
      const file = Deno.openSync(this.path(kind), { append: true, create: true });
      const open = { file, entries: 0 };
      this.#open.set(kind, open);
      return open;
    } catch (e) {
      this.#fail(kind, `Could not open ${this.path(kind)} : ${strerror(e)}`);
      return null;
    }
  }

  #fail(kind: LogFileKind, text: string): void {
    this.#failures++;
    if (this.#failed.has(kind)) return;
    this.#failed.add(kind);
    const open = this.#open.get(kind);
    if (open !== undefined) {
      this.#open.delete(kind);
      try {
        open.file.close();
      } catch (e) {
        if (!isOsError(e)) throw e; // already closed (BadResource): nothing to do
      }
    }
    try {
      this.#onError(text);
    } catch {
      // Any error: the callback is the caller's (it logs), and a failure in it must not
      // escape the log writer into the engine's loop; the failure was counted above.
    }
  }
}
