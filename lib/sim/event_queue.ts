/**
 * A priority queue of simulator events ordered by true time (bigint ns),
 * ties broken by insertion order so a run is fully deterministic.
 *
 * @example
 * ```ts
 * import { EventQueue } from "./event_queue.ts";
 * const q = new EventQueue<string>();
 * q.push(2_000_000_000n, "later");
 * q.push(1_000_000_000n, "sooner");
 * q.pop()?.value; // "sooner"
 * ```
 * @module
 */
import type { Timestamp } from "../time/timestamp.ts";

/** One queued event. */
export interface QueuedEvent<T> {
  /** True time at which the event happens. */
  at: Timestamp;
  /** Insertion number (ties at the same time run in insertion order). */
  seq: number;
  value: T;
}

/** Binary min-heap on (at, seq). */
export class EventQueue<T> {
  readonly #heap: QueuedEvent<T>[] = [];
  #seq = 0;

  /** Number of queued events. */
  get size(): number {
    return this.#heap.length;
  }

  /** Time of the earliest event, or null when empty. */
  peekTime(): Timestamp | null {
    return this.#heap[0]?.at ?? null;
  }

  /** Queues `value` at true time `at`. */
  push(at: Timestamp, value: T): void {
    const h = this.#heap;
    h.push({ at, seq: this.#seq++, value });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  /** Removes and returns the earliest event, or undefined when empty. */
  pop(): QueuedEvent<T> | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < h.length && before(h[l]!, h[m]!)) m = l;
      if (r < h.length && before(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
    return top;
  }
}

function before<T>(a: QueuedEvent<T>, b: QueuedEvent<T>): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
