/**
 * Symmetric-key authentication (chrony.conf(5) `key` option, `keyfile`)
 * plugged into the source and the responder, sans-IO:
 * - {@link KeyClientAuth} is a source's {@link SourceAuth}: each request is
 *   signed with key N; a reply passes test 5 only with a MAC made with key N
 *   of the right length for its version. A key missing from the key file
 *   leaves the source silent (nothing unsigned is ever sent); `rekey` that
 *   adds it brings the source back (the key is looked up at each use).
 * - {@link KeyServerAuth} is the responder's {@link ServerAuth} for requests
 *   with a MAC trailer: a request with a valid MAC is answered with a MAC
 *   made with the same key (so the reply is as long as the request); a
 *   crypto-NAK, an unknown key ID or a bad MAC is dropped, which is what
 *   chronyd 4.3 did with each on loopback (no reply, no crypto-NAK).
 *
 * @example
 * ```ts
 * import { KeyClientAuth } from "./key_auth.ts";
 * const key = { id: 1, type: "SHA1" as const, key: new Uint8Array(20), line: 1 };
 * const auth = new KeyClientAuth(1, (id) => (id === 1 ? key : undefined));
 * const header = new Uint8Array(48);
 * header[0] = 0x23;
 * auth.signRequest(header, 0n)?.length; // 72
 * ```
 * @module
 */
import type { Timestamp } from "../time/timestamp.ts";
import type { SymmetricKey } from "./keyfile.ts";
import { signPacket, verifyPacket } from "./mac.ts";
import type { ServerAuth, ServerAuthVerdict } from "./server.ts";
import type { AuthCheck, SourceAuth } from "./source.ts";

/** Looks a key up by ID in the current key file (re-read by `rekey`). */
export type KeyLookup = (keyId: number) => SymmetricKey | undefined;

/** NTP header length. RFC 5905 §7.3. */
const HEADER = 48;

/** A source's symmetric-key authentication; see the module doc. */
export class KeyClientAuth implements SourceAuth {
  /** Key ID of the `key` option. */
  readonly keyId: number;
  readonly #lookup: KeyLookup;

  constructor(keyId: number, lookup: KeyLookup) {
    this.keyId = keyId;
    this.#lookup = lookup;
  }

  /** The key as the key file has it now, or undefined when missing. */
  key(): SymmetricKey | undefined {
    return this.#lookup(this.keyId);
  }

  ready(_now: Timestamp): boolean {
    return true;
  }

  signRequest(header: Uint8Array, _now: Timestamp): Uint8Array | null {
    const key = this.key();
    return key === undefined ? null : signPacket(header, key);
  }

  checkReply(packet: Uint8Array, _now: Timestamp): AuthCheck {
    const r = verifyPacket(packet, (id) => (id === this.keyId ? this.key() : undefined));
    return r.kind === "ok" ? "ok" : "fail";
  }
}

/** Counters of {@link KeyServerAuth}. */
export interface KeyServerAuthStats {
  /** Requests with a valid MAC (answered with one). */
  authenticated: number;
  /** Requests dropped: key unknown. */
  unknownKey: number;
  /** Requests dropped: wrong MAC or length, or a crypto-NAK. */
  badMac: number;
}

/** The responder's symmetric-key authentication; see the module doc. */
export class KeyServerAuth implements ServerAuth {
  readonly stats: KeyServerAuthStats = { authenticated: 0, unknownKey: 0, badMac: 0 };
  readonly #lookup: KeyLookup;
  readonly #now: () => Timestamp;
  #key: SymmetricKey | null = null;

  /** `lookup`: the key file; `now`: real time for the transmit timestamp of replies. */
  constructor(lookup: KeyLookup, now: () => Timestamp) {
    this.#lookup = lookup;
    this.#now = now;
  }

  check(request: Uint8Array, length = request.length): ServerAuthVerdict {
    this.#key = null;
    const r = verifyPacket(
      length < request.length ? request.subarray(0, length) : request,
      this.#lookup,
    );
    switch (r.kind) {
      case "none":
        return "plain";
      case "ok":
        this.#key = r.key;
        this.stats.authenticated++;
        return "ok";
      case "unknown-key":
        this.stats.unknownKey++;
        return "drop";
      default:
        this.stats.badMac++;
        return "drop";
    }
  }

  complete(reply: Uint8Array, fieldsEnd = HEADER): number {
    const key = this.#key;
    this.#key = null;
    if (key === null) return 0;
    // the MAC covers our extension fields too (F323), as chronyd's does
    const signed = signPacket(reply.subarray(0, fieldsEnd), key);
    if (signed.length > reply.length) return 0;
    reply.set(signed);
    return signed.length;
  }

  transmitTime(): Timestamp {
    return this.#now();
  }
}
