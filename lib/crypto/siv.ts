/**
 * AES-SIV-CMAC-256 (RFC 5297; NTS's AEAD_AES_SIV_CMAC_256, OpenSSL's
 * "AES-128-SIV") computed from two AES-128 keys: S2V over AES-CMAC
 * (`cmac.ts`, K1, AES-128-CBC) and CTR as AES-128-ECB (K2) over counter
 * blocks. Each CMAC and the CTR keystream is one FFI call on the shared
 * scratch memory of `cmac.ts`, by address, and nothing is allocated per
 * message, where OpenSSL's SIV context costs a context copy per message (and
 * skips the tag on an empty plaintext in OpenSSL 3.0, which every NTS client
 * request has).
 *
 * A sealer that picks its nonce at random (the NTS server's reply) can let
 * {@linkcode AesSivKey.sealToFreshNonce} derive it: the CMAC of the AD and of
 * the nonce then take one call (see there).
 *
 * @example
 * ```ts
 * import { AesSivKey } from "./siv.ts";
 * const k = AesSivKey.create(new Uint8Array(32));
 * const ct = k.seal(new Uint8Array(16), new Uint8Array(4), new Uint8Array(8));
 * k.open(new Uint8Array(16), new Uint8Array(4), ct); // the 8 plaintext bytes
 * ```
 * @module
 */
import { AesBuffer, AesContext } from "./aes.ts";
import {
  CHAIN,
  Cmac,
  copyBytes,
  dblWords,
  LITTLE_ENDIAN,
  loadBytes,
  scratchFor,
  SUBKEY1,
  wordsOf,
} from "./cmac.ts";

/** AES-SIV-CMAC-256 key length in bytes: two AES-128 keys (RFC 5297 §2.2). */
export const AES_SIV_KEY_LENGTH = 32;
/** Length of the synthetic IV (the tag) prefixed to every ciphertext (RFC 5297 §2.6). */
export const AES_SIV_TAG_LENGTH = 16;

/** Associated data: one S2V component, or several in order (RFC 5297 §2.4). */
export type SivAd = Uint8Array | readonly Uint8Array[];

const ZERO_BLOCK = new Uint8Array(16);

// 16-byte blocks of an AesSivKey's state, as word indices.
/** CMAC(<zero>), the start of S2V. */
const D0 = 0;
/** CMAC(<empty>): cookies' empty AD component, known once computed per key. */
const EMPTY = 4;
/** The S2V accumulator. */
const D = 8;
/** The synthetic IV computed, or the CTR IV. */
const V = 12;
/** The tag received. */
const EXPECTED = 16;
/** K2 (scheduled on first use). */
const K2 = 20;
/** The random block a fresh nonce is made from. */
const X = 24;
/** K1 (for the ECB context of nonce batches, made on first use). */
const K1 = 28;

/** The bytes of a word in reverse order. */
function bswap(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

/**
 * One AES-SIV-CMAC-256 key; see the module doc. Use {@linkcode create} for a
 * long-lived key (cookie keys) and one instance with {@linkcode setKey} per
 * message for per-client keys. The `*To` methods work on (buffer, offset,
 * length) ranges; the others allocate their result. Output of sealing is
 * tag (16 bytes) || ciphertext.
 */
export class AesSivKey {
  readonly #cmac: Cmac; // K1
  readonly #ecb: AesContext; // AES-128-ECB, K2
  /** The 16-byte blocks above (D0, EMPTY, ...) as words, and as bytes. */
  readonly #w = new Int32Array(32);
  readonly #b = new Uint8Array(this.#w.buffer);
  readonly #k2bytes = new Uint8Array(this.#w.buffer, K2 * 4, 16);
  readonly #k1bytes = new Uint8Array(this.#w.buffer, K1 * 4, 16);
  #k2Pending = false; // #ecb not yet keyed with #k2bytes
  #emptyKnown = false;
  /** AES-128-ECB under K1 for {@linkcode SivNonces} batches; #ecb1Pending: not yet keyed. */
  #ecb1: AesContext | null = null;
  #ecb1Pending = false;
  /** Counts key changes (a nonce batch's CMACs hold for one key). */
  #generation = 0;

  private constructor(cmac: Cmac, ecb: AesContext, key: Uint8Array) {
    this.#cmac = cmac;
    this.#ecb = ecb;
    this.#k1bytes.set(key.subarray(0, 16));
    this.#start();
  }

  /** Schedules a 32-byte key. Throws RangeError for another length, NtsUnavailableError. */
  static create(key: Uint8Array): AesSivKey {
    checkKey(key);
    // S2V uses K1, the leftmost half of the key; CTR uses K2 (RFC 5297 §2.6).
    return new AesSivKey(
      Cmac.create(key.subarray(0, 16)),
      AesContext.create("AES-128-ECB", key.subarray(16, 32)),
      key,
    );
  }

  /** Replaces the key (RangeError for a length other than 32), reusing the contexts. */
  setKey(key: Uint8Array): void {
    checkKey(key);
    // K2 is scheduled on first use: verifying an empty plaintext needs no CTR.
    const k1 = this.#k1bytes, k2 = this.#k2bytes;
    for (let i = 0; i < 16; i++) {
      k1[i] = key[i]!;
      k2[i] = key[16 + i]!;
    }
    this.#k2Pending = true;
    this.#ecb1Pending = true;
    this.#generation++;
    this.#cmac.setKeyPrefix(key);
    this.#start();
  }

  /** CMAC(<zero>) after a key change. */
  #start(): void {
    this.#emptyKnown = false;
    this.#cmac.mac(ZERO_BLOCK, 0, 16);
    const w = this.#w, c = this.#cmac.state;
    for (let i = 0; i < 4; i++) w[D0 + i] = c[CHAIN + i]!;
  }

  /** The 16 bytes at `buf[at]` into the block `i` of the state. */
  #read(buf: Uint8Array, at: number, i: number): void {
    const w = this.#w, from = buf.byteOffset + at;
    if ((from & 3) === 0) {
      const s = wordsOf(buf), f = from >> 2;
      w[i] = s[f]!;
      w[i + 1] = s[f + 1]!;
      w[i + 2] = s[f + 2]!;
      w[i + 3] = s[f + 3]!;
    } else {
      const b = this.#b, o = i << 2;
      for (let j = 0; j < 16; j++) b[o + j] = buf[at + j]!;
    }
  }

  /** The block `i` of the state to `buf[at, +16)`. */
  #write(buf: Uint8Array, at: number, i: number): void {
    const w = this.#w, to = buf.byteOffset + at;
    if ((to & 3) === 0) {
      const d = wordsOf(buf), t = to >> 2;
      d[t] = w[i]!;
      d[t + 1] = w[i + 1]!;
      d[t + 2] = w[i + 2]!;
      d[t + 3] = w[i + 3]!;
    } else {
      const b = this.#b, o = i << 2;
      for (let j = 0; j < 16; j++) buf[at + j] = b[o + j]!;
    }
  }

  /** Starts S2V (RFC 5297 §2.4): D = CMAC(<zero>). */
  #s2vStart(): void {
    const w = this.#w;
    w[D] = w[D0]!;
    w[D + 1] = w[D0 + 1]!;
    w[D + 2] = w[D0 + 2]!;
    w[D + 3] = w[D0 + 3]!;
  }

  /** Adds one S2V component (an AD component, or the nonce): D = dbl(D) ^ CMAC(it). */
  #s2vAdd(buf: Uint8Array, at: number, n: number): void {
    const w = this.#w;
    dblWords(w, D);
    let r: Int32Array, i: number;
    if (n > 0) {
      const c = this.#cmac, s = scratchFor(n + 32);
      loadBytes(s, buf, at, n);
      c.run(s, c.pad(s, n));
      r = c.state;
      i = CHAIN;
    } else {
      // An empty component (the AD of every cookie) has a CMAC fixed per key: one call saved.
      if (!this.#emptyKnown) {
        this.#cmac.mac(buf, at, 0);
        const c = this.#cmac.state;
        for (let j = 0; j < 4; j++) w[EMPTY + j] = c[CHAIN + j]!;
        this.#emptyKnown = true;
      }
      r = w;
      i = EMPTY;
    }
    w[D]! ^= r[i]!;
    w[D + 1]! ^= r[i + 1]!;
    w[D + 2]! ^= r[i + 2]!;
    w[D + 3]! ^= r[i + 3]!;
  }

  /**
   * Adds the AD component `ad[adAt, +adLen)` (not empty) and a nonce made
   * from the 16 random bytes at `nonce[nonceAt]`, which it overwrites. The
   * CBC pass over the AD goes on over the random block X: its output is
   * AES(X ^ CMAC(AD)), the CMAC of N = X ^ CMAC(AD) ^ K1 (a one-block
   * message: AES(N ^ K1)). N is as random as X: X is secret and used once.
   */
  #s2vAddFresh(ad: Uint8Array, adAt: number, adLen: number, nonce: Uint8Array, nonceAt: number) {
    const w = this.#w, c = this.#cmac, s = scratchFor(adLen + 48);
    this.#read(nonce, nonceAt, X);
    loadBytes(s, ad, adAt, adLen);
    const end = c.pad(s, adLen), sw = s.words, a = (end >> 2) - 4, x = end >> 2;
    sw[x] = w[X]!;
    sw[x + 1] = w[X + 1]!;
    sw[x + 2] = w[X + 2]!;
    sw[x + 3] = w[X + 3]!;
    c.run(s, end + 16);
    const k = c.state;
    dblWords(w, D);
    for (let j = 0; j < 4; j++) {
      const m = sw[a + j]!; // CMAC(AD)
      w[D + j]! ^= m;
      w[X + j]! ^= m ^ k[SUBKEY1 + j]!; // N
    }
    dblWords(w, D);
    w[D]! ^= sw[x]!; // CMAC(N)
    w[D + 1]! ^= sw[x + 1]!;
    w[D + 2]! ^= sw[x + 2]!;
    w[D + 3]! ^= sw[x + 3]!;
    this.#write(nonce, nonceAt, X);
  }

  /** Finishes S2V over the plaintext `buf[at, at + n)`; the result is in block V. */
  #s2vFinal(buf: Uint8Array, at: number, n: number): void {
    if (n >= 16) {
      const s = scratchFor(n + 32);
      loadBytes(s, buf, at, n);
      this.#s2vFinalLoaded(s, n);
    } else {
      this.#s2vFinalShort(buf, at, n);
    }
  }

  /** {@linkcode #s2vFinal} over `n` >= 16 bytes already at the start of `s` (room for n + 32). */
  #s2vFinalLoaded(s: AesBuffer, n: number): void {
    const c = this.#cmac, w = this.#w;
    if ((n & 3) === 0) {
      const sw = s.words, e = (n - 16) >> 2; // xorend
      sw[e]! ^= w[D]!;
      sw[e + 1]! ^= w[D + 1]!;
      sw[e + 2]! ^= w[D + 2]!;
      sw[e + 3]! ^= w[D + 3]!;
    } else {
      const b = s.bytes, db = this.#b, e = n - 16, d = D << 2;
      for (let i = 0; i < 16; i++) b[e + i]! ^= db[d + i]!; // xorend
    }
    c.run(s, c.pad(s, n));
    this.#takeV();
  }

  /** {@linkcode #s2vFinal} over `n` < 16 bytes. */
  #s2vFinalShort(buf: Uint8Array, at: number, n: number): void {
    const c = this.#cmac, w = this.#w;
    // T = dbl(D) xor pad(P): one complete block, so its CMAC takes K1
    dblWords(w, D);
    const s = scratchFor(64), b = s.bytes;
    for (let i = 0; i < n; i++) b[i] = buf[at + i]!;
    b[n] = 0x80;
    for (let i = n + 1; i < 16; i++) b[i] = 0;
    const sw = s.words, k = c.state;
    sw[0]! ^= w[D]! ^ k[SUBKEY1]!;
    sw[1]! ^= w[D + 1]! ^ k[SUBKEY1 + 1]!;
    sw[2]! ^= w[D + 2]! ^ k[SUBKEY1 + 2]!;
    sw[3]! ^= w[D + 3]! ^ k[SUBKEY1 + 3]!;
    c.run(s, 16);
    this.#takeV();
  }

  /** Block V = the CMAC chain value (the S2V result). */
  #takeV(): void {
    const w = this.#w, k = this.#cmac.state;
    w[V] = k[CHAIN]!;
    w[V + 1] = k[CHAIN + 1]!;
    w[V + 2] = k[CHAIN + 2]!;
    w[V + 3] = k[CHAIN + 3]!;
  }

  /**
   * CTR (RFC 5297 §2.5) with IV V: `dst[dstAt, +n) = src[srcAt, +n) ^ keystream`.
   * With `keep` the output is also left at the start of the scratch memory
   * (returned; room for n + 32 bytes), where S2V's last CMAC then takes it
   * without copying it again.
   */
  #ctr(
    src: Uint8Array,
    srcAt: number,
    n: number,
    dst: Uint8Array,
    dstAt: number,
    keep = false,
  ): AesBuffer | null {
    if (n === 0) return null;
    if (this.#k2Pending) {
      this.#ecb.setKey(this.#k2bytes);
      this.#k2Pending = false;
    }
    const w = this.#w, blocks = (n + 15) >> 4;
    const s = scratchFor(Math.max((blocks << 4) + 16, n + 32)), q = s.words;
    // Q = V bitand (1^64 || 0^1 || 1^31 || 0^1 || 1^31); with bit 31 cleared the low
    // 32 bits (big endian) cannot carry into the rest for fewer than 2^31 blocks.
    const q0 = w[V]!, q1 = w[V + 1]!;
    let q2: number, low: number;
    if (LITTLE_ENDIAN) {
      q2 = w[V + 2]! & ~0x80;
      low = bswap(w[V + 3]! & ~0x80);
    } else {
      q2 = w[V + 2]! & 0x7fffffff;
      low = w[V + 3]! & 0x7fffffff;
    }
    for (let b = 0, o = 0; b < blocks; b++, o += 4) {
      q[o] = q0;
      q[o + 1] = q1;
      q[o + 2] = q2;
      q[o + 3] = LITTLE_ENDIAN ? bswap(low + b) : low + b;
    }
    this.#ecb.encryptInPlace(s, blocks << 4);
    let i = 0;
    const so = src.byteOffset + srcAt, doff = dst.byteOffset + dstAt;
    if (((so | doff) & 3) === 0 && n >= 16) {
      // word at a time where both ranges are aligned (NTS fields always are)
      const s32 = wordsOf(src), d32 = wordsOf(dst);
      const sw = so >> 2, dw = doff >> 2, words = n >> 2;
      if (keep) {
        for (let j = 0; j < words; j++) d32[dw + j] = q[j] = s32[sw + j]! ^ q[j]!;
      } else {
        for (let j = 0; j < words; j++) d32[dw + j] = s32[sw + j]! ^ q[j]!;
      }
      i = words << 2;
    }
    const ks = s.bytes;
    if (keep) { for (; i < n; i++) dst[dstAt + i] = ks[i] = src[srcAt + i]! ^ ks[i]!; }
    else for (; i < n; i++) dst[dstAt + i] = src[srcAt + i]! ^ ks[i]!;
    return s;
  }

  /**
   * Seals `pt[ptAt, +ptLen)` with one AD component `ad[adAt, +adLen)` and the
   * nonce `nonce[nonceAt, +nonceLen)` (none when nonceLen is 0): writes the
   * tag at `out[outAt]` and the ciphertext after it. `out` may be `pt` with
   * `outAt = ptAt - 16` (in place); the AD and nonce must not overlap the output.
   */
  sealTo(
    ad: Uint8Array,
    adAt: number,
    adLen: number,
    nonce: Uint8Array,
    nonceAt: number,
    nonceLen: number,
    pt: Uint8Array,
    ptAt: number,
    ptLen: number,
    out: Uint8Array,
    outAt: number,
  ): void {
    this.#s2vStart();
    this.#s2vAdd(ad, adAt, adLen);
    if (nonceLen > 0) this.#s2vAdd(nonce, nonceAt, nonceLen);
    this.#s2vFinal(pt, ptAt, ptLen);
    this.#ctr(pt, ptAt, ptLen, out, outAt + AES_SIV_TAG_LENGTH);
    this.#write(out, outAt, V);
  }

  /**
   * {@linkcode sealTo} with a 16-byte nonce of its own making:
   * `nonce[nonceAt, +16)` holds 16 secret random bytes, never used before,
   * and is overwritten with the nonce used, as random (uniform and
   * independent of everything else: the random bytes XORed with values that
   * do not depend on them). With a non-empty AD this saves an FFI call.
   */
  sealToFreshNonce(
    ad: Uint8Array,
    adAt: number,
    adLen: number,
    nonce: Uint8Array,
    nonceAt: number,
    pt: Uint8Array,
    ptAt: number,
    ptLen: number,
    out: Uint8Array,
    outAt: number,
  ): void {
    this.#s2vStart();
    if (adLen > 0) this.#s2vAddFresh(ad, adAt, adLen, nonce, nonceAt);
    else {
      this.#s2vAdd(ad, adAt, 0);
      this.#s2vAdd(nonce, nonceAt, 16);
    }
    this.#s2vFinal(pt, ptAt, ptLen);
    this.#ctr(pt, ptAt, ptLen, out, outAt + AES_SIV_TAG_LENGTH);
    this.#write(out, outAt, V);
  }

  /**
   * {@linkcode sealTo} with the next 16-byte nonce of `pool`, copied to
   * `nonceOut[nonceOutAt]`: its CMAC was computed with the others of its
   * batch in one FFI call, so this saves one.
   */
  sealToPooledNonce(
    ad: Uint8Array,
    adAt: number,
    adLen: number,
    pool: SivNonces,
    nonceOut: Uint8Array,
    nonceOutAt: number,
    pt: Uint8Array,
    ptAt: number,
    ptLen: number,
    out: Uint8Array,
    outAt: number,
  ): void {
    const i = pool.take(this, this.#generation);
    copyBytes(pool.nonces, i << 4, nonceOut, nonceOutAt, 16);
    this.#s2vStart();
    this.#s2vAdd(ad, adAt, adLen);
    const w = this.#w, m = pool.macWords, j = i << 2;
    dblWords(w, D);
    w[D]! ^= m[j]!;
    w[D + 1]! ^= m[j + 1]!;
    w[D + 2]! ^= m[j + 2]!;
    w[D + 3]! ^= m[j + 3]!;
    this.#s2vFinal(pt, ptAt, ptLen);
    this.#ctr(pt, ptAt, ptLen, out, outAt + AES_SIV_TAG_LENGTH);
    this.#write(out, outAt, V);
  }

  /**
   * The CMACs (K1) of the 16-byte nonces `nonces[0, 16 n)` into
   * `macs.bytes[0, 16 n)`: each is one complete block, AES(N ^ K1), so all
   * take one ECB call. For {@linkcode SivNonces}.
   */
  nonceMacs(nonces: Uint8Array, n: number, macs: AesBuffer): void {
    if (this.#ecb1 === null) {
      this.#ecb1 = AesContext.create("AES-128-ECB", this.#k1bytes);
      this.#ecb1Pending = false;
    } else if (this.#ecb1Pending) {
      this.#ecb1.setKey(this.#k1bytes);
      this.#ecb1Pending = false;
    }
    copyBytes(nonces, 0, macs.bytes, 0, n << 4);
    const d = macs.words, k = this.#cmac.state;
    const k0 = k[SUBKEY1]!, k1 = k[SUBKEY1 + 1]!, k2 = k[SUBKEY1 + 2]!, k3 = k[SUBKEY1 + 3]!;
    for (let o = 0, end = n << 2; o < end; o += 4) {
      d[o]! ^= k0;
      d[o + 1]! ^= k1;
      d[o + 2]! ^= k2;
      d[o + 3]! ^= k3;
    }
    this.#ecb1.encryptInPlace(macs, n << 4);
  }

  /**
   * Opens `sealed[sealedAt, +sealedLen)` (tag || ciphertext) with one AD
   * component and a nonce (as {@linkcode sealTo}): writes the plaintext at
   * `out[outAt]` and returns whether the tag verified. On failure `out`
   * holds garbage: never use it. `out` may be `sealed` with
   * `outAt = sealedAt + 16` (in place).
   */
  openTo(
    ad: Uint8Array,
    adAt: number,
    adLen: number,
    nonce: Uint8Array,
    nonceAt: number,
    nonceLen: number,
    sealed: Uint8Array,
    sealedAt: number,
    sealedLen: number,
    out: Uint8Array,
    outAt: number,
  ): boolean {
    if (sealedLen < AES_SIV_TAG_LENGTH) return false;
    const n = sealedLen - AES_SIV_TAG_LENGTH, w = this.#w;
    this.#read(sealed, sealedAt, EXPECTED);
    w[V] = w[EXPECTED]!;
    w[V + 1] = w[EXPECTED + 1]!;
    w[V + 2] = w[EXPECTED + 2]!;
    w[V + 3] = w[EXPECTED + 3]!;
    // S2V over the AD and nonce first (they need no plaintext): the CTR output then stays in
    // the scratch memory for the last CMAC.
    this.#s2vStart();
    this.#s2vAdd(ad, adAt, adLen);
    if (nonceLen > 0) this.#s2vAdd(nonce, nonceAt, nonceLen);
    if (n >= 16) {
      this.#s2vFinalLoaded(
        this.#ctr(sealed, sealedAt + AES_SIV_TAG_LENGTH, n, out, outAt, true)!,
        n,
      );
    } else {
      this.#ctr(sealed, sealedAt + AES_SIV_TAG_LENGTH, n, out, outAt);
      this.#s2vFinalShort(out, outAt, n);
    }
    return this.#tagMatches();
  }

  /** Block V equals block EXPECTED, compared in constant time. */
  #tagMatches(): boolean {
    const w = this.#w;
    const diff = (w[V]! ^ w[EXPECTED]!) | (w[V + 1]! ^ w[EXPECTED + 1]!) |
      (w[V + 2]! ^ w[EXPECTED + 2]!) | (w[V + 3]! ^ w[EXPECTED + 3]!);
    return diff === 0;
  }

  /** S2V into block V over the AD components, nonce (unless empty) and final string. */
  #s2v(ad: SivAd, nonce: Uint8Array, last: Uint8Array): void {
    this.#s2vStart();
    for (const c of components(ad)) this.#s2vAdd(c, 0, c.length);
    if (nonce.length > 0) this.#s2vAdd(nonce, 0, nonce.length);
    this.#s2vFinal(last, 0, last.length);
  }

  /** S2V (RFC 5297 §2.4) over the AD components, nonce (unless empty) and final string. */
  s2v(ad: SivAd, nonce: Uint8Array, last: Uint8Array): Uint8Array {
    this.#s2v(ad, nonce, last);
    return this.#b.slice(V << 2, (V << 2) + 16);
  }

  /**
   * Encrypts. The S2V components are the AD component(s), then `nonce`
   * unless it is empty (RFC 5297 §3: the nonce is the last AD component).
   */
  seal(nonce: Uint8Array, ad: SivAd, plaintext: Uint8Array): Uint8Array {
    const out = new Uint8Array(AES_SIV_TAG_LENGTH + plaintext.length);
    this.#s2v(ad, nonce, plaintext);
    this.#ctr(plaintext, 0, plaintext.length, out, AES_SIV_TAG_LENGTH);
    this.#write(out, 0, V);
    return out;
  }

  /** Decrypts and authenticates; null when the tag does not verify. */
  open(nonce: Uint8Array, ad: SivAd, sealed: Uint8Array): Uint8Array | null {
    if (sealed.length < AES_SIV_TAG_LENGTH) return null;
    const out = new Uint8Array(sealed.length - AES_SIV_TAG_LENGTH);
    const w = this.#w;
    this.#read(sealed, 0, EXPECTED);
    for (let i = 0; i < 4; i++) w[V + i] = w[EXPECTED + i]!;
    this.#ctr(sealed, AES_SIV_TAG_LENGTH, out.length, out, 0);
    this.#s2v(ad, nonce, out);
    return this.#tagMatches() ? out : null;
  }
}

/**
 * Random 16-byte nonces drawn in batches, with their CMACs under the key
 * that seals with them ({@linkcode AesSivKey.sealToPooledNonce}) computed per
 * batch in one FFI call; computed again when another key (or the same one,
 * re-keyed) asks. Single-threaded, like the keys.
 */
export class SivNonces {
  /** The nonces of the batch (random, each used once). */
  readonly nonces: Uint8Array;
  readonly #macs: AesBuffer;
  /** The CMACs as words, nonce i at word 4 i. */
  readonly macWords: Int32Array;
  readonly #fill: (buf: Uint8Array) => void;
  readonly #count: number;
  #next: number;
  #key: AesSivKey | null = null;
  #generation = -1;

  /**
   * `count` nonces per batch; `fill` fills a buffer with random bytes in
   * place. Throws NtsUnavailableError without OpenSSL.
   */
  constructor(fill: (buf: Uint8Array) => void, count = 256) {
    this.#fill = fill;
    this.#count = count;
    this.nonces = new Uint8Array(new ArrayBuffer(count * 16));
    this.#macs = new AesBuffer(count * 16 + 16);
    this.macWords = this.#macs.words;
    this.#next = count;
  }

  /** The index of the next nonce for `key` (of key generation `generation`). */
  take(key: AesSivKey, generation: number): number {
    if (this.#next >= this.#count) {
      this.#fill(this.nonces);
      this.#next = 0;
      this.#key = null;
    }
    if (this.#key !== key || this.#generation !== generation) {
      key.nonceMacs(this.nonces, this.#count, this.#macs);
      this.#key = key;
      this.#generation = generation;
    }
    return this.#next++;
  }
}

function checkKey(key: Uint8Array): void {
  if (key.length !== AES_SIV_KEY_LENGTH) {
    throw new RangeError(`AES-SIV-CMAC-256 key must be 32 bytes, got ${key.length}`);
  }
}

function components(ad: SivAd): readonly Uint8Array[] {
  return ad instanceof Uint8Array ? [ad] : ad;
}

/** One re-keyed instance for the one-shot functions (keys change per message). */
let oneShot: AesSivKey | undefined;

function oneShotKey(key: Uint8Array): AesSivKey {
  if (oneShot === undefined) {
    oneShot = AesSivKey.create(key);
  } else {
    oneShot.setKey(key);
  }
  return oneShot;
}

/** One-shot AES-SIV seal (a shared {@linkcode AesSivKey}, re-keyed). */
export function aesSivSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  ad: SivAd,
  plaintext: Uint8Array,
): Uint8Array {
  return oneShotKey(key).seal(nonce, ad, plaintext);
}

/** One-shot AES-SIV open; null when authentication fails. */
export function aesSivOpen(
  key: Uint8Array,
  nonce: Uint8Array,
  ad: SivAd,
  sealed: Uint8Array,
): Uint8Array | null {
  return oneShotKey(key).open(nonce, ad, sealed);
}
