/**
 * NTS cookies on both sides (RFC 8915 §6) and their files in `ntsdumpdir`.
 *
 * Server: {@linkcode ServerKeyRing} holds the cookie-encrypting keys as
 * chronyd does: two previous keys, the current one and the next one, rotated
 * every `ntsrotate` seconds (chrony.conf(5)); it seals the client's C2S/S2C
 * keys into cookies and opens cookies made under any of the four.
 * Client: {@linkcode CookieJar} holds the keys and cookies of one NTS-KE
 * exchange and says how many placeholders a request needs.
 *
 * Cookie format, interchangeable with chronyd 4.3's (learned by decrypting
 * the cookies it issues with the key from its ntskeys file): key id (4 bytes,
 * big endian) || nonce (16 bytes) || AES-SIV-CMAC-256(server key, AD = one
 * empty component, nonce, C2S key || S2C key) (16-byte tag, 64 bytes): 100
 * bytes. The AEAD is not recorded: 100-byte cookies hold AES-SIV-CMAC-256
 * (15) keys; 68-byte ones (two 16-byte keys) AES-128-GCM-SIV (30) keys.
 *
 * Key file (`ntsdumpdir`/ntskeys), the formats chronyd writes, so servers
 * sharing it accept each other's cookies: chronyd 4.3's `NKS0` and 4.8's
 * `NKS1` (a per-key AEAD), parsed and written by `server_keys.ts` (which
 * says which one horae writes and why); the keys oldest first, the third
 * the current key, the fourth the next one. chronyd finds a cookie's key by
 * the low two bits of its id (its slot): successive keys take successive
 * slots, so horae makes its ids that way too. A key for AES-128-GCM-SIV (30,
 * from chronyd 4.8) seals and opens its cookies in `server_keys.ts` (12-byte
 * nonce: 96 or 64 bytes). horae's former file (`horae-nts-server-keys 1`)
 * is still read: {@linkcode parseServerKeys} converts it.
 *
 * Sans-IO: the time and random bytes are parameters; the format functions
 * return/take text, the daemon does the (atomic) file writes.
 *
 * @example
 * ```ts
 * import { ServerKeyRing } from "./cookie.ts";
 * const ring = ServerKeyRing.fresh(crypto.getRandomValues(new Uint8Array(144)), 0n, 604800);
 * const c = ring.makeCookie({ aead: 15, c2s: new Uint8Array(32), s2c: new Uint8Array(32) }, new Uint8Array(16));
 * ring.openCookie(c)?.aead; // 15
 * ```
 * @module
 */

import type { Timestamp } from "../time/timestamp.ts";
import { AesSivKey, type SivNonces } from "../crypto/siv.ts";
import { aeadById, AES_SIV_CMAC_256 } from "./siv.ts";
import {
  cookieKeyId,
  formatServerKeyFile,
  GCM_KEY_COOKIE_LENGTH,
  GCM_KEY_COOKIE_LENGTH_128GCM,
  NtsDumpError,
  openUnderGcmSivKey,
  parseServerKeyFile,
  putCookieKeyId,
  sealUnderGcmSivKey,
  type ServerKey,
  serverKeyLength,
} from "./server_keys.ts";

export { NtsDumpError, type ServerKey };

/** Keys of one NTS association, as carried in a cookie. */
export interface CookieKeys {
  /** AEAD id (RFC 8915 §5.1), e.g. 15. */
  aead: number;
  /** Client-to-server key. */
  c2s: Uint8Array;
  /** Server-to-client key. */
  s2c: Uint8Array;
}

/** Nonce length in a cookie, bytes (as chronyd's; RFC 5297 recommends 16 for nonce-based SIV). */
export const COOKIE_NONCE_LENGTH = 16;
/**
 * The keys buffer of {@linkcode ServerKeyRing.makeCookieTo} and
 * {@linkcode ServerKeyRing.openCookieTo}: AEAD id (2 bytes), 0x0000, C2S key,
 * S2C key (AES-SIV-CMAC-256: two 32-byte keys). Only the keys are sealed.
 */
export const COOKIE_PLAIN_LENGTH = 4 + 2 * 32;
/** What a cookie encrypts: C2S key || S2C key. */
const COOKIE_SEALED_LENGTH = 2 * 32;
/** Cookie length: key id, nonce, tag, the encrypted keys: 100 bytes, as chronyd's. */
export const COOKIE_LENGTH = 4 + COOKIE_NONCE_LENGTH + 16 + COOKIE_SEALED_LENGTH;
/**
 * Cookie of AES-128-GCM-SIV keys (AEAD 30: two 16-byte keys, sealed the same
 * way): 68 bytes. The length tells a cookie's AEAD.
 */
export const COOKIE_LENGTH_128GCM = 4 + COOKIE_NONCE_LENGTH + 16 + 2 * 16;
/** AEAD id of AES-128-GCM-SIV (RFC 8452). */
const AEAD_128GCM = 30;
/** Server keys kept: two previous, the current and the next one (chronyd's ntskeys holds 4). */
export const SERVER_KEYS_KEPT = 4;
/** Index of the current key in {@linkcode ServerKeyRing.all} (oldest first). */
const CURRENT = 2;
/** Bytes of randomness one key takes: 4 for the id, 32 for the key. */
export const SERVER_KEY_RANDOM_LENGTH = 36;
/** Default `ntsrotate`, seconds. chrony.conf(5). */
export const DEFAULT_NTS_ROTATE = 604800;
/** Default `ntsrefresh`, seconds. chrony.conf(5). */
export const DEFAULT_NTS_REFRESH = 2419200;
/** Cookies a client keeps. RFC 8915 §4.1.6 (a server sends 8). */
export const MAX_COOKIES = 8;

const COOKIE_KEY = AES_SIV_CMAC_256;

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

const EMPTY = new Uint8Array(0);

/** A key from 36 random bytes whose id takes the slot (low two bits) `slot`. */
function keyFrom(random: Uint8Array, at: number, slot: number): ServerKey {
  const word = new DataView(random.buffer, random.byteOffset + at, 4).getUint32(0);
  return {
    id: ((word & ~3) | (slot & 3)) >>> 0,
    key: random.slice(at + 4, at + SERVER_KEY_RANDOM_LENGTH),
  };
}

function unhex(s: string, line: number, what: string): Uint8Array {
  if (!/^([0-9a-f]{2})*$/i.test(s)) throw new NtsDumpError(line, `${what} is not hex`);
  return Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
}

/**
 * Cookie-encrypting keys of an NTS server: always {@linkcode SERVER_KEYS_KEPT},
 * oldest first (two previous, the current, the next), as chronyd keeps them.
 */
export class ServerKeyRing {
  readonly #siv = new WeakMap<ServerKey, AesSivKey>();
  #lastKey: ServerKey | null = null;
  #lastSiv: AesSivKey | null = null;

  private constructor(
    private keys: ServerKey[],
    private lastRotation: Timestamp,
    /** Rotation interval, seconds; 0 = keys managed externally (never rotate). */
    readonly rotateInterval: number,
  ) {}

  /**
   * A ring of four keys made from 4 × 36 random bytes (each: 4 for the id,
   * 32 for the key), last rotated at `now`.
   */
  static fresh(random: Uint8Array, now: Timestamp, rotateInterval: number): ServerKeyRing {
    const need = SERVER_KEYS_KEPT * SERVER_KEY_RANDOM_LENGTH;
    if (random.length < need) throw new RangeError(`a fresh key ring needs ${need} random bytes`);
    const first = random[3]! & 3;
    const keys: ServerKey[] = [];
    for (let i = 0; i < SERVER_KEYS_KEPT; i++) {
      keys.push(keyFrom(random, i * SERVER_KEY_RANDOM_LENGTH, first + i));
    }
    return new ServerKeyRing(keys, now, rotateInterval);
  }

  /**
   * A ring from loaded keys (oldest first, as in the file: the third is the
   * current one), last rotated `age` seconds before `now`.
   */
  static fromKeys(
    keys: readonly ServerKey[],
    now: Timestamp,
    rotateInterval: number,
    age = 0,
  ): ServerKeyRing {
    if (keys.length !== SERVER_KEYS_KEPT) {
      throw new RangeError(`a key ring needs ${SERVER_KEYS_KEPT} keys`);
    }
    for (const k of keys) {
      if (k.key.length !== serverKeyLength(k)) {
        throw new RangeError(
          `server key for AEAD ${k.aead ?? 15} must be ${serverKeyLength(k)} bytes`,
        );
      }
    }
    const ageNs = BigInt(Math.max(0, Math.round(age * 1e9)));
    return new ServerKeyRing([...keys], now - ageNs, rotateInterval);
  }

  /**
   * Replaces all keys by loaded ones (`rekey` with `ntsrotate 0`: keys
   * managed externally), last rotated `age` seconds before `now`.
   */
  replaceKeys(keys: readonly ServerKey[], now: Timestamp, age = 0): void {
    const other = ServerKeyRing.fromKeys(keys, now, this.rotateInterval, age);
    this.keys = other.keys;
    this.lastRotation = other.lastRotation;
  }

  /** The keys, oldest first (for dumping); the third is the current one. */
  get all(): readonly ServerKey[] {
    return this.keys;
  }

  /** Seconds since the last rotation at `now` (the second line of ntskeys). */
  ageAt(now: Timestamp): number {
    const ns = now - this.lastRotation;
    return ns > 0n ? Number(ns) / 1e9 : 0;
  }

  /** True when `now` is at least `rotateInterval` seconds after the last rotation. */
  dueForRotation(now: Timestamp): boolean {
    return this.rotateInterval > 0 &&
      now - this.lastRotation >= BigInt(this.rotateInterval) * 1_000_000_000n;
  }

  /** Real time the next rotation is due at, or null when the keys never rotate. */
  nextRotation(): Timestamp | null {
    if (this.rotateInterval <= 0) return null;
    return this.lastRotation + BigInt(this.rotateInterval) * 1_000_000_000n;
  }

  /**
   * Rotates: the next key becomes current, the oldest goes, and a new next
   * key is made from 36 random bytes (4 id, 32 key), its id in the slot after
   * the last one; for AEAD 30 (16 bytes of the key) when the last one is (a
   * chronyd 4.8 file's GCM-SIV keys stay GCM-SIV: `server_keys.ts`).
   */
  rotate(random: Uint8Array, now: Timestamp): void {
    if (random.length < SERVER_KEY_RANDOM_LENGTH) {
      throw new RangeError(`rotate needs ${SERVER_KEY_RANDOM_LENGTH} random bytes`);
    }
    const last = this.keys[this.keys.length - 1]!;
    let key = keyFrom(random, 0, last.id + 1);
    while (this.keys.slice(1).some((k) => k.id === key.id)) {
      key = { id: (key.id + 4) >>> 0, key: key.key }; // same slot, another id
    }
    if (last.aead === AEAD_128GCM) key = { ...key, key: key.key.slice(0, 16), aead: AEAD_128GCM };
    this.keys = [...this.keys.slice(1), key];
    this.lastRotation = now;
  }

  /** Seals keys into a cookie under the current server key. `nonce`: 16 random bytes. */
  makeCookie(keys: CookieKeys, nonce: Uint8Array): Uint8Array {
    const gcm = keys.aead === AEAD_128GCM && keys.c2s.length === 16 && keys.s2c.length === 16;
    if (
      !gcm && (keys.aead !== COOKIE_KEY.id || keys.c2s.length !== COOKIE_KEY.keyLength ||
        keys.s2c.length !== COOKIE_KEY.keyLength)
    ) {
      throw new RangeError("cookies hold AES-SIV-CMAC-256 or AES-128-GCM-SIV keys only");
    }
    const plain = new Uint8Array(COOKIE_PLAIN_LENGTH);
    plain[0] = keys.aead >> 8;
    plain[1] = keys.aead & 0xff;
    plain.set(keys.c2s, 4);
    plain.set(keys.s2c, 4 + keys.c2s.length);
    const out = new Uint8Array(this.cookieLength(gcm));
    this.makeCookieTo(plain, nonce, 0, out, 0);
    return out;
  }

  /**
   * Seals the keys in `plain` ({@linkcode COOKIE_PLAIN_LENGTH} bytes: AEAD id,
   * 0x0000, C2S, S2C; the keys are sealed) into a cookie at `out[outAt]`
   * ({@linkcode COOKIE_LENGTH} bytes; {@linkcode COOKIE_LENGTH_128GCM} for
   * AEAD 30, whose two keys are 16 bytes) with the nonce `nonce[nonceAt, +16)`.
   * Allocates nothing.
   */
  makeCookieTo(
    plain: Uint8Array,
    nonce: Uint8Array,
    nonceAt: number,
    out: Uint8Array,
    outAt: number,
  ): void {
    const current = this.keys[CURRENT]!;
    if (current.aead === AEAD_128GCM) {
      return sealUnderGcmSivKey(current, plain, nonce, nonceAt, out, outAt);
    }
    putCookieKeyId(out, outAt, current.id);
    for (let i = 0; i < COOKIE_NONCE_LENGTH; i++) out[outAt + 4 + i] = nonce[nonceAt + i]!;
    const head = outAt + 4 + COOKIE_NONCE_LENGTH;
    // AD: one empty component (not none), as chronyd's cookies.
    this.#sivOf(current).sealTo(
      EMPTY,
      0,
      0,
      out,
      outAt + 4,
      COOKIE_NONCE_LENGTH,
      plain,
      4,
      plain[0] === 0 && plain[1] === AEAD_128GCM ? 32 : COOKIE_SEALED_LENGTH,
      out,
      head,
    );
  }

  /**
   * {@linkcode makeCookieTo} with the next nonce of `nonces` (random nonces
   * whose CMACs under the current key are computed in batches: one FFI call
   * less per cookie). An AES-SIV-CMAC-256 current key only: under another
   * ({@linkcode cookieLength} differs) the responder calls `makeCookieTo`.
   */
  makeCookieFromPool(plain: Uint8Array, nonces: SivNonces, out: Uint8Array, outAt: number): void {
    const current = this.keys[CURRENT]!;
    putCookieKeyId(out, outAt, current.id);
    this.#sivOf(current).sealToPooledNonce(
      EMPTY,
      0,
      0,
      nonces,
      out,
      outAt + 4,
      plain,
      4,
      plain[0] === 0 && plain[1] === AEAD_128GCM ? 32 : COOKIE_SEALED_LENGTH,
      out,
      outAt + 4 + COOKIE_NONCE_LENGTH,
    );
  }

  /**
   * Length of the cookies {@linkcode makeCookieTo} makes now for client keys
   * of AES-SIV-CMAC-256 (or AES-128-GCM-SIV when `gcm`): shorter under an
   * AES-128-GCM-SIV server key (`server_keys.ts`).
   */
  cookieLength(gcm: boolean): number {
    if (this.keys[CURRENT]!.aead === AEAD_128GCM) {
      return gcm ? GCM_KEY_COOKIE_LENGTH_128GCM : GCM_KEY_COOKIE_LENGTH;
    }
    return gcm ? COOKIE_LENGTH_128GCM : COOKIE_LENGTH;
  }

  /** Opens a cookie; null when its key is unknown (rotated out) or it was altered. */
  openCookie(cookie: Uint8Array): CookieKeys | null {
    const plain = new Uint8Array(COOKIE_PLAIN_LENGTH);
    if (!this.openCookieTo(cookie, 0, cookie.length, plain)) return null;
    const aead = (plain[0]! << 8) | plain[1]!;
    const n = aead === AEAD_128GCM ? 16 : COOKIE_KEY.keyLength;
    return { aead, c2s: plain.slice(4, 4 + n), s2c: plain.slice(4 + n, 4 + 2 * n) };
  }

  /**
   * Opens the cookie `buf[at, +len)` into `plain` ({@linkcode COOKIE_PLAIN_LENGTH}
   * bytes: AEAD id 15, 0x0000, C2S, S2C; or id 30 and two 16-byte keys for a
   * {@linkcode COOKIE_LENGTH_128GCM} cookie). False when it has neither
   * length, its key is unknown (rotated out) or it was altered (then `plain`
   * holds garbage). Allocates nothing.
   */
  openCookieTo(buf: Uint8Array, at: number, len: number, plain: Uint8Array): boolean {
    if (len === GCM_KEY_COOKIE_LENGTH || len === GCM_KEY_COOKIE_LENGTH_128GCM) {
      return openUnderGcmSivKey(this.keys, buf, at, len, plain);
    }
    if (len !== COOKIE_LENGTH && len !== COOKIE_LENGTH_128GCM) return false;
    const aead = len === COOKIE_LENGTH ? COOKIE_KEY.id : AEAD_128GCM;
    const idWord = cookieKeyId(buf, at);
    let key: ServerKey | undefined;
    for (const k of this.keys) if (k.id === idWord) key = k;
    if (!key || key.aead === AEAD_128GCM) return false;
    const head = at + 4 + COOKIE_NONCE_LENGTH;
    plain[0] = aead >> 8;
    plain[1] = aead & 0xff;
    plain[2] = 0;
    plain[3] = 0;
    return this.#sivOf(key).openTo(
      EMPTY,
      0,
      0,
      buf,
      at + 4,
      COOKIE_NONCE_LENGTH,
      buf,
      head,
      len - 4 - COOKIE_NONCE_LENGTH,
      plain,
      4,
    );
  }

  /** The scheduled AES-SIV key of a server key (made once per key; the last one at hand). */
  #sivOf(key: ServerKey): AesSivKey {
    if (key === this.#lastKey) return this.#lastSiv!;
    let siv = this.#siv.get(key);
    if (!siv) {
      siv = AesSivKey.create(key.key);
      this.#siv.set(key, siv);
    }
    this.#lastKey = key;
    return this.#lastSiv = siv;
  }
}

const OLD_SERVER_KEYS_MAGIC = "horae-nts-server-keys 1";

/**
 * The key file (`ntsdumpdir`/ntskeys) in chronyd's format (`NKS0`, or `NKS1`
 * when a key is not for AEAD 15: `server_keys.ts`); `age`: seconds since the
 * last rotation.
 */
export function formatServerKeys(keys: readonly ServerKey[], age: number): string {
  return formatServerKeyFile(keys, age);
}

/** Keys read from a key file. */
export interface LoadedServerKeys {
  /** Oldest first, the third current: {@linkcode SERVER_KEYS_KEPT} of them. */
  keys: ServerKey[];
  /** Seconds since the last rotation. */
  age: number;
  /** Converted from horae's former format (rewrite the file). */
  converted: boolean;
}

/**
 * Parses a key file: chronyd 4.3's `NKS0` or 4.8's `NKS1` (`server_keys.ts`), or
 * horae's former `horae-nts-server-keys 1` (newest first, up to three keys),
 * which is converted: its keys become the current and previous ones (their
 * ids moved to successive slots), the missing ones and a next key are made
 * from `random` (4 × 36 bytes). Cookies made under the former format (104
 * bytes) cannot be opened any more; their clients get an NTS NAK and run
 * NTS-KE again (RFC 8915 §5.7). Throws NtsDumpError.
 */
export function parseServerKeys(text: string, random: Uint8Array): LoadedServerKeys {
  const lines = text.split("\n");
  if (lines[0] === OLD_SERVER_KEYS_MAGIC) return convertOldKeys(lines, random);
  const file = parseServerKeyFile(text);
  return { keys: file.keys, age: file.age, converted: false };
}

function convertOldKeys(lines: string[], random: Uint8Array): LoadedServerKeys {
  const old: ServerKey[] = []; // newest first
  lines.slice(1).forEach((raw, i) => {
    const n = i + 2;
    const f = raw.trim().split(/\s+/);
    if (f[0] === "" || f[0] === undefined) return;
    if (f[0] === "aead") {
      if (f[1] !== String(COOKIE_KEY.id)) throw new NtsDumpError(n, `unsupported AEAD ${f[1]}`);
    } else if (f[0] === "key" && f.length === 3 && /^[0-9a-f]{8}$/i.test(f[1]!)) {
      const key = unhex(f[2]!, n, "key");
      if (key.length !== COOKIE_KEY.keyLength) throw new NtsDumpError(n, "key is not 32 bytes");
      old.push({ id: parseInt(f[1]!, 16) >>> 0, key });
    } else {
      throw new NtsDumpError(n, `unexpected "${raw.slice(0, 100)}"`);
    }
  });
  if (old.length === 0) throw new NtsDumpError(lines.length, "no keys");
  const fresh = ServerKeyRing.fresh(random, 0n, 0).all;
  // Oldest first: [previous, previous, current] from the old file (fresh where missing), fresh next.
  const keys = [old[2] ?? fresh[0]!, old[1] ?? fresh[1]!, old[0]!, fresh[3]!].map((k, i) => ({
    id: ((k.id & ~3) | ((fresh[0]!.id + i) & 3)) >>> 0,
    key: k.key,
  }));
  return { keys, age: 0, converted: true };
}

/** What a client learned from one NTS-KE exchange. */
export interface NtsClientState extends CookieKeys {
  /** NTP server to use (the NTS-KE server's name unless it said otherwise). */
  server: string;
  /** NTP port to use. */
  port: number;
  /** When the NTS-KE exchange happened (for `ntsrefresh`). */
  keTime: Timestamp;
  /** Cookies, oldest first. */
  cookies: Uint8Array[];
}

/** A client's cookies and keys for one NTS server. Each cookie is used once. */
export class CookieJar {
  constructor(readonly state: NtsClientState) {}

  /** Cookies held. */
  get size(): number {
    return this.state.cookies.length;
  }

  /**
   * Takes the oldest cookie for a request, with the number of placeholders
   * that would bring the jar back to {@linkcode MAX_COOKIES} (RFC 8915
   * §5.7). Null when the jar is empty (a new NTS-KE is needed).
   */
  take(): { cookie: Uint8Array; placeholders: number } | null {
    const held = this.state.cookies.length;
    const cookie = this.state.cookies.shift();
    if (!cookie) return null;
    return { cookie, placeholders: Math.max(0, MAX_COOKIES - held) };
  }

  /** Stores new cookies from a reply, dropping the oldest beyond {@linkcode MAX_COOKIES}. */
  add(cookies: readonly Uint8Array[]): void {
    this.state.cookies.push(...cookies);
    const extra = this.state.cookies.length - MAX_COOKIES;
    if (extra > 0) this.state.cookies.splice(0, extra);
  }

  /**
   * True when a new NTS-KE is needed: no cookies left, or `refresh` seconds
   * (chrony's `ntsrefresh`) have passed since the last one.
   */
  needsKe(now: Timestamp, refresh = DEFAULT_NTS_REFRESH): boolean {
    return this.state.cookies.length === 0 ||
      now - this.state.keTime >= BigInt(refresh) * 1_000_000_000n;
  }
}

const CLIENT_MAGIC = "horae-nts-client 1";

/** The client state file (`ntsdumpdir`/ADDRESS.nts): text. */
export function formatClientState(s: NtsClientState): string {
  const lines = [
    CLIENT_MAGIC,
    `server ${s.server} ${s.port}`,
    `aead ${s.aead}`,
    `ke-time ${s.keTime}`,
    `c2s ${hex(s.c2s)}`,
    `s2c ${hex(s.s2c)}`,
    ...s.cookies.map((c) => `cookie ${hex(c)}`),
  ];
  return lines.join("\n") + "\n";
}

/** Parses {@linkcode formatClientState} output. Throws NtsDumpError. */
export function parseClientState(text: string): NtsClientState {
  const lines = text.split("\n");
  if (lines[0] !== CLIENT_MAGIC) throw new NtsDumpError(1, "not a horae NTS client file");
  const s: Partial<NtsClientState> & { cookies: Uint8Array[] } = { cookies: [] };
  lines.slice(1).forEach((raw, i) => {
    const n = i + 2;
    const f = raw.trim().split(/\s+/);
    const [k, a, b] = f;
    if (k === "" || k === undefined) return;
    if (k === "server" && a && b && /^\d+$/.test(b) && Number(b) > 0 && Number(b) < 65536) {
      s.server = a;
      s.port = Number(b);
    } else if (k === "aead" && a && /^\d+$/.test(a)) {
      s.aead = Number(a);
    } else if (k === "ke-time" && a && /^-?\d+$/.test(a)) {
      s.keTime = BigInt(a);
    } else if ((k === "c2s" || k === "s2c") && a) {
      s[k] = unhex(a, n, k);
    } else if (k === "cookie" && a) {
      const c = unhex(a, n, "cookie");
      if (c.length === 0) throw new NtsDumpError(n, "empty cookie");
      s.cookies.push(c);
    } else {
      throw new NtsDumpError(n, `unexpected "${raw}"`);
    }
  });
  const { server, port, aead, keTime, c2s, s2c, cookies } = s;
  if (server === undefined || port === undefined || aead === undefined) {
    throw new NtsDumpError(lines.length, "missing server or aead line");
  }
  if (keTime === undefined || !c2s || !s2c) {
    throw new NtsDumpError(lines.length, "missing ke-time or keys");
  }
  const alg = aeadById(aead);
  if (!alg || c2s.length !== alg.keyLength || s2c.length !== alg.keyLength) {
    throw new NtsDumpError(lines.length, `keys do not fit AEAD ${aead}`);
  }
  return { server, port, aead, keTime, c2s, s2c, cookies };
}
