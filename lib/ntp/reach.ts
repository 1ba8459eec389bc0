/**
 * The reachability register of one NTP source (RFC 5905 §13).
 *
 * An 8-bit shift register: each time a request is sent (`polled()`) the
 * register shifts left by one and the new bit 0 is 0; a valid response
 * (`received()`) sets bit 0. So bit 0 says whether the newest poll was
 * answered and bit 7 the oldest of the last eight. The source is reachable
 * while any bit is set; after eight polls in a row with no answer it is all
 * zeros and the source is unreachable. `chronyc sources` shows it in octal
 * (377 = the last eight polls all answered).
 *
 * @example
 * ```ts
 * import { ReachRegister } from "./reach.ts";
 * const r = new ReachRegister();
 * r.polled(); r.received(); r.polled();
 * r.toOctal(); // "2"
 * r.unansweredPolls(); // 1
 * ```
 * @module
 */

/** Number of polls the register remembers. RFC 5905 §13. */
export const REACH_BITS = 8;

/** 8-bit reachability shift register; see the module doc. */
export class ReachRegister {
  #bits = 0;
  #unreachablePolls = 0;
  #polls = 0;

  /** Register from a raw value (low 8 bits used). */
  constructor(value = 0) {
    this.#bits = value & 0xff;
  }

  /** Raw register value 0..255. */
  get value(): number {
    return this.#bits;
  }

  /** A request was sent: shift left, dropping the oldest poll. */
  polled(): void {
    this.#polls++;
    this.#bits = (this.#bits << 1) & 0xff;
    if (this.#bits === 0) this.#unreachablePolls++;
  }

  /** A valid response arrived for the newest poll: set bit 0. */
  received(): void {
    this.#bits |= 1;
    this.#unreachablePolls = 0;
  }

  /**
   * Polls made while the register was all zeros (the poll that cleared it
   * counts 1), 0 while reachable: what `maxunreach` limits.
   */
  get unreachablePolls(): number {
    return this.#unreachablePolls;
  }

  /** Polls made since the register was created. */
  get polls(): number {
    return this.#polls;
  }

  /** Number of newest polls in a row without a response (0..8). */
  unansweredPolls(): number {
    if (this.#bits === 0) return REACH_BITS;
    let n = 0;
    while (((this.#bits >> n) & 1) === 0) n++;
    return n;
  }

  /** Whether any of the last eight polls was answered. */
  isReachable(): boolean {
    return this.#bits !== 0;
  }

  /** Takes a saved register value (low 8 bits; `chronyd -r` reloading a dump). */
  restore(value: number): void {
    this.#bits = value & 0xff;
    this.#unreachablePolls = 0;
  }

  /** Forgets all history (as after `offline`, or a new address). */
  reset(): void {
    this.#bits = 0;
    this.#unreachablePolls = 0;
  }

  /** Octal text as chronyc prints it ("377"). */
  toOctal(): string {
    return this.#bits.toString(8);
  }
}
