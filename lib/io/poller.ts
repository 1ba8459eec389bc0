/**
 * The process-wide poller: file descriptors opened through `ffi/` (UDP
 * sockets, eventfds) are watched by one outstanding `poll()` call that runs on
 * Deno's FFI worker thread, so the event loop stays free. An eventfd in the set
 * wakes that call whenever the set changes. When `poll()` returns, the
 * callbacks of ready descriptors run synchronously on the JS thread; they must
 * drain their descriptor with non-blocking calls (MSG_DONTWAIT). After a round
 * in which every ready descriptor was one registered as `drains` (UDP
 * sockets), up to 4 more rounds use a checking `poll()` (timeout 0) on the JS
 * thread first: under load the sockets are ready again, and this saves the
 * worker thread's round trip. With nothing
 * registered no call is outstanding, so the process can exit, unless someone
 * holds the poller ({@link Poller.hold}): a client that opens a short-lived
 * socket per request holds it so the same worker thread stays parked in
 * `poll()` between requests, instead of Deno starting a new thread for each
 * request and ending it 10 s after (issue 12: an idle daemon sleeps).
 *
 * @example
 * ```ts
 * import { poller } from "./poller.ts";
 * async function watch(fd: number, drain: (fd: number) => void, drainErrors: (fd: number) => void) {
 *   poller.register(fd, () => drain(fd), () => drainErrors(fd));
 *   // ...
 *   await poller.unregister(fd); // before closing fd
 *   await poller.idle(); // optional: the worker-thread poll() has returned
 * }
 * ```
 * @module
 */

import { close, eventfd, eventfdRead, eventfdWrite, poll, pollAsync } from "../../ffi/libc.ts";
import { L, POLLFD } from "../../ffi/layout.ts";

/** Called when a descriptor is readable (POLLIN). */
export type ReadableCallback = () => void;
/** Called when a descriptor has POLLERR (e.g. TX timestamps on the error queue), POLLHUP or POLLNVAL. */
export type ErrorCallback = (revents: number) => void;

interface Entry {
  onReadable: ReadableCallback;
  onError: ErrorCallback | undefined;
  /** The callbacks drain the descriptor before they return (not in a later promise job). */
  drains: boolean;
}

/** Consecutive rounds served by a checking (timeout 0) poll() before the event loop runs. */
const SYNC_ROUNDS = 4;

/** Whether every descriptor with revents in `dv` (pollfds) is one whose callbacks drain it. */
function allDrain(dv: DataView, count: number, entries: (Entry | undefined)[]): boolean {
  for (let i = 1; i < count; i++) {
    if (dv.getInt16(i * POLLFD.size + POLLFD.revents, true) !== 0 && !entries[i]?.drains) {
      return false;
    }
  }
  return true;
}

/** Watches descriptors with one outstanding worker-thread `poll()`. */
export class Poller {
  readonly #entries = new Map<number, Entry>();
  #wakeFd = -1;
  #running: Promise<void> | null = null;
  /** A loop is between its start and its end (set before its first callback runs). */
  #active = false;
  #dirty = true;
  #fds = new Uint8Array(0);
  #fdsView = new DataView(this.#fds.buffer);
  #order: number[] = [];
  /** The registrations `#order` was built from (index 0, the eventfd, has none). */
  #orderEntries: (Entry | undefined)[] = [];
  #waiters: (() => void)[] = [];
  #holds = 0;
  /** Called with an exception thrown by a callback (default: console.error). */
  onCallbackError: (err: unknown) => void = (err) => console.error("poller callback:", err);

  /** poll() calls that returned so far (a spinning descriptor shows as thousands a second). */
  polls = 0;
  /** Poll loops started so far (each may cost Deno a new worker thread). */
  loops = 0;
  /** Rounds answered by a checking poll() since the last worker-thread one. */
  #syncRounds = 0;

  /** Number of registered descriptors. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Watches `fd` for POLLIN (`onReadable`) and POLLERR/POLLHUP/POLLNVAL
   * (`onError`, or `onReadable` when absent). Replaces an earlier registration.
   * `drains`: the callbacks empty the descriptor before they return (UDP
   * sockets), so a ready descriptor seen right after them is new work.
   */
  register(
    fd: number,
    onReadable: ReadableCallback,
    onError?: ErrorCallback,
    drains = false,
  ): void {
    this.#entries.set(fd, { onReadable, onError, drains });
    this.#changed();
  }

  /**
   * Stops watching `fd` (no-op when not registered). Call before closing it.
   * The promise resolves once no outstanding `poll()` still includes `fd`
   * (awaiting it is optional; tests do, so no FFI call outlives them).
   */
  unregister(fd: number): Promise<void> {
    if (!this.#entries.delete(fd)) return Promise.resolve();
    this.#changed();
    return this.#afterCurrentPoll();
  }

  /**
   * Keeps the `poll()` call outstanding (on the eventfd alone) while nothing
   * is registered, until the returned function is called (once; later calls
   * do nothing). While held, the pending call keeps the process alive.
   */
  hold(): () => void {
    this.#holds++;
    if (!this.#active) this.#changed();
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#holds--;
      if (this.#holds === 0 && this.#entries.size === 0) this.#changed();
    };
  }

  /** Resolves once no `poll()` call is outstanding (immediately when idle). */
  idle(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }

  #afterCurrentPoll(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #wakeWaiters(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const resolve of w) resolve();
  }

  #changed(): void {
    this.#dirty = true;
    if (this.#active) {
      if (this.#wakeFd >= 0) eventfdWrite(this.#wakeFd); // else: restarted by the loop's finally
    } else if (this.#wanted()) {
      // #active is set by #loop's first, synchronous step: a callback run in the loop's
      // first (checking) round, before #loop() has returned its promise, sees it.
      const running: Promise<void> = this.#loop().finally(() => {
        if (this.#running === running) this.#running = null;
        // a registration after the loop's last check restarts it
        if (!this.#active && this.#wanted()) this.#changed();
      });
      this.#running = running;
    }
  }

  #wanted(): boolean {
    return this.#entries.size > 0 || this.#holds > 0;
  }

  #rebuild(): void {
    this.#order = [this.#wakeFd, ...this.#entries.keys()];
    this.#orderEntries = [undefined, ...this.#entries.values()];
    this.#fds = new Uint8Array(this.#order.length * POLLFD.size);
    const dv = this.#fdsView = new DataView(this.#fds.buffer);
    this.#order.forEach((fd, i) => {
      dv.setInt32(i * POLLFD.size + POLLFD.fd, fd, true);
      dv.setInt16(i * POLLFD.size + POLLFD.events, L.POLLIN, true);
    });
    this.#dirty = false;
  }

  async #loop(): Promise<void> {
    this.loops++;
    this.#active = true;
    this.#wakeFd = eventfd(0);
    try {
      while (this.#wanted()) {
        if (this.#dirty) this.#rebuild();
        const fds = this.#fds, dv = this.#fdsView;
        const order = this.#order;
        const entries = this.#orderEntries;
        // Under load the descriptors are ready again by the time the callbacks return: a
        // poll() that only checks (on this thread) saves the worker-thread round trip
        // (~40 µs). At most SYNC_ROUNDS such rounds in a row, then the event loop runs;
        // and only when every ready descriptor drains in its callback (a TCP wait resolves
        // a promise whose reader has not run yet: that one waits for the event loop).
        let n = this.#syncRounds < SYNC_ROUNDS ? poll(fds, order.length, 0) : 0;
        if (n > 0 && !allDrain(dv, order.length, entries)) n = 0;
        if (n > 0) this.#syncRounds++;
        else {
          this.#syncRounds = 0;
          n = await pollAsync(fds, order.length, -1);
        }
        this.polls++;
        this.#wakeWaiters();
        if (n <= 0) continue; // EINTR
        for (let i = 0; i < order.length; i++) {
          const revents = dv.getInt16(i * POLLFD.size + POLLFD.revents, true);
          if (revents === 0) continue;
          dv.setInt16(i * POLLFD.size + POLLFD.revents, 0, true);
          const fd = order[i]!;
          if (i === 0) {
            eventfdRead(fd);
            continue;
          }
          const e = this.#entries.get(fd);
          // Unregistered while polling, or closed and its number reused by a new
          // registration: these revents belong to the old descriptor (the next
          // poll() watches the new one).
          if (!e || e !== entries[i]) continue;
          try {
            // Errors first: a request's TX timestamp (error queue) must be known
            // before its reply (POLLIN) is turned into a measurement.
            if (revents & (L.POLLERR | L.POLLHUP | L.POLLNVAL)) {
              if (e.onError) e.onError(revents);
              else if (!(revents & L.POLLIN)) e.onReadable();
            }
            if (revents & L.POLLIN) e.onReadable();
          } catch (err) {
            this.onCallbackError(err);
          }
          if (revents & L.POLLNVAL && this.#entries.get(fd) === e) {
            this.#entries.delete(fd); // closed without unregistering: stop spinning on it
            this.#dirty = true;
          }
        }
      }
    } finally {
      this.#active = false;
      close(this.#wakeFd);
      this.#wakeFd = -1;
      this.#dirty = true;
      this.#wakeWaiters();
    }
  }
}

/** The one poller of the process. */
export const poller: Poller = new Poller();
