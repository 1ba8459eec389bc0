/**
 * NTS-KE helpers, horae's equivalent of chronyd's `ntsprocesses` (chrony.conf(5):
 * helper processes that handle the clients' NTS-KE requests so that they use
 * the other cores; 0: the main process handles them; default 1). As in
 * chronyd, the main thread accepts each connection and admits it (client
 * log, `ntsratelimit`, `maxntsconnections`), then hands it to a helper: here
 * a Deno Worker of the same process (`nts_ke_helper_worker.ts`), which gets
 * the descriptor number (descriptors are process-wide) through a shared ring
 * and an eventfd (`nts_ke_helper_ring.ts`: no message per connection), does
 * the TLS handshake and answers with cookies sealed by its copy of the
 * server keys; it reports the outcomes in one message per round of its loop.
 * The main thread keeps the key ring (rotation, `ntsdumpdir`) and sends the
 * keys to every helper after each rotation or reload. A helper takes a new
 * connection while it serves fewer than `maxntsconnections` (per process, as
 * chronyd); the least busy one gets it.
 *
 * When a Worker cannot start (e.g. a bundle without the worker module), the
 * pool reports it and the caller serves NTS-KE in the main thread.
 *
 * @example
 * ```ts
 * import { NtsKeHelpers } from "./nts_ke_helpers.ts";
 * import { ServerKeyRing } from "../nts/cookie.ts";
 * const ring = ServerKeyRing.fresh(crypto.getRandomValues(new Uint8Array(144)), 0n, 604800);
 * const helpers = await NtsKeHelpers.start(2, {
 *   pairs: [{ certFile: "cert.pem", keyFile: "key.pem" }],
 *   aeads: [15],
 *   keyRing: ring,
 *   maxConnections: 100,
 * });
 * await helpers.close();
 * ```
 * @module
 */
import type { CertKeyPair } from "../../ffi/libssl.ts";
import type { ServerKey, ServerKeyRing } from "../nts/cookie.ts";
import type { HelperReply, HelperRequest } from "./nts_ke_helper_worker.ts";
import { close, eventfd, eventfdWrite } from "../../ffi/libc.ts";
import { RING_BUSY, RING_MESSAGES, RING_SLOTS, RING_TAIL } from "./nts_ke_helper_ring.ts";

/** How long a helper may take to start, ms. */
const START_TIMEOUT_MS = 20_000;
/** How long a helper may take to close, ms. */
const CLOSE_TIMEOUT_MS = 2_000;

/** Options of {@link NtsKeHelpers.start}. */
export interface NtsKeHelperOptions {
  /** `ntsservercert`/`ntsserverkey` pairs. */
  pairs: readonly CertKeyPair[];
  /** `ntsaeads` the server accepts. */
  aeads: readonly number[];
  /** The main thread's key ring (the helpers get copies of its keys). */
  keyRing: ServerKeyRing;
  /** `maxntsconnections`: sessions per helper at once. */
  maxConnections: number;
  /** `ntsntpserver`. */
  ntpServer?: string;
  /** NTP port announced when not 123. */
  ntpPort?: number;
  /** Session time limit, ms (default the server's 2 s). */
  timeoutMs?: number;
  /** A started helper failed (uncaught error): it gets no more connections. */
  onHelperError?: (message: string) => void;
  /** A session's outcome (for the NTS-KE server's counters) and its error's text. */
  onResult?: (result: "served" | "failed" | null, error?: string) => void;
}

interface Helper {
  worker: Worker;
  /** The descriptors handed over (see nts_ke_helper_ring.ts), and its mask. */
  ring: Uint32Array;
  mask: number;
  /** The eventfd that wakes the helper's loop. */
  wakeFd: number;
  /** A wake-up is due at the end of this turn (connections pushed). */
  wakePending: boolean;
  /** It answered "close": its loop no longer uses `wakeFd`. */
  finished: boolean;
  /** Started, then failed (an uncaught error): given no more connections. */
  dead: boolean;
  /** Sessions served (tests check that every helper serves). */
  served: number;
  closed: Promise<void>;
  closedResolve: () => void;
}

/** Copies of the ring's keys for another thread (the helpers' and `serverworkers`' "keys" message). */
export function copyKeys(ring: ServerKeyRing): ServerKey[] {
  return ring.all.map((k) => ({ ...k, key: k.key.slice() })); // with a 4.8 key's AEAD
}

/** The running helpers; see the module doc. */
export class NtsKeHelpers {
  private next = 0;

  private constructor(
    private readonly helpers: Helper[],
    private readonly options: NtsKeHelperOptions,
  ) {}

  /**
   * Starts `count` helpers (at least 1) and waits until each has its TLS
   * context. Throws when one cannot start (the caller then serves in the
   * main thread); started ones are terminated then.
   */
  static async start(count: number, options: NtsKeHelperOptions): Promise<NtsKeHelpers> {
    const helpers: Helper[] = [];
    const pool = new NtsKeHelpers(helpers, options);
    try {
      for (let i = 0; i < Math.max(1, count); i++) helpers.push(await pool.spawn());
    } catch (e) {
      for (const h of helpers) pool.stop(h);
      throw e;
    }
    return pool;
  }

  private spawn(): Promise<Helper> {
    const worker = new Worker(new URL("./nts_ke_helper_worker.ts", import.meta.url).href, {
      type: "module",
    });
    let closedResolve!: () => void;
    const closed = new Promise<void>((r) => (closedResolve = r));
    let cap = 1;
    while (cap < this.options.maxConnections) cap *= 2;
    const ring = new Uint32Array(new SharedArrayBuffer((RING_SLOTS + cap) * 4));
    const h: Helper = {
      worker,
      ring,
      mask: cap - 1,
      wakeFd: eventfd(0),
      wakePending: false,
      finished: false,
      dead: false,
      served: 0,
      closed,
      closedResolve,
    };
    let started = false;
    return new Promise<Helper>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.stop(h);
        reject(new Error("NTS-KE helper did not start"));
      }, START_TIMEOUT_MS);
      worker.onerror = (e) => {
        e.preventDefault();
        clearTimeout(timer);
        this.stop(h);
        h.closedResolve();
        if (!started) {
          reject(new Error(`NTS-KE helper failed: ${e.message}`));
          return;
        }
        // its sessions are lost (their descriptors with it); the others, or the main thread, go on
        h.dead = true;
        this.options.onHelperError?.(e.message);
      };
      worker.onmessage = (e: MessageEvent<HelperReply>) => {
        const m = e.data;
        if (m.type === "ready") {
          clearTimeout(timer);
          started = true;
          resolve(h);
        } else if (m.type === "error") {
          clearTimeout(timer);
          this.stop(h);
          reject(new Error(m.message));
        } else if (m.type === "done") {
          h.served += m.served;
          const on = this.options.onResult;
          if (on) {
            for (let i = 0; i < m.served; i++) on("served");
            for (let i = 0; i < m.refused; i++) on(null);
            for (let i = 0; i < m.failed; i++) on("failed", m.errors[i]);
          }
        } else if (m.type === "closed") {
          h.finished = true;
          h.closedResolve();
        }
      };
      const o = this.options;
      this.post(h, {
        type: "init",
        ring,
        wakeFd: h.wakeFd,
        pairs: o.pairs.map((p) => ({ certFile: p.certFile, keyFile: p.keyFile })),
        aeads: [...o.aeads],
        ...(o.ntpServer !== undefined ? { ntpServer: o.ntpServer } : {}),
        ...(o.ntpPort !== undefined ? { ntpPort: o.ntpPort } : {}),
        ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
        keys: copyKeys(o.keyRing),
      });
    });
  }

  /** Posts `m` and wakes the helper's loop so that it lets its event loop take it. */
  private post(h: Helper, m: HelperRequest): void {
    h.worker.postMessage(m);
    Atomics.add(h.ring, RING_MESSAGES, 1);
    if (h.wakeFd >= 0) eventfdWrite(h.wakeFd);
  }

  /** Terminates a helper (woken first: a thread blocked in its wait ends only when it returns). */
  private stop(h: Helper): void {
    h.worker.terminate();
    if (h.wakeFd >= 0) {
      Atomics.add(h.ring, RING_MESSAGES, 1);
      eventfdWrite(h.wakeFd);
    }
  }

  /** False once every helper has failed (the caller then serves NTS-KE itself). */
  get alive(): boolean {
    return this.helpers.some((h) => !h.dead);
  }

  /** Number of helpers. */
  get size(): number {
    return this.helpers.length;
  }

  /** Sessions served by each helper so far. */
  get servedPerHelper(): number[] {
    return this.helpers.map((h) => h.served);
  }

  /**
   * Hands an admitted connection (its descriptor, ours from now on) to the
   * least busy helper; false when every helper serves `maxConnections`
   * already (the caller drops it). The connections taken in one turn of the
   * event loop (the listener accepts all that wait at once) go to each
   * helper in one message.
   */
  take(fd: number): boolean {
    // the least busy, ties taken in turn
    const n = this.helpers.length;
    let best: Helper | null = null, at = 0, least = 0;
    for (let k = 0; k < n; k++) {
      const i = (this.next + k) % n;
      const h = this.helpers[i]!;
      if (h.dead) continue;
      const busy = Atomics.load(h.ring, RING_BUSY);
      if (best === null || busy < least) {
        best = h;
        at = i;
        least = busy;
      }
    }
    if (best === null || least >= this.options.maxConnections) return false;
    this.next = (at + 1) % n;
    Atomics.add(best.ring, RING_BUSY, 1);
    // at most maxConnections in flight (busy), so the ring (as large) has room
    const r = best.ring, tail = r[RING_TAIL]!;
    r[RING_SLOTS + (tail & best.mask)] = fd;
    Atomics.store(r, RING_TAIL, tail + 1);
    if (!best.wakePending) {
      best.wakePending = true;
      const h = best;
      queueMicrotask(() => {
        h.wakePending = false;
        if (h.wakeFd >= 0) eventfdWrite(h.wakeFd);
      });
    }
    return true;
  }

  /** Sends the ring's keys to every helper (after a rotation or reload). */
  updateKeys(): void {
    const keys = copyKeys(this.options.keyRing);
    for (const h of this.helpers) this.post(h, { type: "keys", keys });
  }

  /** Aborts the helpers' sessions and stops them. */
  async close(): Promise<void> {
    for (const h of this.helpers) this.post(h, { type: "close" });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((r) => (timer = setTimeout(r, CLOSE_TIMEOUT_MS)));
    await Promise.race([Promise.all(this.helpers.map((h) => h.closed)), late]);
    clearTimeout(timer);
    for (const h of this.helpers) {
      this.stop(h);
      // (one that did not answer may still read it: its descriptor is left open)
      if (h.finished) {
        close(h.wakeFd);
        h.wakeFd = -1;
      }
    }
  }
}
