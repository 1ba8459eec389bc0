/**
 * AEAD_AES_128_GCM_SIV (RFC 8452; IANA AEAD id 30), computed from an
 * injected AES-128 block function: POLYVAL (RFC 8452 §3), the per-nonce key
 * derivation (§4), the tag and the 32-bit little-endian counter mode (§4,
 * §5). Pure computation over the AES block it is given: `aes128Block` of
 * `aes.ts` (OpenSSL) in horae, anything in tests.
 *
 * Layout of a sealed message: ciphertext (as long as the plaintext) then the
 * 16-byte tag. Nonces are 12 bytes; keys 16 bytes.
 *
 * @example
 * ```ts
 * import { type AesFactory, gcmSivOpen, gcmSivSeal } from "./gcm_siv.ts";
 * function roundTrip(aes: AesFactory): Uint8Array | null {
 *   const key = new Uint8Array(16), nonce = new Uint8Array(12);
 *   const sealed = gcmSivSeal(aes, key, nonce, new Uint8Array(3), new Uint8Array(0));
 *   return gcmSivOpen(aes, key, nonce, new Uint8Array(3), sealed); // Uint8Array(0)
 * }
 * ```
 * @module
 */

import type { AesBlock, AesFactory } from "./aes.ts";

/** IANA AEAD id of AEAD_AES_128_GCM_SIV. RFC 8452 §8. */
export const AEAD_AES_128_GCM_SIV = 30;
/** Key length, bytes (RFC 8452 §8: K_LEN 16). */
export const GCM_SIV_KEY_LENGTH = 16;
/** Nonce length, bytes (RFC 8452 §8: N_MIN = N_MAX = 12). */
export const GCM_SIV_NONCE_LENGTH = 12;
/** Tag length, bytes (RFC 8452 §4). */
export const GCM_SIV_TAG_LENGTH = 16;

export type { AesBlock, AesFactory };

/** Little-endian 32-bit word `i` of a 16-byte block. */
function word(b: Uint8Array, at: number): number {
  return ((b[at] ?? 0) | ((b[at + 1] ?? 0) << 8) | ((b[at + 2] ?? 0) << 16) |
    ((b[at + 3] ?? 0) << 24)) >>> 0;
}

function putWord(b: Uint8Array, at: number, w: number): void {
  b[at] = w & 0xff;
  b[at + 1] = (w >>> 8) & 0xff;
  b[at + 2] = (w >>> 16) & 0xff;
  b[at + 3] = (w >>> 24) & 0xff;
}

/**
 * POLYVAL's field GF(2^128) modulo x^128 + x^127 + x^126 + x^121 + 1, an
 * element as four little-endian 32-bit words (bit i of the 128-bit number is
 * the coefficient of x^i, RFC 8452 §3).
 */
class Polyval {
  readonly #h: Uint32Array;
  readonly #s = new Uint32Array(4);

  /** @param h the 16-byte hash key. */
  constructor(h: Uint8Array) {
    this.#h = new Uint32Array([word(h, 0), word(h, 4), word(h, 8), word(h, 12)]);
  }

  /**
   * S = dot(S xor X, H) for one 16-byte block X (zero-padded when shorter),
   * where dot(a, b) = a * b * x^-128. Horner over the bits of b from x^0
   * upwards: add a when the bit is set, then divide by x (x^-1 = (r + P
   * when odd) / x); after 128 steps every term carries its x^-128.
   */
  update(x: Uint8Array, at = 0, n = 16): void {
    const s = this.#s;
    const blk = new Uint8Array(16);
    blk.set(x.subarray(at, at + Math.min(16, n)));
    const a0 = (s[0]! ^ word(blk, 0)) >>> 0, a1 = (s[1]! ^ word(blk, 4)) >>> 0;
    const a2 = (s[2]! ^ word(blk, 8)) >>> 0, a3 = (s[3]! ^ word(blk, 12)) >>> 0;
    const h = this.#h;
    let r0 = 0, r1 = 0, r2 = 0, r3 = 0;
    for (let i = 0; i < 128; i++) {
      const hw = h[i >>> 5]!;
      if ((hw >>> (i & 31)) & 1) {
        r0 ^= a0;
        r1 ^= a1;
        r2 ^= a2;
        r3 ^= a3;
      }
      const odd = r0 & 1;
      r0 = (r0 >>> 1) | (r1 << 31);
      r1 = (r1 >>> 1) | (r2 << 31);
      r2 = (r2 >>> 1) | (r3 << 31);
      r3 = r3 >>> 1;
      // (r + P) / x: P / x = x^127 + x^126 + x^125 + x^120
      if (odd) r3 ^= 0xe1000000;
    }
    s[0] = r0 >>> 0;
    s[1] = r1 >>> 0;
    s[2] = r2 >>> 0;
    s[3] = r3 >>> 0;
  }

  /** Feeds `n` bytes from `at` as blocks, the last one zero-padded. */
  updatePadded(x: Uint8Array, at: number, n: number): void {
    for (let off = 0; off < n; off += 16) this.update(x, at + off, Math.min(16, n - off));
  }

  /** The current S as 16 bytes. */
  digest(): Uint8Array {
    const out = new Uint8Array(16);
    for (let i = 0; i < 4; i++) putWord(out, 4 * i, this.#s[i]!);
    return out;
  }
}

/** POLYVAL(H, X_1, ..., X_n) over whole 16-byte blocks (RFC 8452 §3). */
export function polyval(h: Uint8Array, x: Uint8Array): Uint8Array {
  if (h.length !== 16 || x.length % 16 !== 0) throw new RangeError("POLYVAL: 16-byte blocks");
  const p = new Polyval(h);
  p.updatePadded(x, 0, x.length);
  return p.digest();
}

/**
 * The per-nonce keys (RFC 8452 §4): AES_K(LE32(i) || nonce) for i = 0..3,
 * the first 8 bytes of each; 0-1 give the authentication key, 2-3 the
 * encryption key.
 */
export function deriveKeys(
  aes: AesFactory,
  key: Uint8Array,
  nonce: Uint8Array,
): { authKey: Uint8Array; encKey: Uint8Array } {
  if (key.length !== GCM_SIV_KEY_LENGTH) throw new RangeError("AES-128-GCM-SIV: 16-byte key");
  if (nonce.length !== GCM_SIV_NONCE_LENGTH) throw new RangeError("AES-128-GCM-SIV: 12-byte nonce");
  const enc = aes(key);
  const half = (i: number) => {
    const blk = new Uint8Array(16);
    putWord(blk, 0, i);
    blk.set(nonce, 4);
    return enc(blk).subarray(0, 8);
  };
  const authKey = new Uint8Array(16), encKey = new Uint8Array(16);
  authKey.set(half(0), 0);
  authKey.set(half(1), 8);
  encKey.set(half(2), 0);
  encKey.set(half(3), 8);
  return { authKey, encKey };
}

/** The tag over `ad` and the plaintext `pt[at, at + n)` (RFC 8452 §4). */
function tagOf(
  enc: AesBlock,
  authKey: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array,
  pt: Uint8Array,
  at: number,
  n: number,
): Uint8Array {
  const p = new Polyval(authKey);
  p.updatePadded(ad, 0, ad.length);
  p.updatePadded(pt, at, n);
  const lengths = new Uint8Array(16);
  // bit lengths as little-endian 64-bit numbers (messages here are far below 2^29 bytes)
  putWord(lengths, 0, (ad.length * 8) >>> 0);
  putWord(lengths, 4, Math.floor(ad.length / 2 ** 29));
  putWord(lengths, 8, (n * 8) >>> 0);
  putWord(lengths, 12, Math.floor(n / 2 ** 29));
  p.update(lengths);
  const s = p.digest();
  for (let i = 0; i < GCM_SIV_NONCE_LENGTH; i++) s[i]! ^= nonce[i]!;
  s[15]! &= 0x7f;
  return enc(s);
}

/** XORs `src[at, at + n)` with the keystream from `tag` into `dst[dstAt...]` (RFC 8452 §5). */
function ctr(
  enc: AesBlock,
  tag: Uint8Array,
  src: Uint8Array,
  at: number,
  n: number,
  dst: Uint8Array,
  dstAt: number,
): void {
  const counter = tag.slice(0, 16);
  counter[15]! |= 0x80;
  let c = word(counter, 0);
  for (let off = 0; off < n; off += 16) {
    putWord(counter, 0, c);
    const ks = enc(counter);
    const m = Math.min(16, n - off);
    for (let i = 0; i < m; i++) dst[dstAt + off + i] = src[at + off + i]! ^ ks[i]!;
    c = (c + 1) >>> 0; // the counter wraps modulo 2^32
  }
}

/** Encrypts and authenticates: ciphertext || tag. */
export function gcmSivSeal(
  aes: AesFactory,
  key: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  const { authKey, encKey } = deriveKeys(aes, key, nonce);
  const enc = aes(encKey);
  const tag = tagOf(enc, authKey, nonce, ad, plaintext, 0, plaintext.length);
  const out = new Uint8Array(plaintext.length + GCM_SIV_TAG_LENGTH);
  ctr(enc, tag, plaintext, 0, plaintext.length, out, 0);
  out.set(tag, plaintext.length);
  return out;
}

/** Authenticates and decrypts ciphertext || tag; null when anything was altered. */
export function gcmSivOpen(
  aes: AesFactory,
  key: Uint8Array,
  nonce: Uint8Array,
  ad: Uint8Array,
  sealed: Uint8Array,
): Uint8Array | null {
  if (sealed.length < GCM_SIV_TAG_LENGTH || nonce.length !== GCM_SIV_NONCE_LENGTH) return null;
  const n = sealed.length - GCM_SIV_TAG_LENGTH;
  const tag = sealed.subarray(n);
  const { authKey, encKey } = deriveKeys(aes, key, nonce);
  const enc = aes(encKey);
  const pt = new Uint8Array(n);
  ctr(enc, tag, sealed, 0, n, pt, 0);
  const expected = tagOf(enc, authKey, nonce, ad, pt, 0, n);
  let diff = 0;
  for (let i = 0; i < GCM_SIV_TAG_LENGTH; i++) diff |= expected[i]! ^ tag[i]!;
  if (diff !== 0) {
    pt.fill(0);
    return null;
  }
  return pt;
}
