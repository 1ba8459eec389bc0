/**
 * NTP server responder (sans-IO) working directly on packet bytes: validates
 * a request, applies the access table, logs the client (rate limiting,
 * interleaved mode) and writes the reply, possibly in place over the request.
 *
 * Rules (RFC 5905 §7-9, checked against chronyd 4.3 on loopback, and kept
 * so by the differential test tests/interop/differential_ntp_test.ts):
 * - requests shorter than 48 bytes or not a multiple of 4 bytes long,
 *   version outside 1-4, or a trailer {@link classifyTrailer} calls invalid
 *   are dropped;
 * - mode 3 (client), and mode 0 of NTPv1, are answered in mode 4; mode 1
 *   (symmetric active from an unknown peer) is answered in mode 2, as
 *   chronyd does; other modes dropped;
 * - the reply echoes the version and the poll, is 48 bytes (never longer than
 *   the request), origin = request transmit, receive = `rx`;
 * - unsynchronised without `local`: leap 3, stratum 0, root delay and
 *   dispersion 1 s, reference id 0, reference time 0 (what chronyd 4.3 sends);
 * - interleaved (RFC 9769): a request whose origin equals the receive
 *   timestamp of our previous reply to that address (and not its own
 *   transmit) is answered with origin = request receive, receive = `rx`,
 *   transmit = the (kernel) transmit timestamp of that previous reply.
 *
 * - authentication ({@link ServerAuth}): a request with a MAC trailer
 *   (symmetric key, crypto-NAK, MS-SNTP) goes to the key authentication
 *   (key_auth.ts, set by {@link NtpServer.setKeyAuth}) and is dropped without
 *   a keyfile; a v4 client request with an NTS field goes to NTS
 *   (lib/nts/server_auth.ts) and is dropped without an NTS server, as chronyd
 *   stays silent; other extension fields are answered as plain NTP. Checked
 *   before any reply byte is written: "drop" is dropped (counted in
 *   `drops.authFailed`), "ok" and "nak" get the authenticated reply or NTS
 *   NAK appended by {@link ServerAuth.complete} ("Authenticated NTP packets"
 *   counts "ok"). The reply is then as long as the request at most.
 *
 * The transmit timestamp of a basic reply is left for the IO layer to write
 * "as late as possible" ({@link ServerPacket.txPending}, {@link writeTransmit});
 * an authenticated reply gets it from {@link ServerAuth.transmitTime} before
 * it is sealed (the Authenticator covers it).
 *
 * `extfield F323` (lib/ntp/ef_f323.ts): a request whose fields include
 * chronyd's F323 field gets the header followed by our F323 field (root
 * delay and dispersion in 4.28, the monotonic receive timestamp: the served
 * receive timestamp minus the smoothing offset and the offset corrections
 * made since start, {@link NtpServer.setMonotonic}; its epoch), before a MAC
 * or the NTS Unique Identifier and Authenticator (chronyd 4.3's order);
 * other fields are not echoed, as chronyd 4.3/4.8 do. Without
 * `setMonotonic`, answered without it. `extfield F324` (lib/ntp/ef_f324.ts):
 * a version-4 request with chronyd's F324 field gets ours after (on any
 * port, as chronyd 4.8), holding {@link ServerPacket.ptpCorrection}.
 *
 * Server time smoothing (`smoothtime`, lib/clock/smoothing.ts): the IO layer
 * asks {@link NtpServer.servedOffset} once per batch and adds the shift to
 * the (raw) receive and transmit timestamps it writes, so they become the
 * clock's cooked time plus the smoothing offset, as chronyd serves them;
 * while the smoothing offset is not zero (and we are synchronised) the
 * reference time carries it too and the reference id is 127.127.1.255.
 *
 * @example
 * ```ts
 * import { NtpServer, unsynchronisedReference } from "./server.ts";
 * const server = new NtpServer({ reference: unsynchronisedReference(-20) });
 * const req = new DataView(new ArrayBuffer(48));
 * req.setUint8(0, 0x23); // v4, client
 * const out = new DataView(new ArrayBuffer(48));
 * server.respond(req, 48, 1_700_000_000_000_000_000n, out); // 48
 * out.getUint8(0) & 7; // 4 (server)
 * ```
 * @module
 */
import { type Timestamp, toNtp64 } from "../time/timestamp.ts";
import type { AddressFilter } from "./addrfilt.ts";
import { ClientAccessResult, type ClientLog, RATE_DROP, RATE_KOD } from "./clientlog.ts";
import { REFID_LOCAL as LOCAL_REFERENCE_ID } from "../net/address.ts";
import {
  EF_EXP_MONO_ROOT,
  F323_FIELD_LENGTH,
  findF323Request,
  toF323Fixed,
  writeF323Reply,
} from "./ef_f323.ts";
import { EF_EXP_PTP_CORRECTION, findF324Request, writeF324Reply } from "./ef_f324.ts";

/** Fixed NTP header length. RFC 5905 §7.3. */
export const NTP_HEADER_LENGTH = 48;
/** Reference id of the local reference: 127.127.1.1, as chronyd 4.3 sends (lib/net/address.ts). */
export { LOCAL_REFERENCE_ID };
/** Reference id chronyd 4.3 serves while smoothing is in effect: 127.127.1.255. */
export const SMOOTHING_REFERENCE_ID = 0x7f7f01ff;
/** Kiss code "RATE" as a reference id. RFC 5905 §7.4. */
export const KISS_RATE = 0x52415445;
/** Root delay and dispersion chronyd 4.3 sends when unsynchronised: 1 s. */
const UNSYNC_ROOT = 1.0;
/** Leap indicator "alarm: not synchronised". RFC 5905 §7.3. */
const LEAP_UNSYNC = 3;

/** `local` directive (chrony.conf(5)). */
export interface LocalOptions {
  /** Stratum served when the local reference is active (1..15, default 10). */
  stratum: number;
  /** Root distance (s) above which the local reference activates (default 1). */
  distance: number;
  /** Orphan mode (affects source selection, not what the server writes). */
  orphan: boolean;
}

/** What the daemon knows of its own synchronisation; it fills and updates this. */
export interface ServerReference {
  /** Whether the clock is synchronised to a source. */
  synchronised: boolean;
  /** Leap indicator when synchronised (0 none, 1 insert, 2 delete). */
  leap: number;
  /** Our stratum when synchronised (source stratum + 1). */
  stratum: number;
  /** Precision of our clock, log2 seconds (chronyd measures e.g. -25). */
  precision: number;
  /** Root delay, seconds. */
  rootDelay: number;
  /** Root dispersion at `refTime`, seconds. */
  rootDispersion: number;
  /** Growth of the root dispersion, seconds per second since `refTime`. */
  dispersionRate: number;
  /** Reference id (source address or refclock name as u32). */
  refId: number;
  /** Time of the last clock update. */
  refTime: Timestamp;
  /** `local` directive, or null. */
  local: LocalOptions | null;
  /** When the local reference became active (its reference time), or null for `now`. */
  localSince: Timestamp | null;
  /**
   * Whether `local activate`/`waitsynced`/`waitunsynced` (chrony 4.5/4.7) allow
   * the local reference now (the daemon asks lib/clock/reference.ts); absent: yes.
   */
  localEligible?: boolean;
}

/** A reference for a server with no sources and no `local`. */
export function unsynchronisedReference(precision: number): ServerReference {
  return {
    synchronised: false,
    leap: 0,
    stratum: 16,
    precision,
    rootDelay: 0,
    rootDispersion: 0,
    dispersionRate: 0,
    refId: 0,
    refTime: 0n,
    local: null,
    localSince: null,
  };
}

/** Per-request data exchanged with the IO layer; one object reused for every packet. */
export interface ServerPacket {
  /** Request bytes (offset 0 = first byte of the NTP header). */
  req: DataView;
  /** Request length, bytes. */
  reqLength: number;
  /** Where the reply goes; may be `req` (in place). */
  out: DataView;
  /** Client address bytes (network order) and their offset; null: no access check or log. */
  addr: Uint8Array | null;
  addrOffset: number;
  /** 4 (IPv4, 4 bytes) or 6 (IPv6, 16 bytes). */
  family: 4 | 6;
  /** Receive timestamp as NTP words. */
  rxHi: number;
  rxLo: number;
  /** Receive time, float seconds (client log clock). */
  now: number;
  /** Out: the IO layer must write the transmit timestamp at 40 just before sending. */
  txPending: boolean;
  /** Out: client log slot (for {@link NtpServer.sent}), -1 if none. */
  slot: number;
  /**
   * Out: the transmit timestamp was written by the responder (authenticated
   * replies); the IO layer must not touch the reply, only hold that time.
   */
  txWritten: boolean;
  /**
   * Byte views of `req` and `out` (whole buffers) for the authentication,
   * made once and remade only when `req`/`out` is replaced: the DataViews
   * they were made of.
   */
  reqBytes: Uint8Array;
  reqBytesOf: DataView;
  outBytes: Uint8Array;
  outBytesOf: DataView;
  /**
   * NTP-over-PTP: the request's PTP correctionField, seconds, when its RX
   * time is a NIC stamp (echoed in an F324 reply field); otherwise 0/absent.
   */
  ptpCorrection?: number;
}

/** Verdict of {@link ServerAuth.check}. */
export type ServerAuthVerdict = "plain" | "drop" | "nak" | "ok";

/**
 * Authentication of requests carrying extension fields (NTS, RFC 8915 §5.7).
 * Called synchronously for one packet at a time: `complete` uses what the
 * preceding `check` found.
 */
export interface ServerAuth {
  /**
   * Checks a request (its bytes, before the reply overwrites them): the first
   * `length` bytes of `request` (default all).
   */
  check(request: Uint8Array, length?: number): ServerAuthVerdict;
  /**
   * Appends the authentication (or turns the header into an NTS NAK): `reply`
   * is the whole output buffer with the final 48-byte header at its start,
   * followed by our extension fields up to `fieldsEnd` (default 48; F323).
   * Returns the reply length, or 0 to drop.
   */
  complete(reply: Uint8Array, fieldsEnd?: number): number;
  /** Current time for the transmit timestamp of authenticated replies. */
  transmitTime(): Timestamp;
  /**
   * Optional: the same time without a BigInt, Unix seconds at `out[0]` and
   * nanoseconds (0..999 999 999) at `out[1]`; used instead of
   * {@link transmitTime} when present.
   */
  transmitTimeTo?(out: Float64Array): void;
}

/** Counters of dropped requests not covered by `serverstats`. */
export interface ServerDropCounters {
  short: number;
  badVersion: number;
  badMode: number;
  malformed: number;
  denied: number;
  rateLimited: number;
  kod: number;
  /** Requests with authentication that failed without a NAK (dropped). */
  authFailed: number;
  /** NTS NAKs sent. */
  naks: number;
}

/** Options of {@link NtpServer}. */
export interface NtpServerOptions {
  /** The daemon's reference data (kept by reference; call {@link NtpServer.refresh} after changes). */
  reference: ServerReference;
  /** Client log; absent: no logging, limiting or interleaved mode. */
  clientLog?: ClientLog;
  /** Access table; absent: everything allowed. */
  filter?: AddressFilter;
  /** Authentication of requests with NTS fields; absent: they are dropped. */
  auth?: ServerAuth;
}

/** Creates a fresh {@link ServerPacket} (allocate once per receive slot). */
export function newServerPacket(req: DataView, out: DataView): ServerPacket {
  const reqBytes = bytesOf(req);
  return {
    req,
    reqLength: 0,
    out,
    addr: null,
    addrOffset: 0,
    family: 4,
    rxHi: 0,
    rxLo: 0,
    now: 0,
    txPending: false,
    slot: -1,
    txWritten: false,
    reqBytes,
    reqBytesOf: req,
    outBytes: out === req ? reqBytes : bytesOf(out),
    outBytesOf: out,
  };
}

function bytesOf(v: DataView): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** Seconds from 1900 to 1970. RFC 5905 §6. */
const NTP_UNIX = 2208988800;
const TWO32 = 4294967296;
/** 2^32 / 1e9 = 2^23 / 1953125: nanoseconds to NTP fraction as exact integers. */
const FRAC_MUL = 8388608, FRAC_DIV = 1953125;

/**
 * NTP timestamp words of Unix time `sec` + `nsec` ns (nsec in 0..1e9), as
 * {@link toNtp64} computes them (fraction rounded half up, saturating), with
 * numbers only: `hi` returned, `lo` in {@link txLo}.
 */
function ntpWords(sec: number, nsec: number): number {
  const a = nsec * FRAC_MUL; // < 2^53: exact
  let q = Math.floor(a / FRAC_DIV), r = a - q * FRAC_DIV;
  if (r < 0) {
    q--;
    r += FRAC_DIV;
  } else if (r >= FRAC_DIV) {
    q++;
    r -= FRAC_DIV;
  }
  if (2 * r >= FRAC_DIV) q++;
  txLo = q > 0xffffffff ? 0xffffffff : q;
  const h = (sec + NTP_UNIX) % TWO32;
  return h < 0 ? h + TWO32 : h;
}
let txLo = 0;

/** Seconds to NTP short format (16.16), rounded up as chronyd does, saturating. RFC 5905 §6. */
function toShort(seconds: number): number {
  const v = Math.ceil(seconds * 65536);
  return v < 0 ? 0 : v > 0xffffffff ? 0xffffffff : v;
}

/** What follows the header of a request ({@link classifyTrailer}). */
export const TRAILER_INVALID = -1;
/** Nothing: a plain request. */
export const TRAILER_NONE = 0;
/** NTPv4 extension fields, none of them NTS: answered as plain NTP. */
export const TRAILER_FIELDS = 1;
/** NTPv4 extension fields including an NTS field (RFC 8915 §5.7): NTS decides. */
export const TRAILER_NTS = 2;
/** A MAC (symmetric key, crypto-NAK, MS-SNTP): the key authentication decides. */
export const TRAILER_MAC = 3;

/** Out-parameter of {@link classifyTrailer}. */
export interface TrailerScan {
  /**
   * A field of type F323 or F324 (extfield) was among the fields: without one,
   * `findF323Request`/`findF324Request` (same walk over the fields) find none.
   */
  experimental: boolean;
}

/** Longest MAC after NTPv4 extension fields (key id + 20-byte digest). */
const MAX_V4_MAC = 24;
/** Shortest MAC (key id + 16-byte digest). */
const MIN_MAC = 20;
/** Shortest extension field. RFC 7822 §7.5. */
const MIN_FIELD = 16;

/**
 * Classifies what follows the 48-byte header of a request of `length` bytes
 * (a multiple of 4), as chronyd 4.3 reads it (observed on loopback):
 * - version 1-3: any bytes are a MAC;
 * - version 4: exactly 4 bytes with key id 0 are a crypto-NAK (MAC); then,
 *   repeatedly, 20-24 bytes left are a MAC, otherwise more than 24 bytes
 *   must be left and an extension field (length >= 16, multiple of 4, within
 *   the packet) is taken; anything else is invalid. A field of an NTS type
 *   (0x0104, 0x0204, 0x0304, 0x0404) makes it an NTS request unless a MAC
 *   follows.
 * No allocation. `scan` (optional) says whether an F323 or F324 field was seen.
 */
export function classifyTrailer(
  view: DataView,
  length: number,
  version: number,
  scan?: TrailerScan,
): number {
  if (scan !== undefined) scan.experimental = false;
  let off = NTP_HEADER_LENGTH;
  let rem = length - off;
  if (rem === 0) return TRAILER_NONE;
  if (version < 4) return TRAILER_MAC;
  if (rem === 4 && view.getUint32(off) === 0) return TRAILER_MAC;
  let nts = false;
  while (rem > 0) {
    if (rem >= MIN_MAC && rem <= MAX_V4_MAC) return TRAILER_MAC;
    if (rem <= MAX_V4_MAC) return TRAILER_INVALID;
    const efLen = view.getUint16(off + 2);
    if (efLen < MIN_FIELD || (efLen & 3) !== 0 || efLen > rem) return TRAILER_INVALID;
    const type = view.getUint16(off);
    if ((type & 0xf0ff) === 0x0004 && type >= 0x0104 && type <= 0x0404) nts = true;
    else if ((type === EF_EXP_MONO_ROOT || type === EF_EXP_PTP_CORRECTION) && scan !== undefined) {
      scan.experimental = true;
    }
    off += efLen;
    rem -= efLen;
  }
  return nts ? TRAILER_NTS : TRAILER_FIELDS;
}

/** Writes the NTP form of `t` at byte 40 (transmit) of `out`; the IO layer's last step. */
export function writeTransmit(out: DataView, hi: number, lo: number): void {
  out.setUint32(40, hi);
  out.setUint32(44, lo);
}

/** The responder; see the module documentation. */
export class NtpServer {
  /** Dropped-request counters (requests that never reached the client log). */
  readonly drops: ServerDropCounters = {
    short: 0,
    badVersion: 0,
    badMode: 0,
    malformed: 0,
    denied: 0,
    rateLimited: 0,
    kod: 0,
    authFailed: 0,
    naks: 0,
  };
  #auth: ServerAuth | null;
  #keyAuth: ServerAuth | null = null;
  #ref: ServerReference;
  #log: ClientLog | null;
  #filter: AddressFilter | null;
  // served header fields, recomputed by refresh()
  #leap = LEAP_UNSYNC;
  #stratum = 0;
  #precision = 0;
  #rootDelay = 0;
  #rootDisp = 0;
  #refId = 0;
  #refHi = 0;
  #refLo = 0;
  #refTime: Timestamp = 0n;
  // smoothtime: offset of the current batch (s) and the reference time carrying it
  #smoothing: ((now: Timestamp) => number) | null = null;
  #cooked: () => number = () => 0;
  #smoothOffset = 0;
  #shift = 0;
  #smRefHi = 0;
  #smRefLo = 0;
  #scratch: ServerPacket;
  // extfield F323: root values in seconds, cooked-minus-monotonic (ns), epoch
  #delaySec = 0;
  #dispSec = 0;
  #mono: (() => bigint) | null = null;
  #monoEpoch = 0;
  /** Transmit time of an authenticated reply, [Unix s, ns] ({@link ServerAuth.transmitTimeTo}). */
  readonly #txTime = new Float64Array(2);
  /** The client log's verdict on the request being answered (filled in place). */
  readonly #access = new ClientAccessResult();
  /** What classifyTrailer saw of the request being answered. */
  readonly #scan: TrailerScan = { experimental: false };

  constructor(options: NtpServerOptions) {
    this.#ref = options.reference;
    this.#log = options.clientLog ?? null;
    this.#filter = options.filter ?? null;
    this.#auth = options.auth ?? null;
    const dummy = new DataView(new ArrayBuffer(0));
    this.#scratch = newServerPacket(dummy, dummy);
    this.refresh(options.reference.refTime);
  }

  /** Sets (or removes with null) the NTS authentication of requests with NTS fields. */
  setAuth(auth: ServerAuth | null): void {
    this.#auth = auth;
  }

  /**
   * Sets (or removes with null) the symmetric-key authentication of requests
   * with a MAC trailer (any version); without it they are dropped.
   */
  setKeyAuth(auth: ServerAuth | null): void {
    this.#keyAuth = auth;
  }

  /**
   * Sets (or removes with null) server time smoothing: `offsetAt(now)` is the
   * smoothing offset in seconds added to the time served at `now`, and
   * `cookedShift()` the cooked clock minus the raw clock (s) that the served
   * timestamps get as well (chronyd serves cooked time).
   */
  setSmoothing(offsetAt: ((now: Timestamp) => number) | null, cookedShift?: () => number): void {
    this.#smoothing = offsetAt;
    this.#cooked = cookedShift ?? (() => 0);
    this.#smoothOffset = this.#shift = 0;
  }

  /**
   * The shift (s) to add to the raw receive and transmit timestamps of
   * replies to requests received around `now`: 0 without smoothing, else the
   * cooked shift plus the smoothing offset. Also sets the served reference id
   * and time.
   */
  servedOffset(now: Timestamp): number {
    const f = this.#smoothing;
    if (f === null) return 0;
    const o = this.#leap === LEAP_UNSYNC ? 0 : f(now);
    this.#smoothOffset = o;
    if (o !== 0) this.#smoothRef();
    this.#shift = o + this.#cooked();
    return this.#shift;
  }

  #smoothRef(): void {
    const n = toNtp64(this.#refTime + BigInt(Math.round(this.#smoothOffset * 1e9)));
    this.#smRefHi = n.hi;
    this.#smRefLo = n.lo;
  }

  /**
   * Answers F323 requests (module doc): `correction()` is the sum, in ns, of
   * the offset corrections of the clock since the monotonic epoch `epoch`
   * (a random 32-bit value) began (clock.ts `doffset`s: cooked minus
   * monotonic time). null: such requests are answered without the field.
   */
  setMonotonic(correction: (() => bigint) | null, epoch = 0): void {
    this.#mono = correction;
    this.#monoEpoch = epoch >>> 0;
  }

  /** Replaces the reference and recomputes the served fields at `now`. */
  setReference(reference: ServerReference, now: Timestamp): void {
    this.#ref = reference;
    this.refresh(now);
  }

  /**
   * Recomputes the served header fields from the reference at `now`: whether
   * we serve as synchronised, as the local reference, or unsynchronised, and
   * the root dispersion grown since the reference time. Call after the
   * daemon updates the reference and every second or so (the IO layer does).
   */
  refresh(now: Timestamp): void {
    const r = this.#ref;
    this.#precision = r.precision;
    const elapsed = Number(now - r.refTime) / 1e9;
    const disp = r.rootDispersion + Math.max(0, elapsed) * r.dispersionRate;
    const distance = r.rootDelay / 2 + disp;
    const eligible = r.localEligible ?? true;
    if (r.synchronised && (r.local === null || !eligible || distance < r.local.distance)) {
      this.#set(r.leap, r.stratum, r.rootDelay, disp, r.refId, r.refTime);
    } else if (r.local !== null && eligible) {
      this.#set(0, r.local.stratum, 0, 0, LOCAL_REFERENCE_ID, r.localSince ?? now);
    } else {
      this.#leap = LEAP_UNSYNC;
      this.#stratum = 0;
      this.#rootDelay = toShort(UNSYNC_ROOT);
      this.#rootDisp = toShort(UNSYNC_ROOT);
      this.#delaySec = this.#dispSec = UNSYNC_ROOT;
      this.#refId = 0;
      this.#refHi = this.#refLo = 0;
      this.#smoothOffset = 0;
    }
    if (this.#smoothOffset !== 0) this.#smoothRef();
  }

  #set(leap: number, stratum: number, delay: number, disp: number, id: number, t: Timestamp) {
    this.#leap = leap & 3;
    this.#stratum = stratum;
    this.#rootDelay = toShort(delay);
    this.#rootDisp = toShort(disp);
    this.#delaySec = delay;
    this.#dispSec = disp;
    this.#refId = id >>> 0;
    this.#refTime = t;
    const n = toNtp64(t);
    this.#refHi = n.hi;
    this.#refLo = n.lo;
  }

  /**
   * Answers one request held in `p` (see {@link ServerPacket}). Returns the
   * reply length (48), or 0 if the request is dropped (counted). No allocation.
   */
  process(p: ServerPacket): number {
    const req = p.req, len = p.reqLength;
    p.txPending = false;
    p.txWritten = false;
    p.slot = -1;
    if (len < NTP_HEADER_LENGTH) {
      this.drops.short++;
      return 0;
    }
    if ((len & 3) !== 0) {
      this.drops.malformed++;
      return 0;
    }
    const b0 = req.getUint8(0);
    const version = (b0 >> 3) & 7, mode = b0 & 7;
    if (version < 1 || version > 4) {
      this.drops.badVersion++;
      return 0;
    }
    let replyMode: number;
    if (mode === 3 || (mode === 0 && version === 1)) replyMode = 4;
    else if (mode === 1) replyMode = 2;
    else {
      this.drops.badMode++;
      return 0;
    }
    const scan = this.#scan;
    const trailer = len > NTP_HEADER_LENGTH
      ? classifyTrailer(req, len, version, scan)
      : TRAILER_NONE;
    if (trailer === TRAILER_INVALID) {
      this.drops.malformed++;
      return 0;
    }
    const addr = p.addr;
    if (addr !== null && this.#filter !== null) {
      if (!this.#filter.isAllowedBytes(addr, p.addrOffset, p.family)) {
        this.drops.denied++;
        return 0;
      }
    }
    const log = this.#log;
    let slot = -1, kod = false;
    if (addr !== null && log !== null) {
      const access = log.ntpAccess(addr, p.addrOffset, p.family, p.now, this.#access);
      slot = access.slot;
      const d = access.decision;
      if (d === RATE_DROP) {
        this.drops.rateLimited++;
        return 0;
      }
      if (d === RATE_KOD) {
        this.drops.kod++;
        kod = true;
      }
    }
    let verdict: ServerAuthVerdict = "plain";
    let auth: ServerAuth | null = null;
    if (trailer >= TRAILER_NTS && !kod) {
      // A MAC needs a keyfile and an NTS field the NTS server (and a client
      // request): without them chronyd stays silent, and so do we.
      auth = trailer === TRAILER_MAC ? this.#keyAuth : mode === 3 ? this.#auth : null;
      if (p.reqBytesOf !== req) {
        p.reqBytes = bytesOf(req);
        p.reqBytesOf = req;
      }
      verdict = auth === null ? "drop" : auth.check(p.reqBytes, len);
      if (verdict === "drop" || verdict === "plain") {
        this.drops.authFailed++;
        return 0;
      }
    }
    const poll = req.getUint8(2);
    const oHi = req.getUint32(24), oLo = req.getUint32(28);
    const rHi = req.getUint32(32), rLo = req.getUint32(36);
    const tHi = req.getUint32(40), tLo = req.getUint32(44);
    const interleaved = !kod && slot >= 0 && log !== null && (oHi !== 0 || oLo !== 0) &&
      (oHi !== tHi || oLo !== tLo) && log.matchesHeldRx(slot, oHi, oLo);
    const out = p.out;
    if (kod) {
      out.setUint8(0, (LEAP_UNSYNC << 6) | (version << 3) | replyMode);
      out.setUint8(1, 0);
      out.setUint32(12, KISS_RATE);
    } else {
      out.setUint8(0, (this.#leap << 6) | (version << 3) | replyMode);
      out.setUint8(1, this.#stratum);
      out.setUint32(12, this.#smoothOffset !== 0 ? SMOOTHING_REFERENCE_ID : this.#refId);
    }
    out.setUint8(2, poll);
    out.setInt8(3, this.#precision);
    out.setUint32(4, this.#rootDelay);
    out.setUint32(8, this.#rootDisp);
    if (this.#smoothOffset !== 0) {
      out.setUint32(16, this.#smRefHi);
      out.setUint32(20, this.#smRefLo);
    } else {
      out.setUint32(16, this.#refHi);
      out.setUint32(20, this.#refLo);
    }
    if (interleaved && log !== null) {
      log.countInterleaved();
      out.setUint32(24, rHi);
      out.setUint32(28, rLo);
      out.setUint32(40, log.heldTxHi(slot));
      out.setUint32(44, log.heldTxLo(slot));
    } else {
      out.setUint32(24, tHi);
      out.setUint32(28, tLo);
      out.setUint32(40, p.rxHi); // placeholder until the IO layer stamps it
      out.setUint32(44, p.rxLo);
      p.txPending = true;
    }
    out.setUint32(32, p.rxHi);
    out.setUint32(36, p.rxLo);
    p.slot = kod ? -1 : slot;
    // extfield F324 (ef_f324.ts): found before F323 may overwrite the request's fields in place
    // (no F323/F324 field seen by classifyTrailer: none to find, no walk over the fields)
    const exp = trailer !== TRAILER_NONE && version === 4 && scan.experimental;
    const f324 = !kod && exp && findF324Request(req, len) >= 0;
    let end = this.#mono === null || kod || !exp || findF323Request(req, len) < 0
      ? NTP_HEADER_LENGTH
      : this.#writeF323(out, p.rxHi, p.rxLo);
    if (f324) end += writeF324Reply(out, end, p.ptpCorrection ?? 0);
    if (verdict === "plain" || auth === null) return end;
    if (p.txPending) {
      if (auth.transmitTimeTo !== undefined) {
        const w = this.#txTime;
        auth.transmitTimeTo(w);
        let sec = w[0]!, nsec = w[1]!;
        if (this.#shift !== 0) {
          nsec += Math.round(this.#shift * 1e9);
          const carry = Math.floor(nsec / 1e9);
          sec += carry;
          nsec -= carry * 1e9;
        }
        const hi = ntpWords(sec, nsec);
        writeTransmit(out, hi, txLo);
      } else {
        const tx = auth.transmitTime();
        const t = toNtp64(
          this.#shift === 0 ? tx : tx + BigInt(Math.round(this.#shift * 1e9)),
        );
        writeTransmit(out, t.hi, t.lo);
      }
      p.txPending = false;
      p.txWritten = true;
    }
    if (p.outBytesOf !== out) {
      p.outBytes = bytesOf(out);
      p.outBytesOf = out;
    }
    const n = auth.complete(p.outBytes, end);
    if (n === 0 || n > len) {
      this.drops.authFailed++;
      return 0;
    }
    if (verdict === "ok") log?.countAuthenticated();
    else this.drops.naks++;
    return n;
  }

  /** Our F323 field at 48 for a request received at (rxHi, rxLo) (served time); its end. */
  #writeF323(out: DataView, rxHi: number, rxLo: number): number {
    const ns = this.#mono!() + BigInt(Math.round(this.#smoothOffset * 1e9));
    const rx = (BigInt(rxHi) << 32n) | BigInt(rxLo);
    const mono = BigInt.asUintN(64, rx - (ns << 32n) / 1_000_000_000n);
    writeF323Reply(
      out,
      NTP_HEADER_LENGTH,
      toF323Fixed(this.#delaySec),
      toF323Fixed(this.#dispSec),
      Number(mono >> 32n),
      Number(mono & 0xffffffffn),
      this.#monoEpoch,
    );
    return NTP_HEADER_LENGTH + F323_FIELD_LENGTH;
  }

  /**
   * Writes an NTP broadcast packet (mode 5, chrony.conf(5) `broadcast`) into
   * `out` with the served header fields (as a reply's), `poll` (log2 s),
   * zero origin and receive timestamps and transmit timestamp (hi, lo)
   * (already shifted by {@link servedOffset}). Returns its length (48).
   */
  broadcast(out: DataView, poll: number, txHi: number, txLo: number): number {
    out.setUint8(0, (this.#leap << 6) | (4 << 3) | 5);
    out.setUint8(1, this.#stratum);
    out.setInt8(2, poll);
    out.setInt8(3, this.#precision);
    out.setUint32(4, this.#rootDelay);
    out.setUint32(8, this.#rootDisp);
    const smoothed = this.#smoothOffset !== 0;
    out.setUint32(12, smoothed ? SMOOTHING_REFERENCE_ID : this.#refId);
    out.setUint32(16, smoothed ? this.#smRefHi : this.#refHi);
    out.setUint32(20, smoothed ? this.#smRefLo : this.#refLo);
    for (let i = 24; i < 40; i += 4) out.setUint32(i, 0);
    writeTransmit(out, txHi, txLo);
    return NTP_HEADER_LENGTH;
  }

  /**
   * Tells the server the reply of `p` left with transmit timestamp (txHi,
   * txLo) (the value written for a basic reply, or the software send time
   * for an interleaved one): held for the client's next interleaved request.
   */
  sent(p: ServerPacket, txHi: number, txLo: number): void {
    if (p.slot >= 0 && this.#log !== null) {
      this.#log.holdRaw(p.slot, p.rxHi, p.rxLo, txHi, txLo, p.now);
    }
  }

  /**
   * A kernel TX timestamp (txHi, txLo) of the reply that carried receive
   * timestamp (rxHi, rxLo) to client `slot`: replaces the held transmit
   * timestamp if that reply is still the one held.
   */
  improveTx(slot: number, rxHi: number, rxLo: number, txHi: number, txLo: number): void {
    this.#log?.improveTx(slot, rxHi, rxLo, txHi, txLo);
  }

  /**
   * Convenience form of {@link process} without access check or client log:
   * answers `req` (length `reqLength`) received at `rx` into `out`, stamping
   * the transmit field with `tx` (default `rx`), both moved by the smoothing
   * offset. Returns the reply length or 0.
   */
  respond(req: DataView, reqLength: number, rx: Timestamp, out: DataView, tx?: Timestamp): number {
    const p = this.#scratch;
    p.req = req;
    p.out = out;
    p.reqLength = reqLength;
    p.addr = null;
    const shift = BigInt(Math.round(this.servedOffset(rx) * 1e9));
    const r = toNtp64(rx + shift);
    p.rxHi = r.hi;
    p.rxLo = r.lo;
    p.now = Number(rx) / 1e9;
    const n = this.process(p);
    if (n > 0 && p.txPending) {
      const t = toNtp64((tx ?? rx) + shift);
      writeTransmit(out, t.hi, t.lo);
    }
    return n;
  }
}
