/**
 * Reading the words of one directive line with typed, located errors.
 * Numbers follow chrony's conventions: decimal integers, and floats in plain
 * or exponent notation (`1e-4`, `.5`, `-37`).
 *
 * @example
 * ```ts
 * import { ArgReader } from "./args.ts";
 * const r = new ArgReader(["1.0", "3"], { file: "f", line: 1, directive: "makestep" });
 * r.float("threshold"); // 1
 * r.int("limit"); // 3
 * r.end();
 * ```
 * @module
 */

import { ConfigError, type ConfigWarning } from "./config_error.ts";

/** Where a line came from, for error messages. */
export interface LineContext {
  file: string;
  line: number;
  /** Directive name, lower case. */
  directive: string;
  /** Collected warnings (clamped values); optional. */
  warnings?: ConfigWarning[];
}

const INT_RE = /^[+-]?\d+$/;
const FLOAT_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Parses a decimal integer or returns undefined. */
export function toInt(word: string): number | undefined {
  if (!INT_RE.test(word)) return undefined;
  const n = Number(word);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Parses a float (plain or exponent notation) or returns undefined. */
export function toFloat(word: string): number | undefined {
  if (!FLOAT_RE.test(word)) return undefined;
  const n = Number(word);
  return Number.isFinite(n) ? n : undefined;
}

/** Sequential reader over the arguments of one directive. */
export class ArgReader {
  readonly #words: readonly string[];
  #pos = 0;
  readonly ctx: LineContext;

  constructor(words: readonly string[], ctx: LineContext) {
    this.#words = words;
    this.ctx = ctx;
  }

  /** Builds a ConfigError located at this line. */
  error(reason: string): ConfigError {
    return new ConfigError(this.ctx.file, this.ctx.line, reason);
  }

  /** Records a warning located at this line. */
  warn(message: string, bare = false): void {
    this.ctx.warnings?.push({
      file: this.ctx.file,
      line: this.ctx.line,
      message,
      ...(bare ? { bare } : {}),
    });
  }

  /** Words not consumed yet. */
  get remaining(): number {
    return this.#words.length - this.#pos;
  }

  /** The next word without consuming it. */
  peek(): string | undefined {
    return this.#words[this.#pos];
  }

  /** Consumes the next word; error naming `what` if there is none. */
  word(what: string): string {
    const w = this.#words[this.#pos];
    if (w === undefined) throw this.error(`missing ${what} for ${this.ctx.directive}`);
    this.#pos++;
    return w;
  }

  /** Consumes the next word if present. */
  optionalWord(): string | undefined {
    const w = this.#words[this.#pos];
    if (w !== undefined) this.#pos++;
    return w;
  }

  /** Consumes all remaining words. */
  rest(): string[] {
    const r = this.#words.slice(this.#pos);
    this.#pos = this.#words.length;
    return r;
  }

  /** Consumes an integer named `what`. */
  int(what: string): number {
    const w = this.word(what);
    const n = toInt(w);
    if (n === undefined) throw this.error(`invalid ${what} "${w}"`);
    return n;
  }

  /** Consumes a float named `what`. */
  float(what: string): number {
    const w = this.word(what);
    const n = toFloat(w);
    if (n === undefined) throw this.error(`invalid ${what} "${w}"`);
    return n;
  }

  /**
   * Clamps `value` into [min, max] with a warning, as chronyd does for
   * documented ranges it does not reject.
   */
  clamp(what: string, value: number, min: number, max: number): number {
    if (value < min || value > max) {
      const c = Math.min(max, Math.max(min, value));
      this.warn(`${what} ${value} out of range ${min}..${max}, using ${c}`);
      return c;
    }
    return value;
  }

  /** Fails if words are left over. */
  end(): void {
    const w = this.#words[this.#pos];
    if (w !== undefined) throw this.error(`too many arguments for ${this.ctx.directive} ("${w}")`);
  }
}
