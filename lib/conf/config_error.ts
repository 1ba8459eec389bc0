/**
 * The one error type of the chrony.conf parser. chronyd refuses to start on
 * the first bad line; horae does the same and says where and why.
 *
 * @example
 * ```ts
 * import { ConfigError } from "./config_error.ts";
 * const e = new ConfigError("/etc/chrony.conf", 12, 'invalid minpoll "x"');
 * e.message; // '/etc/chrony.conf:12: invalid minpoll "x"'
 * ```
 * @module
 */

/** A bad configuration line: file, 1-based line number and the reason. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  /** File name as given (or `"command line"` for `chronyd 'server x'` arguments). */
  readonly file: string;
  /** 1-based line number in `file` (argument index for the command line; 0 if not tied to a line). */
  readonly line: number;
  /** The reason alone, without the `file:line: ` prefix. */
  readonly reason: string;

  constructor(file: string, line: number, reason: string) {
    super(`${file}:${line}: ${reason}`);
    this.file = file;
    this.line = line;
    this.reason = reason;
  }
}

/** A non-fatal remark about a line (obsolete directive, value clamped to its documented range). */
export interface ConfigWarning {
  file: string;
  line: number;
  message: string;
  /** chronyd logs it without file and line (obsolete directives), also with `-p`. */
  bare?: boolean;
}
