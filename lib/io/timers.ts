/**
 * Timers keyed by absolute real-time deadlines: `at(T, cb)` runs `cb` once
 * CLOCK_REALTIME has reached `T`. A binary min-heap holds the deadlines and a
 * single `setTimeout` is armed for the earliest one; an early wake-up simply
 * re-arms. Each sleep is capped (`maxSleepMs`) so a step of the real-time
 * clock is noticed; after stepping the clock the daemon may call `rearm()`.
 * `clear()` cancels everything and leaves nothing that keeps the process alive.
 *
 * @example
 * ```ts
 * import { TimerQueue } from "./timers.ts";
 * import { realNow } from "./realtime.ts";
 * const timers = new TimerQueue();
 * const id = timers.at(realNow() + 2_000_000_000n, (now) => console.log("fired at", now));
 * timers.cancel(id);
 * timers.clear();
 * ```
 * @module
 */

import type { Timestamp } from "../time/timestamp.ts";
import { realNow } from "./realtime.ts";

/** Identifies an armed timer (for `cancel`). */
export type TimerId = number;

/** Called when a timer fires, with the real time it was run at. */
export type TimerCallback = (now: Timestamp) => void;

interface Entry {
  at: Timestamp;
  id: TimerId;
  seq: number;
  cb: TimerCallback;
}

/** Options of a {@link TimerQueue}. */
export interface TimerQueueOptions {
  /** Clock read to decide what is due (default `realNow`); tests may pass their own. */
  now?: () => Timestamp;
  /** Longest single setTimeout, ms (default 10000). */
  maxSleepMs?: number;
  /** Called with an exception thrown by a callback (default: console.error). */
  onError?: (err: unknown) => void;
}

/** A heap of real-time deadlines over one setTimeout. */
export class TimerQueue {
  readonly #heap: Entry[] = [];
  readonly #live = new Map<TimerId, Entry>();
  readonly #now: () => Timestamp;
  readonly #maxSleepMs: number;
  readonly #onError: (err: unknown) => void;
  #nextId = 1;
  #seq = 0;
  #handle: ReturnType<typeof setTimeout> | null = null;
  #armedFor: Timestamp | null = null;

  constructor(options: TimerQueueOptions = {}) {
    this.#now = options.now ?? realNow;
    this.#maxSleepMs = options.maxSleepMs ?? 10_000;
    this.#onError = options.onError ?? ((err) => console.error("timer callback:", err));
  }

  /** Number of armed timers. */
  get size(): number {
    return this.#live.size;
  }

  /** Runs `cb` once the real time reaches `deadline`. Timers due at the same time run in arming order. */
  at(deadline: Timestamp, cb: TimerCallback): TimerId {
    const e: Entry = { at: deadline, id: this.#nextId++, seq: this.#seq++, cb };
    this.#live.set(e.id, e);
    this.#push(e);
    if (this.#armedFor === null || deadline < this.#armedFor) this.rearm();
    return e.id;
  }

  /** Runs `cb` after `seconds` of real time. */
  after(seconds: number, cb: TimerCallback): TimerId {
    return this.at(this.#now() + BigInt(Math.round(seconds * 1e9)), cb);
  }

  /** Cancels a timer; returns false when it already fired or was cancelled. */
  cancel(id: TimerId): boolean {
    if (!this.#live.delete(id)) return false;
    if (this.#live.size === 0) this.#disarm();
    return true; // its heap entry is skipped when it surfaces
  }

  /** Cancels every timer and the pending setTimeout. */
  clear(): void {
    this.#live.clear();
    this.#heap.length = 0;
    this.#disarm();
  }

  /** Re-arms the setTimeout from the current real time (call after stepping the clock). */
  rearm(): void {
    this.#disarm();
    this.#dropCancelled();
    const first = this.#heap[0];
    if (!first) return;
    const waitNs = first.at - this.#now();
    const ms = waitNs <= 0n ? 0 : Math.min(this.#maxSleepMs, Math.ceil(Number(waitNs) / 1e6));
    this.#armedFor = first.at;
    this.#handle = setTimeout(() => this.#fire(), ms);
  }

  #disarm(): void {
    if (this.#handle !== null) clearTimeout(this.#handle);
    this.#handle = null;
    this.#armedFor = null;
  }

  #fire(): void {
    this.#handle = null;
    this.#armedFor = null;
    // bounded: timers armed by callbacks for "now" run on the next turn
    const now = this.#now();
    const due: Entry[] = [];
    for (;;) {
      this.#dropCancelled();
      const first = this.#heap[0];
      if (!first || first.at > now) break;
      this.#pop();
      due.push(first);
    }
    for (const e of due) {
      if (!this.#live.delete(e.id)) continue; // cancelled by an earlier callback
      try {
        e.cb(now);
      } catch (err) {
        this.#onError(err);
      }
    }
    if (this.#handle === null) this.rearm();
  }

  #dropCancelled(): void {
    while (this.#heap.length > 0 && !this.#live.has(this.#heap[0]!.id)) this.#pop();
  }

  static #less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(e: Entry): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!TimerQueue.#less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && TimerQueue.#less(h[l]!, h[m]!)) m = l;
      if (r < h.length && TimerQueue.#less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
