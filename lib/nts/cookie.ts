/**
 * NTS cookies on both sides (RFC 8915 §6) and their files in `ntsdumpdir`.
 *
 * Server: {@linkcode ServerKeyRing} holds the cookie-encrypting keys (the
 * current one and two previous ones, rotated every `ntsrotate` seconds, as
 * chrony.conf(5) describes) and seals the client's C2S/S2C keys into cookies.
 * Client: {@linkcode CookieJar} holds the keys and cookies of one NTS-KE
 * exchange and says how many placeholders a request needs.
 *
 * Cookie format (horae's own, in the spirit of chrony's): key id (4 bytes,
 * big endian) || nonce (16 bytes) || AES-SIV(server key, nonce, AD = key id,
 * AEAD id (2 bytes) || 0x0000 || C2S key || S2C key): 104 bytes for
 * AES-SIV-CMAC-256, a multiple of 4 so the NTP Cookie field needs no padding.
 *
 * Sans-IO: the time and random bytes are parameters; the format functions
 * return/take text, the daemon does the (atomic) file writes.
 *
 * @example
 * ```ts
 * import { ServerKeyRing } from "./cookie.ts";
 * const ring = ServerKeyRing.fresh(crypto.getRandomValues(new Uint8Array(36)), 0n, 604800);
 * const c = ring.makeCookie({ aead: 15, c2s: new Uint8Array(32), s2c: new Uint8Array(32) }, new Uint8Array(16));
 * ring.openCookie(c)?.aead; // 15
 * ```
 * @module
 */

import type { Timestamp } from "../time/timestamp.ts";
import { AesSivKey } from "../../ffi/libssl.ts";
import { aeadById, AES_SIV_CMAC_256 } from "./siv.ts";

/** Keys of one NTS association, as carried in a cookie. */
export interface CookieKeys {
  /** AEAD id (RFC 8915 §5.1), e.g. 15. */
  aead: number;
  /** Client-to-server key. */
  c2s: Uint8Array;
  /** Server-to-client key. */
  s2c: Uint8Array;
}

/** One server key that encrypts cookies. */
export interface ServerKey {
  /** 32-bit id written in front of each cookie. */
  id: number;
  /** 32-byte AES-SIV-CMAC-256 key. */
  key: Uint8Array;
}

/** A malformed ntsdumpdir file. */
export class NtsDumpError extends Error {
  override name = "NtsDumpError";
  constructor(readonly line: number, message: string) {
    super(`line ${line}: ${message}`);
  }
}

/** Nonce length in a cookie, bytes (RFC 5297 recommends 16 for nonce-based SIV). */
export const COOKIE_NONCE_LENGTH = 16;
/**
 * Cookie plaintext: AEAD id (2 bytes), 0x0000, C2S key, S2C key (AES-SIV-CMAC-256:
 * two 32-byte keys).
 */
export const COOKIE_PLAIN_LENGTH = 4 + 2 * 32;
/** Cookie length: key id, nonce, tag, encrypted {@linkcode COOKIE_PLAIN_LENGTH} bytes. */
export const COOKIE_LENGTH = 4 + COOKIE_NONCE_LENGTH + 16 + COOKIE_PLAIN_LENGTH;
/** Server keys kept: the current one and two previous ones. chrony.conf(5) ntsrotate. */
export const SERVER_KEYS_KEPT = 3;
/** Bytes of randomness {@linkcode ServerKeyRing.rotate} takes: 4 for the id, 32 for the key. */
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

function unhex(s: string, line: number, what: string): Uint8Array {
  if (!/^([0-9a-f]{2})*$/i.test(s)) throw new NtsDumpError(line, `${what} is not hex`);
  return Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
}

/** Cookie-encrypting keys of an NTS server, newest first. */
export class ServerKeyRing {
  readonly #siv = new WeakMap<ServerKey, AesSivKey>();

  private constructor(
    private keys: ServerKey[],
    private lastRotation: Timestamp,
    /** Rotation interval, seconds; 0 = keys managed externally (never rotate). */
    readonly rotateInterval: number,
  ) {}

  /** A ring with one key made from 36 random bytes, rotated at `now`. */
  static fresh(random: Uint8Array, now: Timestamp, rotateInterval: number): ServerKeyRing {
    const ring = new ServerKeyRing([], now, rotateInterval);
    ring.rotate(random, now);
    return ring;
  }

  /** A ring from loaded keys (newest first), counting the rotation interval from `now`. */
  static fromKeys(
    keys: readonly ServerKey[],
    now: Timestamp,
    rotateInterval: number,
  ): ServerKeyRing {
    if (keys.length === 0) throw new RangeError("a key ring needs at least one key");
    for (const k of keys) {
      if (k.key.length !== COOKIE_KEY.keyLength) {
        throw new RangeError("server key must be 32 bytes");
      }
    }
    return new ServerKeyRing(keys.slice(0, SERVER_KEYS_KEPT), now, rotateInterval);
  }

  /** The keys, newest first (for dumping). */
  get all(): readonly ServerKey[] {
    return this.keys;
  }

  /** True when `now` is at least `rotateInterval` seconds after the last rotation. */
  dueForRotation(now: Timestamp): boolean {
    return this.rotateInterval > 0 &&
      now - this.lastRotation >= BigInt(this.rotateInterval) * 1_000_000_000n;
  }

  /** Adds a new current key from 36 random bytes (4 id, 32 key); keeps two previous keys. */
  rotate(random: Uint8Array, now: Timestamp): void {
    if (random.length < SERVER_KEY_RANDOM_LENGTH) {
      throw new RangeError(`rotate needs ${SERVER_KEY_RANDOM_LENGTH} random bytes`);
    }
    let id = new DataView(random.buffer, random.byteOffset, 4).getUint32(0);
    while (this.keys.some((k) => k.id === id)) id = (id + 1) >>> 0;
    this.keys = [{ id, key: random.slice(4, 36) }, ...this.keys].slice(0, SERVER_KEYS_KEPT);
    this.lastRotation = now;
  }

  /** Seals keys into a cookie under the current server key. `nonce`: 16 random bytes. */
  makeCookie(keys: CookieKeys, nonce: Uint8Array): Uint8Array {
    const alg = aeadById(keys.aead);
    if (!alg || keys.c2s.length !== alg.keyLength || keys.s2c.length !== alg.keyLength) {
      throw new RangeError("cookie keys do not match their AEAD");
    }
    const plain = new Uint8Array(COOKIE_PLAIN_LENGTH);
    plain[0] = keys.aead >> 8;
    plain[1] = keys.aead & 0xff;
    plain.set(keys.c2s, 4);
    plain.set(keys.s2c, 4 + keys.c2s.length);
    const out = new Uint8Array(COOKIE_LENGTH);
    this.makeCookieTo(plain, nonce, 0, out, 0);
    return out;
  }

  /**
   * Seals the {@linkcode COOKIE_PLAIN_LENGTH} bytes `plain` (AEAD id, 0x0000,
   * C2S, S2C) into a cookie at `out[outAt]` ({@linkcode COOKIE_LENGTH} bytes)
   * with the nonce `nonce[nonceAt, +16)`. Allocates nothing.
   */
  makeCookieTo(
    plain: Uint8Array,
    nonce: Uint8Array,
    nonceAt: number,
    out: Uint8Array,
    outAt: number,
  ): void {
    const current = this.keys[0]!;
    const id = current.id;
    out[outAt] = id >>> 24;
    out[outAt + 1] = (id >>> 16) & 0xff;
    out[outAt + 2] = (id >>> 8) & 0xff;
    out[outAt + 3] = id & 0xff;
    for (let i = 0; i < COOKIE_NONCE_LENGTH; i++) out[outAt + 4 + i] = nonce[nonceAt + i]!;
    const head = outAt + 4 + COOKIE_NONCE_LENGTH;
    this.#sivOf(current).sealTo(
      out,
      outAt,
      4,
      out,
      outAt + 4,
      COOKIE_NONCE_LENGTH,
      plain,
      0,
      COOKIE_PLAIN_LENGTH,
      out,
      head,
    );
  }

  /** Opens a cookie; null when its key is unknown (rotated out) or it was altered. */
  openCookie(cookie: Uint8Array): CookieKeys | null {
    const plain = new Uint8Array(COOKIE_PLAIN_LENGTH);
    if (!this.openCookieTo(cookie, 0, cookie.length, plain)) return null;
    return {
      aead: (plain[0]! << 8) | plain[1]!,
      c2s: plain.slice(4, 4 + COOKIE_KEY.keyLength),
      s2c: plain.slice(4 + COOKIE_KEY.keyLength),
    };
  }

  /**
   * Opens the cookie `buf[at, +len)` into `plain` ({@linkcode COOKIE_PLAIN_LENGTH}
   * bytes: AEAD id, 0x0000, C2S, S2C). False when its key is unknown (rotated
   * out), it was altered or it does not hold AES-SIV-CMAC-256 keys (then
   * `plain` holds garbage). Allocates nothing.
   */
  openCookieTo(buf: Uint8Array, at: number, len: number, plain: Uint8Array): boolean {
    if (len !== COOKIE_LENGTH) return false;
    const idWord = ((buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) |
      buf[at + 3]!) >>> 0;
    let key: ServerKey | undefined;
    for (const k of this.keys) if (k.id === idWord) key = k;
    if (!key) return false;
    const head = at + 4 + COOKIE_NONCE_LENGTH;
    const ok = this.#sivOf(key).openTo(
      buf,
      at,
      4,
      buf,
      at + 4,
      COOKIE_NONCE_LENGTH,
      buf,
      head,
      len - 4 - COOKIE_NONCE_LENGTH,
      plain,
      0,
    );
    return ok && ((plain[0]! << 8) | plain[1]!) === COOKIE_KEY.id && plain[2] === 0 &&
      plain[3] === 0;
  }

  /** The scheduled AES-SIV key of a server key (made once per key). */
  #sivOf(key: ServerKey): AesSivKey {
    let siv = this.#siv.get(key);
    if (!siv) {
      siv = AesSivKey.create(key.key);
      this.#siv.set(key, siv);
    }
    return siv;
  }
}

const SERVER_KEYS_MAGIC = "horae-nts-server-keys 1";

/** The server key file (`ntsdumpdir`/ntskeys): text, newest key first. */
export function formatServerKeys(keys: readonly ServerKey[]): string {
  const lines = [SERVER_KEYS_MAGIC, `aead ${COOKIE_KEY.id}`];
  for (const k of keys) lines.push(`key ${k.id.toString(16).padStart(8, "0")} ${hex(k.key)}`);
  return lines.join("\n") + "\n";
}

/** Parses {@linkcode formatServerKeys} output. Throws NtsDumpError. */
export function parseServerKeys(text: string): ServerKey[] {
  const lines = text.split("\n");
  if (lines[0] !== SERVER_KEYS_MAGIC) throw new NtsDumpError(1, "not a horae NTS server key file");
  const keys: ServerKey[] = [];
  lines.slice(1).forEach((raw, i) => {
    const n = i + 2;
    const f = raw.trim().split(/\s+/);
    if (f[0] === "" || f[0] === undefined) return;
    if (f[0] === "aead") {
      if (f[1] !== String(COOKIE_KEY.id)) throw new NtsDumpError(n, `unsupported AEAD ${f[1]}`);
    } else if (f[0] === "key" && f.length === 3 && /^[0-9a-f]{8}$/i.test(f[1]!)) {
      const key = unhex(f[2]!, n, "key");
      if (key.length !== COOKIE_KEY.keyLength) throw new NtsDumpError(n, "key is not 32 bytes");
      keys.push({ id: parseInt(f[1]!, 16), key });
    } else {
      throw new NtsDumpError(n, `unexpected "${raw}"`);
    }
  });
  if (keys.length === 0) throw new NtsDumpError(lines.length, "no keys");
  return keys.slice(0, SERVER_KEYS_KEPT);
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
