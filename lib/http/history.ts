/**
 * Bounded in-memory history for the status page's plots: one ring of clock
 * points (offset, frequency, root distance) and one ring per source (offset,
 * delay, jitter), each holding at most `capacity` points. Pure: the caller
 * passes the time of each point.
 *
 * @example
 * ```ts
 * import { History } from "./history.ts";
 * const h = new History(3);
 * for (let t = 0; t < 5; t++) h.addClock({ t, offset: t, frequency: 0, rootDistance: 0 });
 * h.toJson().clock.map((p) => p.t); // [2, 3, 4]
 * ```
 * @module
 */

/** One point of the clock (tracking). */
export interface ClockPoint {
  /** Unix seconds. */
  t: number;
  /** Last offset, seconds. */
  offset: number;
  /** Frequency, ppm. */
  frequency: number;
  /** Root delay / 2 + root dispersion, seconds. */
  rootDistance: number;
  /** NTP requests received so far (serverstats), for the request rate; absent: not a server. */
  ntpRequests?: number;
  /** NTS-KE connections accepted so far. */
  ntsKeAccepted?: number;
}

/** One point of a source. */
export interface SourcePoint {
  /** Unix seconds. */
  t: number;
  /** Last sample's offset, seconds. */
  offset: number;
  /** Peer delay of the last sample, seconds. */
  delay: number;
  /** Standard deviation of the samples (sourcestats), seconds. */
  jitter: number;
}

/** A fixed-capacity ring. */
export class Ring<T> {
  readonly #items: T[] = [];
  #start = 0;
  constructor(readonly capacity: number) {}
  push(x: T): void {
    if (this.#items.length < this.capacity) this.#items.push(x);
    else {
      this.#items[this.#start] = x;
      this.#start = (this.#start + 1) % this.capacity;
    }
  }
  toArray(): T[] {
    return [...this.#items.slice(this.#start), ...this.#items.slice(0, this.#start)];
  }
  get length(): number {
    return this.#items.length;
  }
}

/** At most this many sources get a ring (later ones are not plotted). */
export const MAX_SOURCES_PLOTTED = 64;

/** The page's history. */
export class History {
  readonly #clock: Ring<ClockPoint>;
  readonly #sources = new Map<string, Ring<SourcePoint>>();
  constructor(readonly capacity: number) {
    this.#clock = new Ring(capacity);
  }
  addClock(p: ClockPoint): void {
    this.#clock.push(p);
  }
  addSource(name: string, p: SourcePoint): void {
    let r = this.#sources.get(name);
    if (!r) {
      if (this.#sources.size >= MAX_SOURCES_PLOTTED) return;
      r = new Ring(this.capacity);
      this.#sources.set(name, r);
    }
    r.push(p);
  }
  /** Forget sources not in `names` (removed sources). */
  retain(names: ReadonlySet<string>): void {
    for (const k of [...this.#sources.keys()]) if (!names.has(k)) this.#sources.delete(k);
  }
  toJson(): { clock: ClockPoint[]; sources: Record<string, SourcePoint[]> } {
    const sources: Record<string, SourcePoint[]> = {};
    for (const [k, r] of this.#sources) sources[k] = r.toArray();
    return { clock: this.#clock.toArray(), sources };
  }
}
