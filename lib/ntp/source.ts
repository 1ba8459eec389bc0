/**
 * One upstream NTP source as a sans-IO state machine: a server or pool member
 * polled in client mode (3), or a basic symmetric peer (mode 1). It never
 * reads the clock, opens a socket or arms a timer: the caller feeds events
 * (`onTimer`, `onPacket`, `onTxTimestamp`, `setOnline`, `burst`) with the
 * current time and carries out the returned {@link SourceAction}s.
 *
 * Rules implemented (chrony.conf(5), RFC 5905 §8, §13):
 * - Requests in client mode carry only mode, version and poll, and a random
 *   64-bit transmit timestamp (as the captured chronyd 4.3 request does, RFC
 *   9109 data minimisation); the local send time is kept aside as T1 and the
 *   random value must come back as the origin timestamp. Peer requests carry
 *   real timestamps (the peer needs them).
 * - Interleaved client mode (`xleave`, RFC 9769; the requests chronyd 4.3
 *   sends, captured on loopback): once a response to our previous request
 *   was accepted, a request carries origin = that response's receive
 *   timestamp (raw, as the server wrote it), receive = a second random
 *   64-bit value and transmit = a random value, both different. A response
 *   whose origin equals our receive value is interleaved: its receive
 *   timestamp is the server's T2 of this request, its transmit the server's
 *   real (kernel) send time of its previous response. The sample is then
 *   computed for the previous exchange: T1 = our (kernel TX refined) send
 *   time of the previous request, T2 = the previous response's receive
 *   timestamp, T3 = this response's transmit, T4 = our receive time of the
 *   previous response; the sample time lies in that exchange. A response
 *   whose origin equals our transmit value is basic (first exchange, a
 *   server without interleaved support or that lost our state) and is used
 *   as in basic mode. The first request, and any request after the state
 *   was cleared (offline, clock step via `resetHistory`), is basic: origin
 *   and receive zero. Test 1 of an interleaved response compares its
 *   transmit with that of the last interleaved response (its transmit
 *   refers to an earlier packet than a basic one's). Peers ignore `xleave`
 *   (basic symmetric mode only).
 * - Reachability: every request that is a poll shifts the 8-bit register;
 *   a response passing tests 1-3 sets bit 0. When the register becomes zero
 *   (8 unanswered polls) a `{kind:"unreachable"}` action is returned.
 * - Back-off (as chronyd 4.3 does, measured on loopback with a silent server
 *   and one that stops answering): each request sent while the previous one
 *   is still unanswered adds 1/4 to the poll score, after the request is
 *   built (so its poll field still shows the old value) and before the next
 *   interval is chosen: the poll rises by one every 4 unanswered requests,
 *   up to maxpoll (a silent server at minpoll 6 shows Poll 7 after the
 *   iburst). The source currently selected for synchronisation
 *   ({@link NtpSource.setSelected}) backs off only from its 7th unanswered
 *   request in a row. A valid response resets the count.
 * - iburst: at start and on going online, a burst of up to 8 requests that
 *   ends after 4 good samples (`burst 4/8`); requests of a burst are
 *   min(2 s, poll interval / 4) apart whether answered or not (chronyd 4.3:
 *   2 s at poll 6, 0.25 s at poll 0). `burst` option: when a response fails
 *   the delay tests, a burst of up to 4 requests (ending after 1 good one),
 *   only if the poll is at least minpoll + 1 (chrony.conf: the average
 *   interval stays at or above minpoll).
 * - presend N: when the poll is >= N, an extra request goes 2 s before each
 *   poll; it does not count as a poll.
 * - Poll adaptation: the caller (source statistics) calls
 *   `setPollAdjustment(delta)` after each sample; deltas add up in a score and
 *   each whole +1 / -1 moves the poll one step within minpoll..maxpoll. The
 *   intended input: +1/polltarget-ish positive steps while the regression
 *   holds at least `polltarget` samples, a negative value when the offset is
 *   larger than the statistics expected.
 * - Tests as `chronyc ntpdata` reports them: 1 duplicate, 2 bogus (origin !=
 *   our transmit), 3 zero timestamps; 5 authentication (the {@link SourceAuth}
 *   hook, e.g. NTS; passes without one),
 *   6 leap 3 or stratum >= 16 (unsynchronised), 7 root distance >= 16 s or
 *   reference time after transmit; A maxdelay (and server response time
 *   between 0 and 4 s), B maxdelayratio (delay <= ratio * minimum delay),
 *   C maxdelaydevratio (delay - minimum <= ratio * sd, from 4 samples on;
 *   sd = delay sd given by `setDelayStatistics`, else the sd of our last 8
 *   offsets; with `maxdelayquant p` instead: delay <= a long-term
 *   p-quantile of the delays, lib/ntp/delay_quantile.ts), D loop (the
 *   server's refid is ours). Tests 1-3 gate reachability; all must pass for a
 *   sample.
 * - Authentication ({@link SourceAuth}, given in the deps): while it is not
 *   ready (no NTS cookies yet) no request is sent and the source checks again
 *   every {@link AUTH_RETRY} s or at once on {@link NtpSource.authReady};
 *   every request is signed; a reply with our origin that fails the check
 *   fails test 5: no sample, no reachability, counted in `authFailures`, and
 *   the genuine reply may still arrive. An NTS NAK is reported as KoD "NTSN"
 *   (the auth object has already dropped its cookies). Unauthenticated
 *   kiss-o'-death packets are ignored.
 * - Kiss-o'-Death (stratum 0 with a valid origin, RFC 5905 §7.4): RATE raises
 *   the poll by one (and minpoll for this source); DENY and RSTR stop the
 *   source (`{kind:"demobilize"}`); other codes are ignored.
 * - Offset, delay, dispersion per RFC 5905 §8 with local and remote
 *   precision and `maxClockError` ppm over the exchange; `asymmetry` and
 *   `offset` correct the offset as chrony.conf(5) describes. Sign of samples:
 *   local minus source (positive: we are fast).
 *
 * @example
 * ```ts
 * import { NtpSource } from "./source.ts";
 * const src = new NtpSource("192.0.2.1", { iburst: true }, {
 *   randomBytes: (n) => new Uint8Array(n).fill(7),
 * });
 * const actions = src.onTimer(1_700_000_000_000_000_000n);
 * actions.map((a) => a.kind); // ["send", "timer"]
 * ```
 * @module
 */
import { F323_MAX_SECONDS, F323_REQUEST, findF323 } from "./ef_f323.ts";
import { applyPtpCorrections, F324_REQUEST, findF324 } from "./ef_f324.ts";
import type { LeapIndicator, Sample } from "../clock/sample.ts";
import type { PeerView } from "../clock/advertised.ts";
import {
  addSeconds,
  diffSeconds,
  type Ntp64,
  NTP64_ZERO,
  ntp64Bits,
  type Timestamp,
} from "../time/timestamp.ts";
import {
  decodePacket,
  encodePacket,
  MODE_ACTIVE,
  MODE_CLIENT,
  MODE_PASSIVE,
  MODE_SERVER,
  newPacket,
  type NtpPacket,
  ntpToTimestamp,
  PacketError,
  timestampToNtp,
} from "./packet.ts";
import { clampPoll, DEFAULT_MAXPOLL, DEFAULT_MINPOLL, pollSeconds } from "./poll_interval.ts";
import { ReachRegister } from "./reach.ts";
import { refIdFromText, refIdToText } from "./reference_id.ts";
import { SampleFilter } from "./sample_filter.ts";
import { DelayQuantile } from "./delay_quantile.ts";

/** Longest interval between requests of a burst, seconds (chronyd 4.3: 2 s at poll >= 3). */
export const BURST_INTERVAL = 2;
/** Poll score added per request sent while the previous one is unanswered (chronyd 4.3: 4 per step). */
export const BACKOFF_STEP = 0.25;
/** Unanswered requests in a row before the selected source backs off (chronyd 4.3, measured). */
export const SELECTED_BACKOFF_AFTER = 6;
/** iburst: stop after this many good samples. chrony.conf(5): "burst of 4-8 requests". */
export const IBURST_GOOD = 4;
/** iburst: at most this many requests. chrony.conf(5). */
export const IBURST_TOTAL = 8;
/** `burst` option: at most this many requests. chrony.conf(5): "up to 4 requests". */
export const BURST_TOTAL = 4;
/** Seconds between a presend request and the poll. chrony.conf(5): "a short time (2 seconds)". */
export const PRESEND_ADVANCE = 2;
/** Maximum dispersion and root distance, seconds. RFC 5905 §7.2 MAXDISP. */
export const MAX_DISTANCE = 16;
/** Stratum meaning unsynchronised. RFC 5905 §7.2 MAXSTRAT. */
export const MAX_STRATUM = 16;

/** Round-trip delay under which a sub-second poll is used (chrony.conf(5) minpoll), seconds. */
const SUBSECOND_MAX_DELAY = 0.01;

/** Kiss-o'-Death codes acted on (the others in a stratum 0 reply mean unsynchronised). */
const KOD_CODES = new Set(["RATE", "DENY", "RSTR"].map(refIdFromText));
/** Longest accepted server processing time (T3 - T2), seconds (our choice). */
export const MAX_SERVER_INTERVAL = 4;
/** Recent delays and offsets kept for tests B and C. */
export const DELAY_HISTORY = 8;
/** Precision field of our client requests: chronyd 4.3 sends 0x20 (captured). */
export const REQUEST_PRECISION = 32;

/** Seconds between checks of a {@link SourceAuth} that is not ready (horae's choice). */
export const AUTH_RETRY = 2;

/** Result of checking a reply's authentication. */
export type AuthCheck = "ok" | "fail" | "nak";

/**
 * Authentication of a source's packets (NTS, RFC 8915; symmetric keys later).
 * Implemented in lib/nts (`NtsClientAuth`); sans-IO like the source.
 */
export interface SourceAuth {
  /** Whether a request can be signed now (NTS: keys and a cookie are held). */
  ready(now: Timestamp): boolean;
  /** Returns the 48-byte request header with authentication added, or null if not ready. */
  signRequest(header: Uint8Array, now: Timestamp): Uint8Array | null;
  /** Checks a reply to the last signed request: "nak" for an authentic NTS NAK. */
  checkReply(packet: Uint8Array, now: Timestamp): AuthCheck;
}

/** Options of one source; names and defaults follow chrony.conf(5) `server`/`peer`. */
export interface NtpSourceOptions {
  /** "server" and "pool" poll in client mode; "peer" in symmetric active mode. Default "server". */
  kind: "server" | "pool" | "peer";
  /** UDP port of the source. Default 123. */
  port: number;
  /** log2 s. Default 6. */
  minpoll: number;
  /** log2 s. Default 10. */
  maxpoll: number;
  /** Start (and go online) with a burst of 4-8 requests. Default false. */
  iburst: boolean;
  /** Burst of up to 4 requests when a measurement is bad. Default false. */
  burst: boolean;
  /** log2 s: polls at least this long get a request 2 s before; absent: none. */
  presend?: number;
  /** NTP version of our requests, 1..4. Default 4. */
  version: number;
  /** Seconds. Default 3. */
  maxdelay: number;
  /** Absent: test B disabled. */
  maxdelayratio?: number;
  /** Default 10. */
  maxdelaydevratio: number;
  /** 0.05..0.95: test C compares the delay with this quantile of delays instead; absent: off. */
  maxdelayquant?: number;
  /** Seconds; absent: the minimum of recent delays. */
  mindelay?: number;
  /** -0.5..+0.5; absent: 0 (chrony estimates it; we do not yet). */
  asymmetry?: number;
  /** Seconds added to measured offsets as chrony.conf(5) describes. Default 0. */
  offset: number;
  /** Median filter length in polls; absent: no filter. */
  filter?: number;
  /** Target samples for poll adaptation. Default 8. */
  polltarget: number;
  /** Start offline. Default false. */
  offline: boolean;
  /** Go offline when sending fails. Default false. */
  autoOffline: boolean;
  /** Raise the source's stratum to at least this. Default 0. */
  minstratum: number;
  /** Frequency error bound of our clock, ppm (chrony `maxclockerror`, default 1). */
  maxClockError: number;
  /** Precision of our clock, seconds. Default 2^-20. */
  precision: number;
  /** Interleaved mode (RFC 9769): client mode for servers/pools, symmetric for peers. Default false. */
  xleave: boolean;
  /**
   * `extfield F323`: requests carry the field; a reply's finer root delay
   * and dispersion replace the header's; its monotonic receive timestamp
   * gives each sample the server's own offset corrections since the
   * previous one (`Sample.serverCorrection`, same epoch only), so the
   * statistics' frequency follows the server's monotonic clock, as chronyd
   * does. Default false.
   */
  extF323?: boolean;
  /**
   * `extfield F324` (lib/ntp/ef_f324.ts): requests carry the field; for a
   * reply over NTP-over-PTP with a NIC RX stamp (`onPacket`'s `ptp`), the
   * transparent clocks' corrections (the request's from the field, the
   * reply's from its PTP header) come off T2 and T4. Default false.
   */
  extF324?: boolean;
}

/** chrony's defaults for {@link NtpSourceOptions}. */
export const DEFAULT_SOURCE_OPTIONS: Readonly<NtpSourceOptions> = {
  kind: "server",
  port: 123, // chrony.conf(5): port default 123
  minpoll: DEFAULT_MINPOLL,
  maxpoll: DEFAULT_MAXPOLL,
  iburst: false,
  burst: false,
  version: 4,
  maxdelay: 3, // chrony.conf(5): maxdelay default 3 s
  maxdelaydevratio: 10, // chrony.conf(5): default 10.0
  offset: 0,
  polltarget: 8, // chrony.conf(5): polltarget default 8
  offline: false,
  autoOffline: false,
  minstratum: 0,
  maxClockError: 1, // chrony.conf(5): maxclockerror default 1 ppm
  precision: 2 ** -20,
  xleave: false,
};

/** What the source needs from outside: random bytes (for transmit timestamps), authentication. */
export interface NtpSourceDeps {
  /** `n` random bytes. */
  randomBytes: (n: number) => Uint8Array;
  /** Authentication of requests and replies (NTS); absent: none (test 5 passes). */
  auth?: SourceAuth;
}

/** Delay statistics from the source's regression, for tests B and C. */
export interface DelayStatistics {
  /** Smallest delay among the kept samples, seconds, or null with none. */
  minDelay: number | null;
  /** Standard deviation of the kept delays, seconds. */
  delaySd: number;
  /** Number of kept samples. */
  samples: number;
}

/** What a symmetric peer is told of our own synchronisation (lib/clock/advertised.ts). */
export type LocalStatus = PeerView;

/** Why a source stopped. */
export type DemobilizeReason = "kod-deny" | "kod-rstr";

/** What the caller must do. */
export type SourceAction =
  /** Send these bytes to the source's address and port; report the kernel TX time via onTxTimestamp. */
  | { kind: "send"; bytes: Uint8Array }
  /** Call onTimer at `at`, replacing any earlier timer; `null` cancels it. */
  | { kind: "timer"; at: Timestamp | null }
  /** A new measurement for the source statistics. */
  | { kind: "sample"; sample: Sample }
  /** The reach register just became zero. */
  | { kind: "unreachable" }
  /** The server sent a Kiss-o'-Death with this code ("RATE", "DENY", ...). */
  | { kind: "kod"; code: string }
  /** Stop polling this source for good. */
  | { kind: "demobilize"; reason: DemobilizeReason };

/** F323: a reply's monotonic epoch and receive minus monotonic receive timestamp (2^-32 s). */
interface MonoMark {
  epoch: number;
  d: bigint;
}

/** Results of the packet tests as `chronyc ntpdata` prints them. */
export interface TestResults {
  /** Tests 1-3: duplicate, bogus, zero timestamps (true = pass). */
  t123: [boolean, boolean, boolean];
  /** Tests 5-7: authentication, synchronised, root distance. */
  t567: [boolean, boolean, boolean];
  /** Tests A-D: maxdelay, maxdelayratio, maxdelaydevratio, loop. */
  tABCD: [boolean, boolean, boolean, boolean];
}

/** What `chronyc sources` and `chronyc ntpdata` show about the source. */
export interface NtpSourceReport {
  address: string;
  port: number;
  mode: "client" | "active";
  online: boolean;
  /** Current poll, log2 s. */
  poll: number;
  /** Reach register 0..255. */
  reach: number;
  /** Local time of the last valid response, or null. */
  lastRx: Timestamp | null;
  lastSample: Sample | null;
  stratum: number;
  leap: LeapIndicator;
  refId: number;
  /** Remote poll and precision (log2 s) of the last response. */
  remotePoll: number;
  remotePrecision: number;
  /** Root delay and dispersion of the last response, seconds. */
  rootDelay: number;
  rootDispersion: number;
  /** Remote reference time of the last response. */
  referenceTime: Timestamp | null;
  /** T1..T4 of the last exchange. */
  localTx: Timestamp | null;
  remoteRx: Timestamp | null;
  remoteTx: Timestamp | null;
  localRx: Timestamp | null;
  /** Server processing time (T3 - T2), seconds. */
  responseTime: number;
  tests: TestResults;
  totalTx: number;
  totalRx: number;
  totalValidRx: number;
  /** Responses that passed every test (ntpdata's Total good RX). */
  totalGoodRx: number;
  /** Last Kiss-o'-Death code, or null. */
  kod: string | null;
  /** Poll adaptation score (-1..1). */
  pollScore: number;
  /** Whether requests are authenticated (a {@link SourceAuth} is set). */
  authenticated: boolean;
  /** Replies with our origin that failed authentication (test 5). */
  authFailures: number;
  /** Whether the last accepted response was interleaved (T1..T4 are of the previous exchange). */
  interleaved: boolean;
}

const allPass = (): TestResults => ({
  t123: [true, true, true],
  t567: [true, true, true],
  tABCD: [true, true, true, true],
});

/** Options `chronyc minpoll/maxpoll/maxdelay/...` may change on a running source. */
export type ModifiableOption =
  | "minpoll"
  | "maxpoll"
  | "maxdelay"
  | "maxdelayratio"
  | "maxdelaydevratio"
  | "minstratum"
  | "polltarget"
  | "offset";

/** Per-source protocol state machine; see the module doc for the rules. */
export class NtpSource {
  #localStatus: LocalStatus | null = null;
  readonly address: string;
  readonly #o: NtpSourceOptions;
  readonly #deps: NtpSourceDeps;
  readonly #reach = new ReachRegister();
  readonly #filter: SampleFilter | null;
  readonly #delayQuantile: DelayQuantile | null;
  #minpoll: number;
  #poll: number;
  #score = 0;
  #online: boolean;
  #demobilized = false;
  #nextTimer: Timestamp | null = null;
  #burstGood = 0;
  #burstLeft = 0;
  #presendDone = false;
  /** Transmit timestamp we put in our last request (the expected origin), or null once used. */
  #expectOrigin: Ntp64 | null = null;
  #localTx: Timestamp | null = null;
  /** xleave: the receive value of our last interleaved request (the expected origin), or null. */
  #expectXleave: Ntp64 | null = null;
  /** xleave: the last accepted exchange (T1 refined by onTxTimestamp, raw T2, T4), or null. */
  #prev:
    | { t1: Timestamp; t2Raw: Ntp64; t4: Timestamp; request: number; ptp?: [bigint, bigint] }
    | null = null;
  /** F323: (epoch, receive minus monotonic receive) of the last sample's T2 and of the last reply. */
  #monoSample: MonoMark | null = null;
  #monoReply: MonoMark | null = null;
  /** xleave: transmit timestamp of the last interleaved response (test 1 of the next). */
  #lastXleaveTx = NTP64_ZERO;
  /** Transmit timestamp of the last packet from the source (duplicate test, peer origin). */
  #lastRemoteTx = NTP64_ZERO;
  #lastRemoteRxLocal: Timestamp | null = null;
  /** Peer xleave: receive timestamp field of the last packet from the peer. */
  #lastRemoteRxField = NTP64_ZERO;
  /** Peer xleave: our receive time of the peer packet our last interleaved packet reported (T4). */
  #xleaveT4: Timestamp | null = null;
  #delays: number[] = [];
  #offsets: number[] = [];
  #ourRefId: number | null = null;
  #delayStats: DelayStatistics | null = null;
  #last: {
    packet: NtpPacket | null;
    lastRx: Timestamp | null;
    sample: Sample | null;
    t: [Timestamp | null, Timestamp | null, Timestamp | null, Timestamp | null];
    tests: TestResults;
    kod: string | null;
    interleaved: boolean;
  } = {
    packet: null,
    lastRx: null,
    sample: null,
    t: [null, null, null, null],
    tests: allPass(),
    kod: null,
    interleaved: false,
  };
  #totalTx = 0;
  #totalRx = 0;
  #totalValid = 0;
  #totalGood = 0;
  #authFailures = 0;
  #waitingForAuth = false;
  /** Requests sent since the last valid response. */
  #unanswered = 0;
  #reachUpdates = 0;
  #selected = false;

  /**
   * `address`: the source's IP address text; `options`: any subset of
   * {@link NtpSourceOptions} over chrony's defaults; `deps`: randomness.
   */
  constructor(address: string, options: Partial<NtpSourceOptions>, deps: NtpSourceDeps) {
    this.address = address;
    const o: NtpSourceOptions = { ...DEFAULT_SOURCE_OPTIONS };
    for (const [k, v] of Object.entries(options)) {
      if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
    }
    this.#o = o;
    this.#deps = deps;
    this.#minpoll = clampPoll(o.minpoll, { minpoll: o.minpoll, maxpoll: o.minpoll });
    this.#poll = clampPoll(o.minpoll, o);
    this.#online = !o.offline;
    this.#filter = o.filter !== undefined && o.filter > 1 ? new SampleFilter(o.filter) : null;
    this.#delayQuantile = o.maxdelayquant !== undefined ? new DelayQuantile(o.maxdelayquant) : null;
    if (o.iburst && this.#online) this.#startBurst(IBURST_GOOD, IBURST_TOTAL);
  }

  // ---- getters for reports ----

  /** The source's options (changed only through {@link NtpSource.modify}). */
  get options(): Readonly<NtpSourceOptions> {
    return this.#o;
  }

  /**
   * `chronyc minpoll|maxpoll|maxdelay|maxdelayratio|maxdelaydevratio|minstratum|polltarget`:
   * changes one option (units as in {@link NtpSourceOptions}: log2 s, s, ratio,
   * stratum, samples). A new minpoll above maxpoll raises maxpoll, a new
   * maxpoll below minpoll lowers minpoll; the poll is clamped to the new
   * range and the next poll uses it.
   */
  modify(option: ModifiableOption, value: number): void {
    const o = this.#o;
    switch (option) {
      case "minpoll":
        o.minpoll = value;
        if (o.maxpoll < value) o.maxpoll = value;
        this.#minpoll = value;
        break;
      case "maxpoll":
        o.maxpoll = value;
        if (o.minpoll > value) o.minpoll = value;
        this.#minpoll = Math.min(this.#minpoll, value);
        break;
      default:
        o[option] = value;
        return;
    }
    this.#setPoll(this.#poll);
  }

  /** Current poll, log2 seconds (as used: see {@link NtpSource.#pollNow}). */
  get poll(): number {
    return this.#pollNow();
  }
  /** Reach register. */
  get reach(): ReachRegister {
    return this.#reach;
  }
  /**
   * Polls decided so far, as chronyd counts its reachability updates: a
   * response, a request found unanswered when the next is due, or a poll
   * that could not be sent for want of authentication (no NTS cookies).
   * chronyd's one-shot modes give up when these leave no room for a
   * selectable source (lib/daemon/oneshot.ts).
   */
  get reachUpdates(): number {
    return this.#reachUpdates;
  }
  /** Valid replies accepted so far (the report's `totalValidRx`, without building a report). */
  get validReplies(): number {
    return this.#totalValid;
  }
  /** Whether the source may be polled. */
  get online(): boolean {
    return this.#online && !this.#demobilized;
  }
  /** When the caller should next call onTimer, or null. */
  get nextTimer(): Timestamp | null {
    return this.#nextTimer;
  }
  /** Whether a burst (iburst, burst option or `chronyc burst`) is running. */
  get inBurst(): boolean {
    return this.#burstLeft > 0;
  }

  /** Snapshot for `chronyc sources` / `ntpdata`. */
  report(): NtpSourceReport {
    const p = this.#last.packet;
    const [t1, t2, t3, t4] = this.#last.t;
    return {
      address: this.address,
      port: this.options.port,
      mode: this.options.kind === "peer" ? "active" : "client",
      online: this.online,
      poll: this.#pollNow(),
      reach: this.#reach.value,
      lastRx: this.#last.lastRx,
      lastSample: this.#last.sample,
      stratum: p ? Math.max(p.stratum, this.options.minstratum) : 0,
      leap: p ? p.leap : 3,
      refId: p ? p.referenceId : 0,
      remotePoll: p ? p.poll : 0,
      remotePrecision: p ? p.precision : 0,
      rootDelay: p ? p.rootDelay : 0,
      rootDispersion: p ? p.rootDispersion : 0,
      referenceTime: p && t4 ? ntpToTimestamp(p.referenceTs, t4) : null,
      localTx: t1,
      remoteRx: t2,
      remoteTx: t3,
      localRx: t4,
      responseTime: t2 && t3 ? diffSeconds(t3, t2) : 0,
      tests: this.#last.tests,
      totalTx: this.#totalTx,
      totalRx: this.#totalRx,
      totalValidRx: this.#totalValid,
      totalGoodRx: this.#totalGood,
      kod: this.#last.kod,
      pollScore: this.#score,
      authenticated: this.#deps.auth !== undefined,
      authFailures: this.#authFailures,
      interleaved: this.#last.interleaved,
    };
  }

  // ---- inputs ----

  /** Arms the first poll: call once after construction. */
  start(now: Timestamp): SourceAction[] {
    if (!this.online) return [this.#arm(null)];
    return [this.#arm(now)];
  }

  /** The timer fired (or the caller polls us). Stale calls before the armed time do nothing. */
  onTimer(now: Timestamp): SourceAction[] {
    if (!this.online) return [];
    if (this.#nextTimer !== null && now < this.#nextTimer) return [];
    const auth = this.#deps.auth;
    if (auth && !auth.ready(now)) {
      this.#waitingForAuth = true;
      this.#reachUpdates++;
      return [this.#arm(addSeconds(now, AUTH_RETRY))];
    }
    this.#waitingForAuth = false;
    const o = this.options;
    if (
      o.presend !== undefined && this.#poll >= o.presend && !this.#presendDone &&
      !this.inBurst
    ) {
      this.#presendDone = true;
      return [...this.#send(now), this.#arm(addSeconds(now, PRESEND_ADVANCE))];
    }
    this.#presendDone = false;
    const actions: SourceAction[] = [];
    const wasReachable = this.#reach.isReachable();
    if (this.#unanswered > 0) this.#reachUpdates++; // the previous request went unanswered
    this.#reach.polled();
    if (wasReachable && !this.#reach.isReachable()) actions.push({ kind: "unreachable" });
    actions.push(...this.#send(now));
    if (this.#unanswered >= (this.#selected ? SELECTED_BACKOFF_AFTER : 1)) {
      this.#addScore(BACKOFF_STEP); // the previous request went unanswered: back off
    }
    this.#unanswered++;
    let interval = pollSeconds(this.#pollNow());
    if (this.inBurst) {
      this.#burstLeft--;
      if (this.inBurst) interval = this.#burstInterval();
    }
    actions.push(this.#arm(addSeconds(now, interval)));
    return actions;
  }

  /**
   * The {@link SourceAuth} became ready (NTS-KE finished): a source waiting
   * for it polls at once.
   */
  authReady(now: Timestamp): SourceAction[] {
    if (!this.online || !this.#waitingForAuth) return [];
    return [this.#arm(now)];
  }

  /**
   * The kernel reported when our last request really left: refines T1 (also
   * the kept T1 for interleaved mode when the response came first).
   */
  onTxTimestamp(tx: Timestamp): void {
    if (this.#localTx !== null) this.#localTx = tx;
    if (this.#prev !== null && this.#prev.request === this.#totalTx) this.#prev.t1 = tx;
  }

  /** Sending the last request failed (no route...): with auto_offline the source goes offline. */
  onSendError(): SourceAction[] {
    return this.options.autoOffline ? this.setOnline(false, 0n) : [];
  }

  /** `online`/`offline` commands. Going online with iburst starts a burst. */
  setOnline(online: boolean, now: Timestamp): SourceAction[] {
    if (this.#demobilized || online === this.#online) return [];
    this.#online = online;
    if (!online) {
      this.#burstLeft = 0;
      this.#prev = null;
      return [this.#arm(null)];
    }
    if (this.options.iburst) this.#startBurst(IBURST_GOOD, IBURST_TOTAL);
    return [this.#arm(now)];
  }

  /** `chronyc burst good/total`: send up to `total` requests, stop after `good` good samples. */
  burst(good: number, total: number, now: Timestamp): SourceAction[] {
    if (!this.online || total < 1) return [];
    this.#startBurst(Math.max(1, good), total);
    return [this.#arm(now)];
  }

  /**
   * Whether the source is the one currently selected for synchronisation
   * (the engine tells after each selection): it then backs off later.
   */
  setSelected(selected: boolean): void {
    this.#selected = selected;
  }

  /** Adds to the poll score; each whole point moves the poll a step (see module doc). */
  setPollAdjustment(delta: number): SourceAction[] {
    if (!Number.isFinite(delta)) return [];
    const before = this.#poll;
    this.#addScore(delta);
    if (
      this.#poll !== before && this.#nextTimer !== null && this.#localTx !== null && !this.inBurst
    ) {
      return [this.#arm(addSeconds(this.#localTx, pollSeconds(this.#pollNow())))];
    }
    return [];
  }

  /**
   * Our own synchronisation, written into symmetric-mode packets (a peer
   * decides from them whether to use us); null: unsynchronised (leap 3).
   */
  setLocalStatus(status: LocalStatus | null): void {
    this.#localStatus = status;
  }

  /** Our own reference id (for test D, synchronisation loops); null when unsynchronised. */
  setOurReferenceId(id: number | null): void {
    this.#ourRefId = id;
  }

  /**
   * Delay statistics of the source's regression (lib/clock SourceStats
   * `delayTestInputs()`), used by tests B and C instead of our own short
   * history: `minDelay` replaces the minimum of recent delays (the `mindelay`
   * option still wins) and `delaySd` the spread of recent offsets. `null`
   * returns to our own history.
   */
  setDelayStatistics(stats: DelayStatistics | null): void {
    this.#delayStats = stats;
  }

  /** Forgets measurement history (after a clock step). */
  resetHistory(): void {
    this.#delays = [];
    this.#offsets = [];
    this.#filter?.clear();
    this.#prev = null; // our T1/T4 of the previous exchange are on the old timescale
  }

  /** F324 corrections of T2 and T4 (ns) of a reply, applied (see the option); zeros else. */
  #ptpCorrections(p: NtpPacket, ptp: { correction: number } | undefined): [bigint, bigint] {
    const f = this.options.extF324 && ptp ? findF324(p.extensions) : null;
    if (f === null) return [0n, 0n];
    const c = applyPtpCorrections({ t1: 0, t2: 0, t3: 0, t4: 0 }, f.correction, ptp!.correction);
    return [BigInt(Math.round(-c.t2 * 1e9)), BigInt(Math.round(-c.t4 * 1e9))];
  }

  /**
   * A datagram from the source arrived at local time `rx` (T4, cooked,
   * preferably a kernel timestamp); `now` is the current time. `ptp`: it came
   * over NTP-over-PTP with a NIC RX stamp; its PTP correctionField (s, F324).
   */
  onPacket(
    bytes: Uint8Array,
    rx: Timestamp,
    now: Timestamp,
    ptp?: { correction: number },
  ): SourceAction[] {
    if (this.#demobilized) return [];
    this.#totalRx++;
    let p: NtpPacket;
    try {
      p = decodePacket(bytes);
    } catch (e) {
      if (e instanceof PacketError) return [];
      throw e;
    }
    let mono: MonoMark | null = null;
    if (this.options.extF323) {
      // the finer values, where the 4.28 format holds the header's
      const f = findF323(p.extensions);
      if (f !== null && f.monoReceiveTs !== 0n) {
        mono = { epoch: f.monoEpoch, d: BigInt.asIntN(64, p.receiveTs - f.monoReceiveTs) };
      }
      if (f !== null && p.rootDelay < F323_MAX_SECONDS && p.rootDispersion < F323_MAX_SECONDS) {
        p.rootDelay = f.rootDelay;
        p.rootDispersion = f.rootDispersion;
      }
    }
    const peer = this.options.kind === "peer";
    const modeOk = peer
      ? p.mode === MODE_PASSIVE || p.mode === MODE_ACTIVE
      : p.mode === MODE_SERVER;
    if (!modeOk) return [];

    const tests = allPass();
    const prev = this.#prev;
    const interleaved = this.#expectXleave !== null && p.originTs === this.#expectXleave &&
      (peer ? this.#xleaveT4 !== null : prev !== null);
    tests.t123[0] = p.transmitTs !== (interleaved ? this.#lastXleaveTx : this.#lastRemoteTx);
    tests.t123[1] = interleaved ||
      (this.#expectOrigin !== null && p.originTs === this.#expectOrigin);
    tests.t123[2] = p.originTs !== 0n && p.receiveTs !== 0n && p.transmitTs !== 0n;

    if (peer && tests.t123[0]) {
      this.#lastRemoteTx = p.transmitTs;
      this.#lastRemoteRxLocal = rx;
      this.#lastRemoteRxField = p.receiveTs;
    }
    if (!tests.t123[0] || !tests.t123[1]) {
      this.#last.tests = tests;
      return [];
    }
    const auth = this.#deps.auth;
    if (auth) {
      const check = auth.checkReply(bytes, now);
      if (check === "nak") {
        this.#expectOrigin = null;
        this.#expectXleave = null;
        this.#last.kod = "NTSN";
        return [{ kind: "kod", code: "NTSN" }];
      }
      if (check === "fail") {
        tests.t567[0] = false;
        this.#authFailures++;
        this.#last.tests = tests;
        return [];
      }
    }
    // Kiss-o'-Death: stratum 0 with our origin and a code chronyd acts on
    // (RFC 5905 §7.4); any other stratum 0 reply is an unsynchronised server.
    if (p.stratum === 0 && p.mode === MODE_SERVER && KOD_CODES.has(p.referenceId)) {
      return this.#onKod(p, tests);
    }
    if (!tests.t123[2]) {
      this.#last.tests = tests;
      return [];
    }
    if (p.leap === 3 || p.stratum === 0 || p.stratum >= MAX_STRATUM) {
      return this.#onUnsynchronised(p, tests, interleaved, rx);
    }

    if (interleaved) this.#lastXleaveTx = p.transmitTs;
    else this.#lastRemoteTx = p.transmitTs;
    this.#expectOrigin = null;
    this.#expectXleave = null;
    this.#reach.received();
    if (this.#unanswered > 0) this.#reachUpdates++;
    this.#unanswered = 0;
    this.#totalValid++;
    // Interleaved: the previous exchange, completed by the real T3 of the previous response.
    // A peer's: our last packet (T1) and its receive time of it (T2), its previous packet's real
    // transmit time (T3) and our receive time of that packet (T4).
    const ex = !interleaved
      ? null
      : peer
      ? { t1: this.#localTx!, t2Raw: p.receiveTs, t4: this.#xleaveT4! }
      : prev;
    const t1 = ex ? ex.t1 : this.#localTx!;
    // F324: transparent clocks' residence times off T2 and T4 (of the exchange measured)
    const tc = this.#ptpCorrections(p, ptp);
    const c = interleaved ? (peer ? undefined : prev?.ptp) : tc;
    const t2 = ntpToTimestamp(ex ? ex.t2Raw : p.receiveTs, rx)! - (c?.[0] ?? 0n);
    const t3 = ntpToTimestamp(p.transmitTs, rx)!;
    const t4 = (ex ? ex.t4 : rx) - (c?.[1] ?? 0n);
    const ref = ntpToTimestamp(p.referenceTs, rx);
    this.#prev = this.options.xleave && !peer
      ? { t1: this.#localTx!, t2Raw: p.receiveTs, t4: rx, request: this.#totalTx, ptp: tc }
      : null;
    this.#last.packet = p;
    this.#last.lastRx = rx;
    this.#last.t = [t1, t2, t3, t4];
    this.#last.interleaved = interleaved;
    const at = interleaved ? this.#monoReply : mono; // F323 mark at T2 (see below)
    this.#monoReply = mono;

    // RFC 5905 §8: δ = (T4 - T1) - (T3 - T2), θ = ((T2 - T1) + (T3 - T4)) / 2.
    const serverTime = diffSeconds(t3, t2);
    const precision = Math.max(this.options.precision, 2 ** p.precision);
    const rawDelay = diffSeconds(t4, t1) - serverTime;
    const delay = Math.max(rawDelay, precision);
    const theta = (diffSeconds(t2, t1) + diffSeconds(t3, t4)) / 2;
    const dispersion = this.options.precision + 2 ** p.precision +
      this.options.maxClockError * 1e-6 * Math.abs(diffSeconds(t4, t1));

    // Test 7's reference time is compared with the newest server time in the
    // packet: T3 of a basic reply, the receive timestamp of an interleaved one.
    tests.t567[1] = true; // unsynchronised replies were taken above
    tests.t567[2] = p.rootDelay / 2 + p.rootDispersion < MAX_DISTANCE &&
      (ref === null || ref <= (ex ? ntpToTimestamp(p.receiveTs, rx)! : t3));

    const ds = this.#delayStats;
    const minDelay = this.options.mindelay ??
      Math.min(delay, ...(ds && ds.minDelay !== null ? [ds.minDelay] : this.#delays));
    // a peer's interleaved packet reports its previous transmission (T3 a poll before T2):
    // no server interval to bound, the intervals' length goes into the dispersion
    tests.tABCD[0] = delay <= this.options.maxdelay &&
      (interleaved && peer || (serverTime >= 0 && serverTime <= MAX_SERVER_INTERVAL));
    const history = ds ? ds.samples : this.#delays.length;
    if (this.options.maxdelayratio !== undefined && history > 0) {
      tests.tABCD[1] = delay <= this.options.maxdelayratio * minDelay;
    }
    if (this.#delayQuantile !== null) {
      // maxdelayquant replaces maxdelaydevratio (chrony.conf(5)).
      tests.tABCD[2] = this.#delayQuantile.accepts(delay);
      this.#delayQuantile.add(delay);
    } else if (history >= 4) {
      const sd = Math.max(ds ? ds.delaySd : stdDev(this.#offsets), precision);
      tests.tABCD[2] = delay - minDelay <= this.options.maxdelaydevratio * sd;
    }
    tests.tABCD[3] = this.#ourRefId === null || p.referenceId !== this.#ourRefId ||
      p.stratum <= 1;
    this.#last.tests = tests;

    const actions: SourceAction[] = [];
    if (!tests.t567.every(Boolean)) return actions;
    const asym = this.options.asymmetry ?? 0;
    const corrected = theta + asym * (delay - minDelay) + this.options.offset;
    this.#remember(delay, -corrected);
    if (!tests.tABCD.every(Boolean)) {
      if (this.options.burst && !this.inBurst && this.#poll >= this.#minpoll + 1) {
        const total = Math.min(BURST_TOTAL, 2 ** (this.#poll - this.#minpoll));
        this.#startBurst(1, total);
        actions.push(this.#arm(addSeconds(t4, this.#burstInterval())));
      }
      return actions;
    }
    this.#totalGood++;
    let sample: Sample | null = {
      time: t1 + (t4 - t1) / 2n,
      offset: -corrected,
      peerDelay: delay,
      peerDispersion: dispersion,
      rootDelay: p.rootDelay,
      rootDispersion: p.rootDispersion,
      stratum: Math.max(p.stratum, this.options.minstratum),
      leap: p.leap,
    };
    if (this.#filter) sample = this.#filter.add(sample);
    // F323 frequency transfer: the server's offset corrections since our previous sample (the
    // change of its receive minus monotonic receive timestamp, same epoch) are taken out of the
    // stored samples by the statistics (Sample.serverCorrection)
    if (sample) {
      const before = this.#monoSample;
      this.#monoSample = at;
      if (at !== null && before !== null && at.epoch === before.epoch && at.d !== before.d) {
        sample = { ...sample, serverCorrection: Number(at.d - before.d) / 2 ** 32 };
      }
      this.#last.sample = sample;
      actions.push({ kind: "sample", sample });
    }
    if (this.inBurst) {
      this.#burstGood--;
      if (this.#burstGood <= 0) {
        this.#burstLeft = 0;
        actions.push(this.#arm(addSeconds(t1, pollSeconds(this.#pollNow()))));
      }
      // Otherwise the burst goes on at its interval, armed when the request was sent.
    }
    return actions;
  }

  // ---- internals ----

  #maxpoll(): number {
    return clampPoll(this.options.maxpoll, {
      minpoll: this.#minpoll,
      maxpoll: this.options.maxpoll,
    });
  }

  #addScore(delta: number): void {
    this.#score += delta;
    let poll = this.#poll;
    while (this.#score >= 1) {
      this.#score -= 1;
      poll++;
    }
    while (this.#score <= -1) {
      this.#score += 1;
      poll--;
    }
    this.#setPoll(poll);
    if (this.#poll === this.#maxpoll() && this.#score > 0) this.#score = 0;
    if (this.#poll === this.#minpoll && this.#score < 0) this.#score = 0;
  }

  /**
   * The poll in use: chrony.conf(5) minpoll, a sub-second interval only while
   * the server is reachable and its round-trip delay is under 10 ms (a local
   * network); else 1 s (poll 0), as chronyd 4.3 shows it (`sources` Poll 0
   * for an unreachable source of minpoll -2).
   */
  #pollNow(): number {
    if (this.#poll >= 0) return this.#poll;
    const ds = this.#delayStats;
    const minDelay = ds && ds.minDelay !== null
      ? ds.minDelay
      : this.#delays.length > 0
      ? Math.min(...this.#delays)
      : null;
    const local = minDelay !== null && minDelay < SUBSECOND_MAX_DELAY;
    return this.#reach.isReachable() && local ? this.#poll : 0;
  }

  #setPoll(poll: number): void {
    this.#poll = clampPoll(poll, { minpoll: this.#minpoll, maxpoll: this.#maxpoll() });
  }

  #burstInterval(): number {
    return Math.min(BURST_INTERVAL, pollSeconds(this.#pollNow()) / 4);
  }

  #startBurst(good: number, total: number): void {
    this.#burstGood = good;
    this.#burstLeft = total;
  }

  #arm(at: Timestamp | null): SourceAction {
    this.#nextTimer = at;
    return { kind: "timer", at };
  }

  #remember(delay: number, offset: number): void {
    this.#delays.push(delay);
    this.#offsets.push(offset);
    if (this.#delays.length > DELAY_HISTORY) this.#delays.shift();
    if (this.#offsets.length > DELAY_HISTORY) this.#offsets.shift();
  }

  #send(now: Timestamp): SourceAction[] {
    const peer = this.options.kind === "peer";
    const p = newPacket();
    p.version = this.options.version;
    p.poll = this.#pollNow();
    if (peer) {
      // A peer learns our synchronisation from our packets (RFC 5905 §9.1).
      const us = this.#localStatus;
      p.mode = MODE_ACTIVE;
      p.leap = us ? us.leap : 3;
      p.stratum = us ? us.stratum : 0;
      p.referenceId = us ? us.refId : 0;
      p.rootDelay = us ? us.rootDelay : 0;
      p.rootDispersion = us ? us.rootDispersion : 0;
      p.referenceTs = us && us.refTime !== 0n ? timestampToNtp(us.refTime) : NTP64_ZERO;
      p.precision = Math.round(Math.log2(this.options.precision));
      p.originTs = this.#lastRemoteTx;
      p.receiveTs = this.#lastRemoteRxLocal !== null
        ? timestampToNtp(this.#lastRemoteRxLocal)
        : NTP64_ZERO;
      p.transmitTs = timestampToNtp(now);
      this.#expectXleave = null;
      this.#xleaveT4 = null;
      if (
        this.options.xleave && this.#lastRemoteRxField !== 0n && this.#lastRemoteRxLocal !== null &&
        this.#localTx !== null
      ) {
        // Symmetric interleaved (as chronyd 4.3's peers, seen on loopback): origin = the
        // peer's receive time of our earlier packet, receive = our receive time of its last
        // packet, transmit = when our previous packet really left.
        p.originTs = this.#lastRemoteRxField;
        p.transmitTs = timestampToNtp(this.#localTx);
        this.#expectXleave = p.receiveTs;
        this.#xleaveT4 = this.#lastRemoteRxLocal;
      }
    } else {
      p.mode = MODE_CLIENT;
      p.precision = REQUEST_PRECISION;
      p.transmitTs = this.#randomTimestamp();
      this.#expectXleave = null;
      if (this.options.xleave && this.#prev !== null) {
        p.originTs = this.#prev.t2Raw;
        let cookie = this.#randomTimestamp();
        while (cookie === p.transmitTs) cookie = this.#randomTimestamp();
        p.receiveTs = cookie;
        this.#expectXleave = cookie;
      }
    }
    this.#expectOrigin = p.transmitTs;
    this.#localTx = now;
    this.#totalTx++;
    if (this.options.extF323) p.extensions.push(F323_REQUEST);
    if (this.options.extF324) p.extensions.push(F324_REQUEST);
    const bytes = encodePacket(p);
    const signed = this.#deps.auth ? this.#deps.auth.signRequest(bytes, now) : bytes;
    // Not signable after all (onTimer checked ready()): an authenticated source
    // never sends an unsigned request; the poll counts as unanswered.
    return signed ? [{ kind: "send", bytes: signed }] : [];
  }

  #randomTimestamp(): Ntp64 {
    for (;;) {
      const b = this.#deps.randomBytes(8);
      let v = 0n;
      for (let i = 0; i < 8; i++) v = (v << 8n) | BigInt(b[i] ?? 0);
      if (v !== 0n && v !== this.#expectOrigin) return ntp64Bits(v);
    }
  }

  /**
   * A valid reply of an unsynchronised server (leap 3 or stratum 0/16), as
   * chronyd 4.3 takes it (observed with `ntpdata` beside it): counted as valid
   * RX and shown by ntpdata (leap, stratum, precision, root delay/dispersion,
   * reference; tests 111 101 0000: the delay tests are not run, no offset),
   * but it sets no reachability bit and does not end the back-off: the client
   * never synchronises and `sources` shows Reach 0, LastRx "-".
   */
  #onUnsynchronised(
    p: NtpPacket,
    tests: TestResults,
    interleaved: boolean,
    rx: Timestamp,
  ): SourceAction[] {
    if (interleaved) this.#lastXleaveTx = p.transmitTs;
    else this.#lastRemoteTx = p.transmitTs;
    this.#expectOrigin = null;
    this.#expectXleave = null;
    this.#prev = null;
    this.#totalValid++;
    this.#last.packet = p;
    const ref = ntpToTimestamp(p.referenceTs, rx);
    tests.t567[1] = false;
    tests.t567[2] = p.rootDelay / 2 + p.rootDispersion < MAX_DISTANCE &&
      (ref === null || ref <= ntpToTimestamp(p.transmitTs, rx)!);
    tests.tABCD = [false, false, false, false];
    this.#last.tests = tests;
    return [];
  }

  #onKod(p: NtpPacket, tests: TestResults): SourceAction[] {
    const code = refIdToText(p.referenceId);
    this.#last.kod = code;
    this.#last.tests = tests;
    this.#expectOrigin = null;
    this.#expectXleave = null;
    const actions: SourceAction[] = [{ kind: "kod", code }];
    if (p.referenceId === refIdFromText("RATE")) {
      this.#minpoll = Math.min(this.#maxpoll(), this.#minpoll + 1);
      this.#setPoll(this.#poll + 1);
      if (this.#nextTimer !== null && this.#localTx !== null) {
        actions.push(this.#arm(addSeconds(this.#localTx, pollSeconds(this.#pollNow()))));
      }
    } else if (
      p.referenceId === refIdFromText("DENY") || p.referenceId === refIdFromText("RSTR")
    ) {
      this.#demobilized = true;
      actions.push(this.#arm(null), {
        kind: "demobilize",
        reason: code === "DENY" ? "kod-deny" : "kod-rstr",
      });
    }
    return actions;
  }
}

function stdDev(xs: readonly number[]): number {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1);
  return Math.sqrt(v);
}
