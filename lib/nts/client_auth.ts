/**
 * The NTS client side of one NTP source (RFC 8915 §5.7), sans-IO: holds the
 * keys and cookies of the last NTS-KE exchange in a {@link CookieJar}, signs
 * each request (Unique Identifier, Cookie, Cookie Placeholders so the jar is
 * refilled to 8, Authenticator) and checks each reply (our Unique
 * Identifier, the Authenticator with the S2C key), keeping the new cookies.
 * It implements lib/ntp's `SourceAuth`: `ready()` is false while a new
 * NTS-KE is needed (no keys yet, cookies used up, an NTS NAK, or `ntsrefresh`
 * seconds since the last one). Running NTS-KE is the caller's job
 * (lib/daemon/nts_client.ts), which hands the result to {@link installKe}.
 *
 * @example
 * ```ts
 * import { NtsClientAuth } from "./client_auth.ts";
 * const auth = new NtsClientAuth({ randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)) });
 * auth.ready(0n); // false: no NTS-KE yet
 * ```
 * @module
 */

import type { AuthCheck, SourceAuth } from "../ntp/source.ts";
import type { Timestamp } from "../time/timestamp.ts";
import { CookieJar, DEFAULT_NTS_REFRESH, type NtsClientState } from "./cookie.ts";
import { buildNtsRequest, NtsAuthError, UNIQUE_ID_LENGTH, verifyNtsReply } from "./ntp_auth.ts";
import { type Aead, aeadById } from "./siv.ts";

/** Options of {@link NtsClientAuth}. */
export interface NtsClientAuthOptions {
  /** `n` random bytes (unique identifiers, nonces). */
  randomBytes: (n: number) => Uint8Array;
  /** `ntsrefresh`, seconds (default 2419200). */
  refresh?: number;
}

/** What `chronyc authdata` shows for an NTS source. */
export interface NtsAuthData {
  /** AEAD id of the keys (15 = AES-SIV-CMAC-256), 0 before the first NTS-KE. */
  aead: number;
  /** Key length, bits (256 for AES-SIV-CMAC-256). */
  keyBits: number;
  /** Seconds since the last successful NTS-KE, or null if none. */
  lastKeAgo: number | null;
  /** NTS-KE attempts since the last success (chrony's "Atmp"). */
  keAttempts: number;
  /** NTS NAKs received since the last NTS-KE (chrony's "NAK"). */
  naks: number;
  /** Cookies held. */
  cookies: number;
  /** Length of the cookies held, bytes (0 with none). */
  cookieLength: number;
}

/** NTS request signing and reply checking for one source; see the module doc. */
export class NtsClientAuth implements SourceAuth {
  readonly #random: (n: number) => Uint8Array;
  readonly #refresh: number;
  #jar: CookieJar | null = null;
  #aead: Aead | null = null;
  /** Unique Identifier of the last signed request, until its reply verifies. */
  #pending: Uint8Array | null = null;
  #attempts = 0;
  #naks = 0;
  #lastCookieLength = 0;

  constructor(options: NtsClientAuthOptions) {
    this.#random = options.randomBytes;
    this.#refresh = options.refresh ?? DEFAULT_NTS_REFRESH;
  }

  /** The keys and cookies held (for the `ntsdumpdir` file), or null. */
  get state(): NtsClientState | null {
    return this.#jar?.state ?? null;
  }

  /** True when a new NTS-KE exchange is needed at `now`. */
  needsKe(now: Timestamp): boolean {
    return this.#jar === null || this.#jar.needsKe(now, this.#refresh);
  }

  /** Counts an NTS-KE attempt (call when one starts). */
  keStarted(): void {
    this.#attempts++;
  }

  /**
   * Installs the result of an NTS-KE exchange (or a state reloaded from
   * `ntsdumpdir`). Throws RangeError for an AEAD horae does not implement.
   */
  installKe(state: NtsClientState, options: { reloaded?: boolean } = {}): void {
    const aead = aeadById(state.aead);
    if (!aead) throw new RangeError(`unsupported AEAD ${state.aead}`);
    this.#aead = aead;
    this.#jar = new CookieJar({ ...state, cookies: [...state.cookies] });
    this.#pending = null;
    if (!options.reloaded) {
      this.#attempts = 0;
      this.#naks = 0;
    }
  }

  /** Forgets keys and cookies (a new NTS-KE follows). */
  reset(): void {
    this.#jar = null;
    this.#pending = null;
  }

  ready(now: Timestamp): boolean {
    return !this.needsKe(now);
  }

  signRequest(header: Uint8Array, now: Timestamp): Uint8Array | null {
    const jar = this.#jar;
    const aead = this.#aead;
    if (!jar || !aead || this.needsKe(now)) return null;
    const taken = jar.take();
    if (!taken) return null;
    this.#lastCookieLength = taken.cookie.length;
    const uniqueId = this.#random(UNIQUE_ID_LENGTH).slice();
    this.#pending = uniqueId;
    return buildNtsRequest(header, {
      uniqueId,
      cookie: taken.cookie,
      placeholders: taken.placeholders,
      aead,
      c2s: jar.state.c2s,
      nonce: this.#random(aead.nonceLength),
    });
  }

  checkReply(packet: Uint8Array, _now: Timestamp): AuthCheck {
    const jar = this.#jar;
    const aead = this.#aead;
    const uniqueId = this.#pending;
    if (!jar || !aead || !uniqueId) return "fail";
    try {
      const r = verifyNtsReply(packet, { uniqueId, aead, s2c: jar.state.s2c });
      this.#pending = null;
      if (r.kind === "nak") {
        this.#naks++;
        this.#jar = null; // RFC 8915 §5.7: on NTSN, run NTS-KE again
        return "nak";
      }
      jar.add(r.cookies);
      return "ok";
    } catch (e) {
      if (e instanceof NtsAuthError) return "fail";
      throw e;
    }
  }

  /** Data for `chronyc authdata` at `now`. */
  authData(now: Timestamp): NtsAuthData {
    const s = this.#jar?.state;
    const cookies = s?.cookies ?? [];
    return {
      aead: this.#aead?.id ?? 0,
      keyBits: (this.#aead?.keyLength ?? 0) * 8,
      lastKeAgo: s ? Math.max(0, Number(now - s.keTime) / 1e9) : null,
      keAttempts: this.#attempts,
      naks: this.#naks,
      cookies: cookies.length,
      cookieLength: cookies[0]?.length ?? this.#lastCookieLength,
    };
  }
}
