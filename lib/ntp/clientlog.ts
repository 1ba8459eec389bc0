/**
 * Server-side memory of clients (chrony's client log): per-address counters
 * for `chronyc clients`, global counters for `chronyc serverstats`, response
 * rate limiting (`ratelimit`, `cmdratelimit`, `ntsratelimit`) and the
 * timestamps that interleaved mode needs. Memory is bounded by
 * `clientloglimit` (bytes); `noclientlog` keeps only the global counters.
 *
 * Layout: struct-of-arrays in typed arrays, `RECORD_BYTES` per record, a
 * power-of-two number of records split in buckets of `BUCKET_SIZE` slots.
 * An address hashes (with a seed passed in) to one bucket; a new address takes
 * a free slot, else the table doubles while it may, else the least recently
 * seen record of the bucket is dropped ("Client log records dropped"). A flood
 * of distinct addresses thus never grows memory past the limit, and a lookup
 * compares at most `BUCKET_SIZE` addresses.
 *
 * Intervals are averaged in the log2 domain, in quarters of a log2 second, the
 * way chronyd's `clients` shows them (measured against chronyd 4.3 with
 * requests at varying spacings): a shorter interval than the average moves it
 * a quarter step down per request, a longer one moves it at once halfway (in
 * rate) towards the new interval, and at most 2.5 log2 s below it. `Int` is
 * that average; `IntL` the same over the intervals
 * from a rate-limited (dropped) NTP request to the client's next one: how fast
 * a limited client comes back. As in chronyd, it stays unknown ("-") until a
 * request of the client has been limited, so always without `ratelimit`.
 *
 * Rate limiting (our reading of chrony.conf(5) `ratelimit`): a token bucket per
 * address and service, refilled at one token per 2^interval seconds, holding at
 * most `burst` tokens (a new address starts full). A request with a token is
 * answered; one without is dropped, except that with probability 2^-leak it is
 * still answered ("leak"). With `kod`, a dropped NTP request gets a RATE
 * kiss-o'-death instead of silence. chrony's suspension of limiting for clients
 * that poll faster when unanswered is not modelled.
 *
 * Sans-IO: time (`now`, float seconds on any steady scale) and randomness
 * (`random()` in [0, 1), `seed`) come in from the caller.
 *
 * @example
 * ```ts
 * import { ClientLog } from "./clientlog.ts";
 * const log = new ClientLog({ limitBytes: 524288, seed: 1, random: () => 0.5 });
 * const addr = new Uint8Array([192, 0, 2, 1]);
 * const { slot, decision } = log.ntpAccess(addr, 0, 4, 100.0);
 * decision; // RATE_RESPOND
 * slot >= 0; // true: the client has a record
 * log.clients(101.0)[0]?.address; // "192.0.2.1"
 * ```
 * @module
 */
import { formatIpBytes } from "../net/address.ts";

/** Bytes of memory per client record (our typed-array layout, rounded up). */
export const RECORD_BYTES = 128;
/** Slots per hash bucket. */
export const BUCKET_SIZE = 16;
/** chrony.conf(5): clientloglimit default 524288 bytes. */
export const DEFAULT_CLIENTLOG_LIMIT = 524288;
/** chrony.conf(5): the maximum effective clientloglimit is 2 GB (16777216 records). */
export const MAX_RECORDS = 16777216;

/** Decision for one request: answer it. */
export const RATE_RESPOND = 0;
/** Decision for one request: drop it silently (rate limited). */
export const RATE_DROP = 1;
/** Decision for one request: answer with a RATE kiss-o'-death (rate limited, `kod`). */
export const RATE_KOD = 2;
/** What to do with a request after rate limiting. */
export type RateDecision = typeof RATE_RESPOND | typeof RATE_DROP | typeof RATE_KOD;

/**
 * What one {@link ClientLog.ntpAccess} (or `cmdAccess`, `ntsKeAccess`) call
 * returns: the client's record and the verdict on this request. An object,
 * not two numbers, so that the slot cannot be read as the verdict (a bug we
 * had) nor a verdict outlive its request (it used to sit in a field of the log).
 */
export interface ClientAccess {
  /** The client's record (for the interleaved-mode timestamps), or -1 with `noclientlog`. */
  readonly slot: number;
  /** Rate-limit verdict on this request. */
  readonly decision: RateDecision;
}

/** The access result with no record (`noclientlog`): always answered. */
const UNLOGGED: ClientAccess = Object.freeze({ slot: -1, decision: RATE_RESPOND });

/**
 * A {@link ClientAccess} that its owner (the NTP server, one per packet loop)
 * passes to {@link ClientLog.ntpAccess} to be filled in place: no object is
 * allocated per request. Read it before the next access call.
 */
export class ClientAccessResult implements ClientAccess {
  slot = -1;
  decision: RateDecision = RATE_RESPOND;
}

/** `into` filled with the verdict, or (no `into`) a new result. */
function accessResult(
  into: ClientAccessResult | undefined,
  slot: number,
  decision: RateDecision,
): ClientAccess {
  if (into === undefined) return { slot, decision };
  into.slot = slot;
  into.decision = decision;
  return into;
}

/** `ratelimit` options (chrony.conf(5)). */
export interface RateLimit {
  /** Minimum interval between responses, log2 seconds (-19..12; default 3). */
  interval: number;
  /** Responses allowed in a burst (1..255; default 8). */
  burst: number;
  /** Leak rate: 2^-leak of would-be-dropped requests are still answered (1..4; default 2). */
  leak: number;
  /** Answer limited NTP requests with a RATE kiss-o'-death instead of dropping. */
  kod?: boolean;
}

/** Options of {@link ClientLog}. */
export interface ClientLogOptions {
  /** `clientloglimit` in bytes (default 524288). */
  limitBytes?: number;
  /** `noclientlog`: keep no per-client records (no limiting, no interleaved mode). */
  disabled?: boolean;
  /** `ratelimit` for NTP; absent: not limited. */
  ntpRateLimit?: RateLimit;
  /** `cmdratelimit`; absent: not limited. */
  cmdRateLimit?: RateLimit;
  /** `ntsratelimit`; absent: not limited. */
  ntsRateLimit?: RateLimit;
  /** Hash seed (random, from the daemon) so that clients cannot aim at one bucket. */
  seed: number;
  /** Uniform random numbers in [0, 1) for the leak. */
  random: () => number;
}

/** One row of `chronyc clients`. Intervals are log2 seconds, null when unknown ("-"). */
export interface ClientReport {
  address: string;
  ntpHits: number;
  ntpDrops: number;
  ntpIntervalLog2: number | null;
  ntpIntervalLimitedLog2: number | null;
  /** Seconds since the last NTP request, null if none. */
  lastNtpAgo: number | null;
  cmdHits: number;
  cmdDrops: number;
  cmdIntervalLog2: number | null;
  lastCmdAgo: number | null;
  ntsKeHits: number;
  ntsKeDrops: number;
  ntsKeIntervalLog2: number | null;
  lastNtsKeAgo: number | null;
}

/** `chronyc serverstats` (chrony 4.3 field names in the comments). */
export interface ServerStatsReport {
  /** NTP packets received */
  ntpHits: number;
  /** NTP packets dropped */
  ntpDrops: number;
  /** Command packets received */
  cmdHits: number;
  /** Command packets dropped */
  cmdDrops: number;
  /** Client log records dropped */
  logDrops: number;
  /** NTS-KE connections accepted */
  ntsKeHits: number;
  /** NTS-KE connections dropped */
  ntsKeDrops: number;
  /** Authenticated NTP packets */
  ntpAuthHits: number;
  /** Interleaved NTP packets */
  ntpInterleavedHits: number;
  /** NTP timestamps held */
  ntpTimestamps: number;
  /** NTP timestamp span (seconds between the oldest and newest held) */
  ntpSpanSeconds: number;
}

const SERVICE_NTP = 0;
const SERVICE_CMD = 1;
const SERVICE_NTSKE = 2;
type Service = typeof SERVICE_NTP | typeof SERVICE_CMD | typeof SERVICE_NTSKE;

/** Interval averages are stored as log2 seconds times this scale (quarters) in an Int16. */
const RATE_SCALE = 4;
/** A longer interval leaves the average at most this far below it (2.5 log2 s). */
const RATE_LAG_MAX = 10;
const RATE_UNKNOWN = -32768;
const RATE_MIN = -30 * RATE_SCALE;
const RATE_MAX = 30 * RATE_SCALE;

/** Typed arrays of one table size. */
class Table {
  readonly n: number;
  readonly family: Uint8Array;
  readonly addr: Uint32Array;
  readonly last: Float64Array; // [3n]: per service last hit, NaN = never
  readonly hits: Uint32Array; // [3n]
  readonly drops: Uint32Array; // [3n]
  readonly rate: Int16Array; // [3n] log2 interval * RATE_SCALE
  readonly tokens: Float32Array; // [3n]
  readonly lastResp: Float64Array; // last NTP request if it was dropped, else NaN (IntL)
  readonly rateL: Int16Array;
  readonly ts: Uint32Array; // [4n]: rx hi, rx lo, tx hi, tx lo of the last reply
  readonly tsAt: Float64Array; // when the timestamps were saved; NaN = none held
  constructor(n: number) {
    this.n = n;
    this.family = new Uint8Array(n);
    this.addr = new Uint32Array(4 * n);
    this.last = new Float64Array(3 * n);
    this.hits = new Uint32Array(3 * n);
    this.drops = new Uint32Array(3 * n);
    this.rate = new Int16Array(3 * n);
    this.tokens = new Float32Array(3 * n);
    this.lastResp = new Float64Array(n);
    this.rateL = new Int16Array(n);
    this.ts = new Uint32Array(4 * n);
    this.tsAt = new Float64Array(n);
  }
  /** Copies record `i` of `src` into slot `j` of this table. */
  copyFrom(src: Table, i: number, j: number): void {
    this.family[j] = src.family[i] ?? 0;
    this.addr.set(src.addr.subarray(4 * i, 4 * i + 4), 4 * j);
    this.last.set(src.last.subarray(3 * i, 3 * i + 3), 3 * j);
    this.hits.set(src.hits.subarray(3 * i, 3 * i + 3), 3 * j);
    this.drops.set(src.drops.subarray(3 * i, 3 * i + 3), 3 * j);
    this.rate.set(src.rate.subarray(3 * i, 3 * i + 3), 3 * j);
    this.tokens.set(src.tokens.subarray(3 * i, 3 * i + 3), 3 * j);
    this.lastResp[j] = src.lastResp[i] ?? NaN;
    this.rateL[j] = src.rateL[i] ?? RATE_UNKNOWN;
    this.ts.set(src.ts.subarray(4 * i, 4 * i + 4), 4 * j);
    this.tsAt[j] = src.tsAt[i] ?? NaN;
  }
}

/** Largest power of two of records that fits `limitBytes` (at least one bucket). */
export function recordsForLimit(limitBytes: number): number {
  let n = BUCKET_SIZE;
  while (n * 2 * RECORD_BYTES <= limitBytes && n * 2 <= MAX_RECORDS) n *= 2;
  return n;
}

function readU32(bytes: Uint8Array, o: number): number {
  return (((bytes[o] ?? 0) << 24) | ((bytes[o + 1] ?? 0) << 16) | ((bytes[o + 2] ?? 0) << 8) |
    (bytes[o + 3] ?? 0)) >>> 0;
}

function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The client log; see the module documentation. */
export class ClientLog {
  readonly maxRecords: number;
  readonly enabled: boolean;
  #t: Table;
  #seed: number;
  #random: () => number;
  #limits: [RateLimit | null, RateLimit | null, RateLimit | null];
  #count = 0;
  // serverstats
  #hits = [0, 0, 0];
  #drops = [0, 0, 0];
  #logDrops = 0;
  #authHits = 0;
  #interleavedHits = 0;
  // scratch key of the address being looked up
  #k0 = 0;
  #k1 = 0;
  #k2 = 0;
  #k3 = 0;

  constructor(options: ClientLogOptions) {
    this.maxRecords = recordsForLimit(options.limitBytes ?? DEFAULT_CLIENTLOG_LIMIT);
    this.enabled = options.disabled !== true;
    this.#seed = options.seed | 0;
    this.#random = options.random;
    this.#limits = [
      options.ntpRateLimit ?? null,
      options.cmdRateLimit ?? null,
      options.ntsRateLimit ?? null,
    ];
    this.#t = new Table(Math.min(this.maxRecords, 4 * BUCKET_SIZE));
    this.#reset(this.#t, 0, this.#t.n);
  }

  /** Number of client records held now. */
  get size(): number {
    return this.#count;
  }

  /** Records the table has room for now (grows up to {@link maxRecords}). */
  get capacity(): number {
    return this.#t.n;
  }

  /** Bytes held by the record arrays now. */
  get bytes(): number {
    return this.#t.n * RECORD_BYTES;
  }

  #reset(t: Table, from: number, to: number): void {
    t.family.fill(0, from, to);
    t.last.fill(NaN, 3 * from, 3 * to);
    t.rate.fill(RATE_UNKNOWN, 3 * from, 3 * to);
    t.rateL.fill(RATE_UNKNOWN, from, to);
    t.lastResp.fill(NaN, from, to);
    t.tsAt.fill(NaN, from, to);
  }

  #loadKey(bytes: Uint8Array, offset: number, family: 4 | 6): number {
    if (family === 4) {
      this.#k0 = readU32(bytes, offset);
      this.#k1 = this.#k2 = this.#k3 = 0;
    } else {
      this.#k0 = readU32(bytes, offset);
      this.#k1 = readU32(bytes, offset + 4);
      this.#k2 = readU32(bytes, offset + 8);
      this.#k3 = readU32(bytes, offset + 12);
    }
    let h = mix(this.#seed ^ family);
    h = mix(h ^ this.#k0);
    if (family === 6) {
      h = mix(h ^ this.#k1);
      h = mix(h ^ this.#k2);
      h = mix(h ^ this.#k3);
    }
    // Only the low bits pick a bucket (at most 2^20 buckets): 30 bits keep the
    // value a small integer, which V8 returns without allocating a number.
    return h & 0x3fffffff;
  }

  /** Finds or creates the record of the key in #k*, returns its slot. */
  #lookup(family: 4 | 6, hash: number, now: number): number {
    for (;;) {
      const t = this.#t;
      const first = (hash & (t.n / BUCKET_SIZE - 1)) * BUCKET_SIZE;
      let free = -1;
      for (let s = first; s < first + BUCKET_SIZE; s++) {
        const f = t.family[s];
        if (f === 0) {
          if (free < 0) free = s;
          continue;
        }
        if (
          f === family && t.addr[4 * s] === this.#k0 && t.addr[4 * s + 1] === this.#k1 &&
          t.addr[4 * s + 2] === this.#k2 && t.addr[4 * s + 3] === this.#k3
        ) return s;
      }
      if (free >= 0) {
        this.#init(free, family, now);
        this.#count++;
        return free;
      }
      if (t.n < this.maxRecords) {
        this.#grow();
        continue;
      }
      // Bucket full at the limit: replace the least recently seen record.
      let victim = first, oldest = Infinity;
      for (let s = first; s < first + BUCKET_SIZE; s++) {
        const seen = Math.max(
          t.last[3 * s] || -Infinity,
          t.last[3 * s + 1] || -Infinity,
          t.last[3 * s + 2] || -Infinity,
        );
        if (seen < oldest) {
          oldest = seen;
          victim = s;
        }
      }
      this.#logDrops++;
      this.#reset(t, victim, victim + 1);
      this.#init(victim, family, now);
      return victim;
    }
  }

  #init(s: number, family: 4 | 6, _now: number): void {
    const t = this.#t;
    t.family[s] = family;
    t.addr[4 * s] = this.#k0;
    t.addr[4 * s + 1] = this.#k1;
    t.addr[4 * s + 2] = this.#k2;
    t.addr[4 * s + 3] = this.#k3;
    for (let v = 0; v < 3; v++) {
      t.hits[3 * s + v] = 0;
      t.drops[3 * s + v] = 0;
      t.tokens[3 * s + v] = this.#limits[v]?.burst ?? 0;
    }
  }

  #grow(): void {
    // the key being looked up is in #k*, which the moves below reuse: kept and put back
    const k0 = this.#k0, k1 = this.#k1, k2 = this.#k2, k3 = this.#k3;
    const old = this.#t;
    const t = new Table(old.n * 2);
    this.#reset(t, 0, t.n);
    const buckets = t.n / BUCKET_SIZE;
    for (let i = 0; i < old.n; i++) {
      const f = old.family[i] ?? 0;
      if (f === 0) continue;
      this.#k0 = old.addr[4 * i] ?? 0;
      this.#k1 = old.addr[4 * i + 1] ?? 0;
      this.#k2 = old.addr[4 * i + 2] ?? 0;
      this.#k3 = old.addr[4 * i + 3] ?? 0;
      let h = mix(this.#seed ^ f);
      h = mix(h ^ this.#k0);
      if (f === 6) h = mix(mix(mix(h ^ this.#k1) ^ this.#k2) ^ this.#k3);
      const first = (h & (buckets - 1)) * BUCKET_SIZE;
      for (let s = first; s < first + BUCKET_SIZE; s++) {
        if (t.family[s] === 0) {
          t.copyFrom(old, i, s);
          break;
        }
      }
    }
    this.#t = t;
    this.#k0 = k0;
    this.#k1 = k1;
    this.#k2 = k2;
    this.#k3 = k3;
  }

  #access(
    service: Service,
    bytes: Uint8Array,
    offset: number,
    family: 4 | 6,
    now: number,
    into: ClientAccessResult | undefined,
  ): ClientAccess {
    this.#hits[service]!++;
    if (!this.enabled) return into === undefined ? UNLOGGED : accessResult(into, -1, RATE_RESPOND);
    const s = this.#lookup(family, this.#loadKey(bytes, offset, family), now);
    const t = this.#t, i = 3 * s + service;
    const prev = t.last[i] ?? NaN;
    t.hits[i] = (t.hits[i] ?? 0) + 1;
    t.last[i] = now;
    const elapsed = now - prev; // NaN for the first hit
    if (elapsed >= 0) t.rate[i] = averageRate(t.rate[i] ?? RATE_UNKNOWN, elapsed);
    const limit = this.#limits[service];
    if (limit !== null) {
      let tokens = t.tokens[i] ?? 0;
      if (elapsed > 0) tokens = Math.min(limit.burst, tokens + elapsed / 2 ** limit.interval);
      if (tokens >= 1) {
        t.tokens[i] = tokens - 1;
      } else {
        t.tokens[i] = tokens;
        if (this.#random() >= 2 ** -limit.leak) {
          const decision = limit.kod === true && service === SERVICE_NTP ? RATE_KOD : RATE_DROP;
          t.drops[i] = (t.drops[i] ?? 0) + 1;
          this.#drops[service]!++;
          if (service === SERVICE_NTP) this.#limitedInterval(t, s, now, true);
          return accessResult(into, s, decision);
        }
      }
    }
    if (service === SERVICE_NTP) this.#limitedInterval(t, s, now, false);
    return accessResult(into, s, RATE_RESPOND);
  }

  /** IntL: averages the interval since the previous request if that one was dropped. */
  #limitedInterval(t: Table, s: number, now: number, dropped: boolean): void {
    const e = now - (t.lastResp[s] ?? NaN); // NaN unless the previous request was dropped
    if (e >= 0) t.rateL[s] = averageRate(t.rateL[s] ?? RATE_UNKNOWN, e);
    t.lastResp[s] = dropped ? now : NaN;
  }

  /**
   * Logs an NTP request from the address in `bytes[offset..]` (4 bytes for
   * family 4, 16 for 6) at `now` (seconds) and applies `ratelimit`. Returns
   * the client's slot (-1 with `noclientlog`) and the verdict on this request:
   * `into` filled in place when given (the server's packet loop: nothing
   * allocated but the table when it grows), else a new small result.
   */
  ntpAccess(
    bytes: Uint8Array,
    offset: number,
    family: 4 | 6,
    now: number,
    into?: ClientAccessResult,
  ): ClientAccess {
    return this.#access(SERVICE_NTP, bytes, offset, family, now, into);
  }

  /** As {@link ntpAccess}, for a command (cmdmon) request and `cmdratelimit`. */
  cmdAccess(bytes: Uint8Array, offset: number, family: 4 | 6, now: number): ClientAccess {
    return this.#access(SERVICE_CMD, bytes, offset, family, now, undefined);
  }

  /** As {@link ntpAccess}, for an NTS-KE connection and `ntsratelimit`. */
  ntsKeAccess(bytes: Uint8Array, offset: number, family: 4 | 6, now: number): ClientAccess {
    return this.#access(SERVICE_NTSKE, bytes, offset, family, now, undefined);
  }

  /** Counts a command request that is not logged per client (Unix socket): "Command packets received". */
  countCommand(): void {
    this.#hits[SERVICE_CMD]!++;
  }

  /** Counts an authenticated NTP request ("Authenticated NTP packets"). */
  countAuthenticated(): void {
    this.#authHits++;
  }

  /** Counts a request detected as interleaved ("Interleaved NTP packets"). */
  countInterleaved(): void {
    this.#interleavedHits++;
  }

  /**
   * Whether `slot` holds timestamps of a reply whose receive timestamp equals
   * the NTP timestamp (hi, lo): the test for an interleaved request (its
   * origin names our previous receive timestamp).
   */
  matchesHeldRx(slot: number, hi: number, lo: number): boolean {
    const t = this.#t;
    return slot >= 0 && !Number.isNaN(t.tsAt[slot] ?? NaN) && t.ts[4 * slot] === hi &&
      t.ts[4 * slot + 1] === lo;
  }

  /** High word of the transmit timestamp held for `slot`. */
  heldTxHi(slot: number): number {
    return this.#t.ts[4 * slot + 2] ?? 0;
  }

  /** Low word of the transmit timestamp held for `slot`. */
  heldTxLo(slot: number): number {
    return this.#t.ts[4 * slot + 3] ?? 0;
  }

  /**
   * Holds the receive and transmit NTP timestamps of the reply just sent to
   * `slot` (for its next, interleaved request) at `now` seconds.
   */
  holdTimestamps(
    slot: number,
    rx: { hi: number; lo: number },
    tx: { hi: number; lo: number },
    now: number,
  ): void {
    this.holdRaw(slot, rx.hi, rx.lo, tx.hi, tx.lo, now);
  }

  /** As {@link holdTimestamps}, with the words as numbers (hot path). */
  holdRaw(slot: number, rxHi: number, rxLo: number, txHi: number, txLo: number, now: number): void {
    if (slot < 0) return;
    const t = this.#t;
    t.ts[4 * slot] = rxHi;
    t.ts[4 * slot + 1] = rxLo;
    t.ts[4 * slot + 2] = txHi;
    t.ts[4 * slot + 3] = txLo;
    t.tsAt[slot] = now;
  }

  /**
   * Replaces the held transmit timestamp with a better one (kernel TX
   * timestamp) if `slot` still holds the reply whose receive timestamp is
   * (rxHi, rxLo).
   */
  improveTx(slot: number, rxHi: number, rxLo: number, txHi: number, txLo: number): void {
    if (!this.matchesHeldRx(slot, rxHi, rxLo)) return;
    this.#t.ts[4 * slot + 2] = txHi;
    this.#t.ts[4 * slot + 3] = txLo;
  }

  /** `chronyc serverstats` figures. */
  serverStats(): ServerStatsReport {
    const t = this.#t;
    let held = 0, lo = Infinity, hi = -Infinity;
    for (let s = 0; s < t.n; s++) {
      const at = t.tsAt[s] ?? NaN;
      if (t.family[s] === 0 || Number.isNaN(at)) continue;
      held++;
      if (at < lo) lo = at;
      if (at > hi) hi = at;
    }
    return {
      ntpHits: this.#hits[SERVICE_NTP] ?? 0,
      ntpDrops: this.#drops[SERVICE_NTP] ?? 0,
      cmdHits: this.#hits[SERVICE_CMD] ?? 0,
      cmdDrops: this.#drops[SERVICE_CMD] ?? 0,
      logDrops: this.#logDrops,
      ntsKeHits: this.#hits[SERVICE_NTSKE] ?? 0,
      ntsKeDrops: this.#drops[SERVICE_NTSKE] ?? 0,
      ntpAuthHits: this.#authHits,
      ntpInterleavedHits: this.#interleavedHits,
      ntpTimestamps: held,
      ntpSpanSeconds: held > 0 ? Math.round(hi - lo) : 0,
    };
  }

  /**
   * `chronyc clients [-p minPackets] [-r]` rows at `now` seconds, in table
   * order. `reset` zeroes hit and drop counters after reporting.
   */
  clients(now: number, options: { minPackets?: number; reset?: boolean } = {}): ClientReport[] {
    const t = this.#t, min = options.minPackets ?? 0, out: ClientReport[] = [];
    for (let s = 0; s < t.n; s++) {
      const f = t.family[s] ?? 0;
      if (f === 0) continue;
      const h = (v: number) => t.hits[3 * s + v] ?? 0;
      if (h(0) < min && h(1) < min && h(2) < min) continue;
      const ago = (v: number) => {
        const l = t.last[3 * s + v] ?? NaN;
        return Number.isNaN(l) ? null : Math.max(0, now - l);
      };
      out.push({
        address: formatAddress(t.addr.subarray(4 * s, 4 * s + 4), f === 4 ? 4 : 6),
        ntpHits: h(0),
        ntpDrops: t.drops[3 * s] ?? 0,
        ntpIntervalLog2: rateLog2(t.rate[3 * s] ?? RATE_UNKNOWN),
        ntpIntervalLimitedLog2: rateLog2(t.rateL[s] ?? RATE_UNKNOWN),
        lastNtpAgo: ago(0),
        cmdHits: h(1),
        cmdDrops: t.drops[3 * s + 1] ?? 0,
        cmdIntervalLog2: rateLog2(t.rate[3 * s + 1] ?? RATE_UNKNOWN),
        lastCmdAgo: ago(1),
        ntsKeHits: h(2),
        ntsKeDrops: t.drops[3 * s + 2] ?? 0,
        ntsKeIntervalLog2: rateLog2(t.rate[3 * s + 2] ?? RATE_UNKNOWN),
        lastNtsKeAgo: ago(2),
      });
      if (options.reset === true) {
        for (let v = 0; v < 3; v++) t.hits[3 * s + v] = t.drops[3 * s + v] = 0;
      }
    }
    return out;
  }
}

const f64View = new DataView(new ArrayBuffer(8));
/** 2^((j + 0.5) / 4), j = 0..3: where log2 of a mantissa in [1, 2) rounds up a quarter. */
const QUARTER_EDGES = [2 ** 0.125, 2 ** 0.375, 2 ** 0.625, 2 ** 0.875];
/** Mantissas closer than this (relative) to an edge take Math.log2 (rounding decides there). */
const EDGE_MARGIN = 1e-9;

/**
 * `Math.round(Math.log2(x) * 4)` for x > 0, the same value, from the double's
 * exponent and four comparisons of its mantissa (the libm log2 cost ~2.5 % of
 * a served request); near a rounding edge, and for subnormals and Infinity,
 * it is computed as written. Exported for its test.
 */
export function quarterLog2(x: number): number {
  const dv = f64View;
  dv.setFloat64(0, x, true);
  const hi = dv.getUint32(4, true);
  const e = (hi >>> 20) & 0x7ff;
  if (e === 0 || e === 0x7ff) return Math.round(Math.log2(x) * 4);
  dv.setUint32(4, (hi & 0x800fffff) | 0x3ff00000, true); // the mantissa in [1, 2)
  const m = dv.getFloat64(0, true);
  let q = 4 * (e - 1023);
  for (let j = 0; j < 4; j++) {
    const edge = QUARTER_EDGES[j]!;
    if (Math.abs(m - edge) <= edge * EDGE_MARGIN) return Math.round(Math.log2(x) * 4);
    if (m > edge) q++;
  }
  return q;
}

/** Moves a scaled log2 interval average towards log2(interval) (see the module notes). */
function averageRate(stored: number, intervalSeconds: number): number {
  // round(clamp(4 log2 x)) = clamp(round(4 log2 x)): the bounds are whole numbers
  const v = intervalSeconds > 0
    ? Math.max(RATE_MIN, Math.min(RATE_MAX, quarterLog2(intervalSeconds)))
    : RATE_MIN;
  if (stored === RATE_UNKNOWN) return v;
  if (v < stored) return stored - 1; // faster: one quarter step per request
  if (v === stored) return stored;
  if (stored < v - RATE_LAG_MAX) return v - RATE_LAG_MAX;
  // slower: halfway in rate (-stored) towards -v, the odd quarter towards the longer interval
  return -Math.trunc((-stored - v - 1) / 2);
}

function rateLog2(stored: number): number | null {
  return stored === RATE_UNKNOWN ? null : stored / RATE_SCALE;
}

/** Address words (network order, big-endian u32) to text (lib/net/address.ts). */
export function formatAddress(words: Uint32Array, family: 4 | 6): string {
  const bytes = new Uint8Array(family === 4 ? 4 : 16);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < bytes.length / 4; i++) view.setUint32(4 * i, words[i] ?? 0);
  return formatIpBytes(bytes);
}
