/**
 * NTS on the NTP server (RFC 8915 §5.7), sans-IO: lib/ntp's `ServerAuth`
 * over a {@link ServerKeyRing}. A v4 request whose extension fields include
 * a Unique Identifier is an NTS request: the cookie is opened with the ring,
 * the Authenticator checked with the C2S key; the reply gets the Unique
 * Identifier back and one new cookie per cookie and placeholder sent (at
 * most 8), encrypted with the S2C key. A cookie the ring cannot open (key
 * rotated out, altered) or an Authenticator that does not verify gets an NTS
 * NAK; malformed NTS fields are dropped. Requests without a Unique
 * Identifier are plain NTP.
 *
 * @example
 * ```ts
 * import { NtsServerAuth } from "./server_auth.ts";
 * import { ServerKeyRing } from "./cookie.ts";
 * import { NtpServer, unsynchronisedReference } from "../ntp/server.ts";
 * const rnd = (n: number) => crypto.getRandomValues(new Uint8Array(n));
 * const ring = ServerKeyRing.fresh(rnd(36), 0n, 604800);
 * const server = new NtpServer({
 *   reference: unsynchronisedReference(-20),
 *   auth: new NtsServerAuth({ ring, randomBytes: rnd, now: () => 0n }),
 * });
 * ```
 * @module
 */

import { EF_NTS_UNIQUE_IDENTIFIER } from "../ntp/extension_field.ts";
import type { ServerAuth, ServerAuthVerdict } from "../ntp/server.ts";
import type { Timestamp } from "../time/timestamp.ts";
import { COOKIE_NONCE_LENGTH, type ServerKeyRing } from "./cookie.ts";
import {
  buildNtsNak,
  buildNtsReply,
  NTS_NONCE_LENGTH,
  NtsAuthError,
  requestUniqueId,
  type VerifiedNtsRequest,
  verifyNtsRequest,
} from "./ntp_auth.ts";
import { aeadById } from "./siv.ts";

/** NTP header length. RFC 5905 §7.3. */
const HEADER_LENGTH = 48;

/** Options of {@link NtsServerAuth}. */
export interface NtsServerAuthOptions {
  /** The cookie keys shared with the NTS-KE server. */
  ring: ServerKeyRing;
  /** `n` random bytes (nonces). */
  randomBytes: (n: number) => Uint8Array;
  /** Current real time (transmit timestamps of authenticated replies). */
  now: () => Timestamp;
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

/** Quick scan: does the request carry a Unique Identifier field? */
function hasUniqueId(req: Uint8Array): boolean {
  let o = HEADER_LENGTH;
  while (o + 4 <= req.length) {
    const type = (req[o]! << 8) | req[o + 1]!;
    const len = (req[o + 2]! << 8) | req[o + 3]!;
    if (type === EF_NTS_UNIQUE_IDENTIFIER) return true;
    if (len < 4 || len % 4 !== 0) return false;
    o += len;
  }
  return false;
}

/** The NTP server's NTS; see the module doc. */
export class NtsServerAuth implements ServerAuth {
  readonly stats: NtsServerAuthStats = { authenticated: 0, naks: 0, dropped: 0 };
  readonly #ring: ServerKeyRing;
  readonly #random: (n: number) => Uint8Array;
  readonly #now: () => Timestamp;
  #verified: VerifiedNtsRequest | null = null;
  #nakId: Uint8Array | null = null;

  constructor(options: NtsServerAuthOptions) {
    this.#ring = options.ring;
    this.#random = options.randomBytes;
    this.#now = options.now;
  }

  check(request: Uint8Array): ServerAuthVerdict {
    this.#verified = null;
    this.#nakId = null;
    if (!hasUniqueId(request)) return "plain";
    try {
      const v = verifyNtsRequest(request, (c) => this.#ring.openCookie(c));
      // The reply overwrites the request's bytes: keep what we need.
      v.uniqueId = v.uniqueId.slice();
      this.#verified = v;
      this.stats.authenticated++;
      return "ok";
    } catch (e) {
      if (!(e instanceof NtsAuthError)) throw e;
      const id = e.nak ? requestUniqueId(request) : null;
      if (id) {
        this.#nakId = id.slice();
        this.stats.naks++;
        return "nak";
      }
      this.stats.dropped++;
      return "drop";
    }
  }

  complete(reply: Uint8Array): number {
    const header = reply.subarray(0, HEADER_LENGTH);
    let out: Uint8Array;
    if (this.#nakId) {
      out = buildNtsNak(header, this.#nakId);
    } else {
      const v = this.#verified;
      const aead = v ? aeadById(v.keys.aead) : undefined;
      if (!v || !aead) return 0;
      const cookies: Uint8Array[] = [];
      for (let i = 0; i < v.cookiesWanted; i++) {
        cookies.push(this.#ring.makeCookie(v.keys, this.#random(COOKIE_NONCE_LENGTH)));
      }
      out = buildNtsReply(header, {
        uniqueId: v.uniqueId,
        aead,
        s2c: v.keys.s2c,
        cookies,
        nonce: this.#random(NTS_NONCE_LENGTH),
      });
    }
    this.#verified = null;
    this.#nakId = null;
    if (out.length > reply.length) return 0;
    reply.set(out);
    return out.length;
  }

  transmitTime(): Timestamp {
    return this.#now();
  }
}
