/**
 * NTS on the NTP server (RFC 8915 §5.7), sans-IO: lib/ntp's `ServerAuth`
 * over a {@link ServerKeyRing}, asked by the responder for a v4 client
 * request with an NTS field. Decisions as chronyd 4.3 makes them (observed
 * on loopback): a request without a Unique Identifier, Cookie or
 * Authenticator, with two Cookies, Cookies and Placeholders of different
 * lengths, or a field after the Authenticator is dropped; a cookie the ring
 * cannot open, an Authenticator with a nonce under 16 bytes, lengths past
 * the field or that does not verify gets an NTS NAK (leap 3, stratum 0,
 * "NTSN", the Unique Identifiers); otherwise the reply echoes every Unique
 * Identifier field and carries one new cookie per Cookie and Placeholder
 * (also encrypted ones, at most 8) sealed with the S2C key, padded with zeros
 * at the end of the Authenticator to the request's length.
 *
 * @example
 * ```ts
 * import { NtsServerAuth } from "./server_auth.ts";
 * import { ServerKeyRing } from "./cookie.ts";
 * import { NtpServer, unsynchronisedReference } from "../ntp/server.ts";
 * const rnd = (n: number) => crypto.getRandomValues(new Uint8Array(n));
 * const ring = ServerKeyRing.fresh(rnd(144), 0n, 604800);
 * const server = new NtpServer({
 *   reference: unsynchronisedReference(-20),
 *   auth: new NtsServerAuth({ ring, randomBytes: rnd, now: () => 0n }),
 * });
 * ```
 * @module
 */

import {
  EF_HEADER_LENGTH,
  EF_NTS_AUTH_AND_EEF,
  EF_NTS_COOKIE,
  EF_NTS_COOKIE_PLACEHOLDER,
  EF_NTS_UNIQUE_IDENTIFIER,
} from "../ntp/extension_field.ts";
import type { ServerAuth, ServerAuthVerdict } from "../ntp/server.ts";
import type { Timestamp } from "../time/timestamp.ts";
import { copyBytes } from "../crypto/cmac.ts";
import { AesSivKey, SivNonces } from "../crypto/siv.ts";
import {
  COOKIE_LENGTH,
  COOKIE_NONCE_LENGTH,
  COOKIE_PLAIN_LENGTH,
  type ServerKeyRing,
} from "./cookie.ts";
import {
  KISS_NTSN,
  MAX_REPLY_COOKIES,
  NTS_NONCE_LENGTH,
  NtsRequestLayout,
  readAuthenticatorLayout,
  scanNtsRequest,
  validFields,
} from "./ntp_auth.ts";
import { AES_128_GCM_SIV } from "./siv.ts";

/** NTP header length. RFC 5905 §7.3. */
const HEADER_LENGTH = 48;
/** AES-SIV tag length. RFC 5297 §2.6. */
const TAG_LENGTH = 16;
/** Random bytes fetched at once and handed out as nonces. */
const RANDOM_POOL = 4096;
/**
 * Slots of the client key cache (a power of two): scheduled C2S/S2C AES-SIV
 * keys of recent clients, direct-mapped by the first bytes of the C2S key
 * (random, so evenly spread). A client polling again, or sending a burst,
 * skips the key set-up (two AES key schedules, the CMAC subkeys and CMAC of
 * zero: seven OpenSSL calls). About 3 KB of OpenSSL contexts per slot, made
 * on first use.
 */
const KEY_CACHE_SLOTS = 64;

/** One slot of the client key cache. */
interface CachedKeys {
  /** The cookie plaintext (AEAD id, 0x0000, C2S, S2C) the keys were scheduled from. */
  keys: Uint8Array;
  /** The same as 17 words (compared a word at a time). */
  keys32: Int32Array;
  c2s: AesSivKey;
  s2c: AesSivKey;
}

/** Options of {@link NtsServerAuth}. */
export interface NtsServerAuthOptions {
  /** The cookie keys shared with the NTS-KE server. */
  ring: ServerKeyRing;
  /** `n` random bytes (nonces; asked for in blocks of a few KiB). */
  randomBytes: (n: number) => Uint8Array;
  /** Current real time (transmit timestamps of authenticated replies). */
  now: () => Timestamp;
  /**
   * The same clock as `now` without a BigInt: Unix seconds at `out[0]`,
   * nanoseconds at `out[1]` (lib/io/realtime.ts `realNowTo`). Absent: from `now`.
   */
  nowTo?: (out: Float64Array) => void;
  /** Fills `buf` with random bytes in place (nonces); absent: `randomBytes`. */
  randomFill?: (buf: Uint8Array) => void;
}

/** Counters of NTS on the NTP server. */
export interface NtsServerAuthStats {
  /** Requests that verified. */
  authenticated: number;
  /** NAKs decided (cookie not opened, Authenticator failed). */
  naks: number;
  /** Malformed NTS requests dropped. */
  dropped: number;
}

/**
 * The NTP server's NTS; see the module doc. Works on the packet bytes in
 * place with buffers of its own (no allocation per request): the request's
 * field offsets ({@link scanNtsRequest}), the cookie's keys, the Unique
 * Identifier kept for the reply, and a pool of random bytes for nonces.
 */
export class NtsServerAuth implements ServerAuth {
  readonly stats: NtsServerAuthStats = { authenticated: 0, naks: 0, dropped: 0 };
  readonly #ring: ServerKeyRing;
  readonly #random: (n: number) => Uint8Array;
  readonly #now: () => Timestamp;
  readonly #randomFill: ((buf: Uint8Array) => void) | null;
  readonly #layout = new NtsRequestLayout();
  /** The request's cookie plaintext: AEAD id, 0x0000, C2S, S2C. */
  readonly #keys = new Uint8Array(COOKIE_PLAIN_LENGTH);
  readonly #keys32 = new Int32Array(this.#keys.buffer, 0, COOKIE_PLAIN_LENGTH >> 2);
  readonly #c2s = this.#keys.subarray(4, 36);
  readonly #s2c = this.#keys.subarray(36, 68);
  /** Client key cache (see {@link KEY_CACHE_SLOTS}); the slot of the request being answered. */
  readonly #cache: (CachedKeys | undefined)[] = new Array(KEY_CACHE_SLOTS);
  #slot: CachedKeys | null = null;
  /** Cache hits and misses (key set-ups). */
  readonly keyCache = { hits: 0, misses: 0 };
  /** Decrypted Authenticator plaintext of the request (grows when needed). */
  #plain = new Uint8Array(256);
  /** The request's Unique Identifier fields, whole, echoed in the reply. */
  #uid = new Uint8Array(2048);
  #uidLength = 0;
  #requestLength = 0;
  #verdict: ServerAuthVerdict = "drop";
  /** Cookies the reply carries. */
  #cookies = 0;
  #pool: Uint8Array = new Uint8Array(0);
  #poolAt = 0;
  /** Nonces of the cookies made, with their CMACs under the current server key (made on first use). */
  #cookieNonces: SivNonces | null = null;
  /** The request's cookie holds AES-128-GCM-SIV keys (AEAD 30): the general path. */
  #gcm = false;

  constructor(options: NtsServerAuthOptions) {
    this.#ring = options.ring;
    this.#random = options.randomBytes;
    this.#now = options.now;
    this.#randomFill = options.randomFill ?? null;
    const nowTo = options.nowTo;
    if (nowTo !== undefined) this.transmitTimeTo = nowTo;
  }

  /** Set from the `nowTo` option (the responder then reads no BigInt clock). */
  transmitTimeTo?: (out: Float64Array) => void;

  check(request: Uint8Array, length = request.length): ServerAuthVerdict {
    this.#verdict = "drop";
    this.#gcm = false;
    const l = this.#layout;
    if (scanNtsRequest(request, length, l) !== null) return this.#drop();
    // The reply overwrites the request's bytes: keep the Unique Identifiers.
    if (this.#uid.length < l.uidTotal) this.#uid = new Uint8Array(l.uidTotal);
    for (let o = HEADER_LENGTH, n = 0; o < l.authAt; o += get16(request, o + 2)) {
      if (get16(request, o) !== EF_NTS_UNIQUE_IDENTIFIER) continue;
      const len = get16(request, o + 2);
      copyBytes(request, o, this.#uid, n, len);
      n += len;
    }
    this.#uidLength = l.uidTotal;
    this.#requestLength = length;
    if (!this.#ring.openCookieTo(request, l.cookieAt, l.cookieLength, this.#keys)) {
      return this.#nak();
    }
    if (!readAuthenticatorLayout(request, l)) return this.#nak();
    if (this.#keys[0] === 0 && this.#keys[1] === AES_128_GCM_SIV.id) return this.#checkGcm(request);
    if (l.nonceLength < NTS_NONCE_LENGTH) return this.#nak();
    const siv = this.#keysOf(this.#keys).c2s;
    const n = l.ciphertextLength - TAG_LENGTH;
    if (n > this.#plain.length) this.#plain = new Uint8Array(n);
    const ok = siv.openTo(
      request,
      0,
      l.authAt,
      request,
      l.nonceAt,
      l.nonceLength,
      request,
      l.ciphertextAt,
      l.ciphertextLength,
      this.#plain,
      0,
    );
    if (!ok) return this.#nak();
    if (!validFields(this.#plain, 0, n)) return this.#drop();
    // Placeholders inside the Authenticator ask for cookies too (as chronyd).
    let wanted = l.cookiesRequested;
    for (let o = 0; o < n; o += get16(this.#plain, o + 2)) {
      if (get16(this.#plain, o) === EF_NTS_COOKIE_PLACEHOLDER) wanted++;
    }
    this.#cookies = Math.min(MAX_REPLY_COOKIES, wanted);
    this.stats.authenticated++;
    return this.#verdict = "ok";
  }

  complete(reply: Uint8Array, fieldsEnd = HEADER_LENGTH): number {
    const verdict = this.#verdict;
    this.#verdict = "drop";
    if (verdict === "nak") return this.#completeNak(reply);
    if (verdict !== "ok") return 0;
    // our fields (F323) stay before the Unique Identifier, as chronyd 4.3 orders them
    if (this.#gcm) return this.#completeGcm(reply, fieldsEnd);
    const uidLength = this.#uidLength;
    const cookies = this.#cookies;
    // Authenticator: header, nonce length, ciphertext length, nonce, tag, cookies.
    const authAt = fieldsEnd + uidLength;
    const nonceAt = authAt + EF_HEADER_LENGTH + 4;
    const ptAt = nonceAt + NTS_NONCE_LENGTH + TAG_LENGTH;
    // 96-byte cookies under a chronyd 4.8 AES-128-GCM-SIV server key (server_keys.ts)
    const cookieField = EF_HEADER_LENGTH + this.#ring.cookieLength(false);
    const ptLength = cookies * cookieField;
    const sealedEnd = ptAt + ptLength;
    if (sealedEnd > this.#requestLength || this.#requestLength > reply.length) return 0;
    // As chronyd, the reply is as long as the request: zero padding ends the
    // Authenticator (RFC 8915 §5.6 "additional padding").
    const end = this.#requestLength;
    copyBytes(this.#uid, 0, reply, fieldsEnd, uidLength);
    put16(reply, authAt, EF_NTS_AUTH_AND_EEF);
    put16(reply, authAt + 2, end - authAt);
    put16(reply, authAt + 4, NTS_NONCE_LENGTH);
    put16(reply, authAt + 6, TAG_LENGTH + ptLength);
    // 16 secret random bytes, from which the sealing makes the nonce (saving an FFI call)
    this.#randomTo(reply, nonceAt, NTS_NONCE_LENGTH);
    const ring = this.#ring, nonces = this.#cookieNonces ??= this.#newCookieNonces();
    for (let c = 0, o = ptAt; c < cookies; c++, o += cookieField) {
      put16(reply, o, EF_NTS_COOKIE);
      put16(reply, o + 2, cookieField);
      if (cookieField === EF_HEADER_LENGTH + COOKIE_LENGTH) {
        ring.makeCookieFromPool(this.#keys, nonces, reply, o + EF_HEADER_LENGTH);
      } else {
        const nonce = this.#randomTo(null, 0, COOKIE_NONCE_LENGTH);
        ring.makeCookieTo(this.#keys, this.#pool, nonce, reply, o + EF_HEADER_LENGTH);
      }
    }
    if (sealedEnd < end) reply.fill(0, sealedEnd, end);
    this.#slot!.s2c.sealToFreshNonce(
      reply,
      0,
      authAt,
      reply,
      nonceAt,
      reply,
      ptAt,
      ptLength,
      reply,
      ptAt - TAG_LENGTH,
    );
    return end;
  }

  /** {@linkcode check} for a cookie of AES-128-GCM-SIV keys (16-byte C2S at 4, S2C at 20). */
  #checkGcm(request: Uint8Array): ServerAuthVerdict {
    const l = this.#layout;
    const plain = AES_128_GCM_SIV.open(
      this.#keys.subarray(4, 20),
      request.subarray(l.nonceAt, l.nonceAt + l.nonceLength),
      request.subarray(0, l.authAt),
      request.subarray(l.ciphertextAt, l.ciphertextAt + l.ciphertextLength),
    );
    if (!plain) return this.#nak();
    if (!validFields(plain, 0, plain.length)) return this.#drop();
    let wanted = l.cookiesRequested;
    for (let o = 0; o < plain.length; o += get16(plain, o + 2)) {
      if (get16(plain, o) === EF_NTS_COOKIE_PLACEHOLDER) wanted++;
    }
    this.#cookies = Math.min(MAX_REPLY_COOKIES, wanted);
    this.#gcm = true;
    this.stats.authenticated++;
    return this.#verdict = "ok";
  }

  /**
   * {@linkcode complete} with AES-128-GCM-SIV: a 12-byte nonce, the
   * ciphertext (68-byte cookies) followed by the tag; as long as the request.
   */
  #completeGcm(reply: Uint8Array, fieldsEnd: number): number {
    const uidLength = this.#uidLength;
    const nonceLength = AES_128_GCM_SIV.nonceLength;
    const authAt = fieldsEnd + uidLength;
    const nonceAt = authAt + EF_HEADER_LENGTH + 4;
    const ctAt = nonceAt + nonceLength;
    const cookieField = EF_HEADER_LENGTH + this.#ring.cookieLength(true);
    const plain = new Uint8Array(this.#cookies * cookieField);
    const sealedEnd = ctAt + plain.length + AES_128_GCM_SIV.overhead;
    if (sealedEnd > this.#requestLength || this.#requestLength > reply.length) return 0;
    const end = this.#requestLength;
    for (let i = 0; i < uidLength; i++) reply[fieldsEnd + i] = this.#uid[i]!;
    put16(reply, authAt, EF_NTS_AUTH_AND_EEF);
    put16(reply, authAt + 2, end - authAt);
    put16(reply, authAt + 4, nonceLength);
    put16(reply, authAt + 6, plain.length + AES_128_GCM_SIV.overhead);
    this.#randomTo(reply, nonceAt, nonceLength);
    for (let o = 0; o < plain.length; o += cookieField) {
      put16(plain, o, EF_NTS_COOKIE);
      put16(plain, o + 2, cookieField);
      const nonce = this.#randomTo(null, 0, COOKIE_NONCE_LENGTH);
      this.#ring.makeCookieTo(this.#keys, this.#pool, nonce, plain, o + EF_HEADER_LENGTH);
    }
    const sealed = AES_128_GCM_SIV.seal(
      this.#keys.subarray(20, 36),
      reply.slice(nonceAt, ctAt),
      reply.slice(0, authAt),
      plain,
    );
    reply.set(sealed, ctAt);
    reply.fill(0, sealedEnd, end);
    return end;
  }

  transmitTime(): Timestamp {
    return this.#now();
  }

  /** NTS NAK (RFC 8915 §5.7): kiss-o'-death NTSN plus the Unique Identifier. */
  #completeNak(reply: Uint8Array): number {
    const end = HEADER_LENGTH + this.#uidLength;
    if (end > reply.length) return 0;
    reply[0] = 0xc0 | (reply[0]! & 0x3f); // leap 3 (unsynchronised), as chronyd's NAK
    reply[1] = 0; // stratum 0: kiss-o'-death. RFC 5905 §7.4
    put16(reply, 12, KISS_NTSN >>> 16);
    put16(reply, 14, KISS_NTSN & 0xffff);
    for (let i = 0; i < this.#uidLength; i++) reply[HEADER_LENGTH + i] = this.#uid[i]!;
    return end;
  }

  #nak(): ServerAuthVerdict {
    this.stats.naks++;
    return this.#verdict = "nak";
  }

  #drop(): ServerAuthVerdict {
    this.stats.dropped++;
    return "drop";
  }

  /** The scheduled keys of a cookie plaintext, from the cache or set up in its slot. */
  #keysOf(keys: Uint8Array): CachedKeys {
    const i = keys[4]! & (KEY_CACHE_SLOTS - 1);
    let e = this.#cache[i];
    if (e !== undefined) {
      const k = e.keys32, w = this.#keys32;
      let same = true;
      for (let j = 1; j < COOKIE_PLAIN_LENGTH >> 2; j++) {
        if (k[j] !== w[j]) {
          same = false;
          break;
        }
      }
      if (same) {
        this.keyCache.hits++;
        return this.#slot = e;
      }
      e.c2s.setKey(this.#c2s);
      e.s2c.setKey(this.#s2c);
      e.keys.set(keys);
    } else {
      const copy = keys.slice();
      e = {
        keys: copy,
        keys32: new Int32Array(copy.buffer, 0, COOKIE_PLAIN_LENGTH >> 2),
        c2s: AesSivKey.create(this.#c2s),
        s2c: AesSivKey.create(this.#s2c),
      };
      this.#cache[i] = e;
    }
    this.keyCache.misses++;
    return this.#slot = e;
  }

  /** The cookie nonce pool, filled from the random source. */
  #newCookieNonces(): SivNonces {
    const fill = this.#randomFill;
    return new SivNonces(fill ?? ((buf) => buf.set(this.#random(buf.length))));
  }

  /**
   * Takes `n` bytes from the random pool: copied to `out[at]`, or (out null)
   * left in the pool at the returned offset.
   */
  #randomTo(out: Uint8Array | null, at: number, n: number): number {
    if (this.#poolAt + n > this.#pool.length) {
      if (this.#randomFill !== null && this.#pool.length === RANDOM_POOL) {
        this.#randomFill(this.#pool);
      } else this.#pool = this.#random(RANDOM_POOL);
      this.#poolAt = 0;
    }
    const from = this.#poolAt;
    this.#poolAt += n;
    if (out !== null) copyBytes(this.#pool, from, out, at, n);
    return from;
  }
}

function get16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v & 0xff;
}
