/**
 * AES-SIV-CMAC-256 (RFC 5297; NTS's AEAD_AES_SIV_CMAC_256, OpenSSL's
 * "AES-128-SIV") computed from two AES-128 keys: S2V over AES-CMAC
 * (`cmac.ts`, K1) and CTR as AES-128-ECB (K2) over counter blocks. That takes
 * a few cheap FFI calls per message and no allocation, where OpenSSL's SIV
 * context costs a context copy per message (and skips the tag on an empty
 * plaintext in OpenSSL 3.0, which every NTS client request has).
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
import { AesContext } from "./aes.ts";
import { Cmac, dblView, wordsOf } from "./cmac.ts";

/** AES-SIV-CMAC-256 key length in bytes: two AES-128 keys (RFC 5297 §2.2). */
export const AES_SIV_KEY_LENGTH = 32;
/** Length of the synthetic IV (the tag) prefixed to every ciphertext (RFC 5297 §2.6). */
export const AES_SIV_TAG_LENGTH = 16;

/** Associated data: one S2V component, or several in order (RFC 5297 §2.4). */
export type SivAd = Uint8Array | readonly Uint8Array[];

/** Counter blocks and keystream of CTR, shared by every key; they grow, never shrink. */
let ctrIn = new Uint8Array(2048);
let ctrOut = new Uint8Array(2048);
/** The counter blocks as words (copies) and with big-endian access (the counter). */
let ctrIn32 = new Int32Array(ctrIn.buffer);
let ctrView = new DataView(ctrIn.buffer);
let ctrOut32 = new Int32Array(ctrOut.buffer);

const ZERO_BLOCK = new Uint8Array(16);

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
  /** The 16-byte blocks below in one buffer: as words (XORs, copies) and big endian (dbl). */
  readonly #w32 = new Int32Array(24);
  readonly #wv = new DataView(this.#w32.buffer);
  readonly #d0 = new Uint8Array(this.#w32.buffer, 0, 16); // CMAC(<zero>), the start of S2V
  readonly #d = new Uint8Array(this.#w32.buffer, 16, 16); // S2V accumulator (words 4-7)
  readonly #v = new Uint8Array(this.#w32.buffer, 32, 16); // tag being computed, or the CTR IV
  readonly #expected = new Uint8Array(this.#w32.buffer, 48, 16); // tag received
  readonly #k2bytes = new Uint8Array(this.#w32.buffer, 64, 16);
  #k2Pending = false; // #ecb not yet keyed with #k2bytes
  /** CMAC(<empty>): cookies' empty AD component (words 20-23). */
  readonly #cmacEmpty = new Uint8Array(this.#w32.buffer, 80, 16);
  #cmacEmptyKnown = false;

  private constructor(cmac: Cmac, ecb: AesContext) {
    this.#cmac = cmac;
    this.#ecb = ecb;
    this.#start();
  }

  /** Schedules a 32-byte key. Throws RangeError for another length, NtsUnavailableError. */
  static create(key: Uint8Array): AesSivKey {
    checkKey(key);
    // S2V uses K1, the leftmost half of the key; CTR uses K2 (RFC 5297 §2.6).
    return new AesSivKey(
      Cmac.create(key.subarray(0, 16)),
      AesContext.create("AES-128-ECB", key.subarray(16, 32)),
    );
  }

  /** Replaces the key (RangeError for a length other than 32), reusing the contexts. */
  setKey(key: Uint8Array): void {
    checkKey(key);
    // K2 is scheduled on first use: verifying an empty plaintext needs no CTR.
    this.#k2bytes.set(key.subarray(16, 32));
    this.#k2Pending = true;
    this.#cmac.setKeyPrefix(key);
    this.#start();
  }

  /** CMAC(<zero>) after a key change. */
  #start(): void {
    this.#cmacEmptyKnown = false;
    this.#d0.set(this.#cmac.mac(ZERO_BLOCK, 0, 16));
  }

  /** Starts S2V (RFC 5297 §2.4). */
  #s2vStart(): void {
    const w = this.#w32;
    w[4] = w[0]!;
    w[5] = w[1]!;
    w[6] = w[2]!;
    w[7] = w[3]!;
  }

  /** Adds one S2V component (an AD component, or the nonce). */
  #s2vAdd(buf: Uint8Array, at: number, n: number): void {
    const w = this.#w32;
    dblView(this.#wv, 16);
    if (n > 0) {
      this.#cmac.mac(buf, at, n);
      const m = this.#cmac.resultWords;
      w[4]! ^= m[0]!;
      w[5]! ^= m[1]!;
      w[6]! ^= m[2]!;
      w[7]! ^= m[3]!;
    } else {
      // An empty component (the AD of every cookie) has a CMAC fixed per key: one AES call saved.
      if (!this.#cmacEmptyKnown) {
        this.#cmacEmpty.set(this.#cmac.mac(buf, at, 0));
        this.#cmacEmptyKnown = true;
      }
      w[4]! ^= w[20]!;
      w[5]! ^= w[21]!;
      w[6]! ^= w[22]!;
      w[7]! ^= w[23]!;
    }
  }

  /** Finishes S2V over the plaintext `buf[at, at + n)`; the result is in `#v`. */
  #s2vFinal(buf: Uint8Array, at: number, n: number): void {
    const d = this.#d;
    const cmac = this.#cmac;
    const s = cmac.load(buf, at, n);
    const w = this.#w32;
    if (n >= 16) {
      if ((n & 3) === 0) {
        const s32 = Cmac.inputWords, e = (n - 16) >> 2; // xorend
        s32[e]! ^= w[4]!;
        s32[e + 1]! ^= w[5]!;
        s32[e + 2]! ^= w[6]!;
        s32[e + 3]! ^= w[7]!;
      } else {
        for (let i = 0; i < 16; i++) s[n - 16 + i]! ^= d[i]!; // xorend
      }
      cmac.macInput(n);
    } else {
      dblView(this.#wv, 16);
      s[n] = 0x80;
      for (let i = n + 1; i < 16; i++) s[i] = 0;
      const s32 = Cmac.inputWords;
      s32[0]! ^= w[4]!;
      s32[1]! ^= w[5]!;
      s32[2]! ^= w[6]!;
      s32[3]! ^= w[7]!;
      cmac.macInput(16);
    }
    const m = cmac.resultWords;
    w[8] = m[0]!;
    w[9] = m[1]!;
    w[10] = m[2]!;
    w[11] = m[3]!;
  }

  /** CTR (RFC 5297 §2.5) with IV `#v`: `dst[dstAt, +n) = src[srcAt, +n) ^ keystream`. */
  #ctr(src: Uint8Array, srcAt: number, n: number, dst: Uint8Array, dstAt: number): void {
    if (n === 0) return;
    if (this.#k2Pending) {
      this.#ecb.setKey(this.#k2bytes);
      this.#k2Pending = false;
    }
    const blocks = (n + 15) >> 4;
    if (ctrIn.length < (blocks << 4) + 16) {
      const size = Math.max((blocks << 4) + 16, ctrIn.length * 2);
      ctrIn = new Uint8Array(size);
      ctrOut = new Uint8Array(size);
      ctrIn32 = new Int32Array(ctrIn.buffer);
      ctrView = new DataView(ctrIn.buffer);
      ctrOut32 = new Int32Array(ctrOut.buffer);
    }
    const q = ctrIn32, w = this.#w32, qv = ctrView;
    q[0] = w[8]!;
    q[1] = w[9]!;
    q[2] = w[10]!;
    q[3] = w[11]!;
    ctrIn[8]! &= 0x7f; // Q = V bitand (1^64 || 0^1 || 1^31 || 0^1 || 1^31)
    ctrIn[12]! &= 0x7f;
    // Counter blocks Q, Q+1, ...: with bit 31 cleared the low 32 bits cannot
    // carry into the rest for fewer than 2^31 blocks.
    const low = qv.getUint32(12);
    for (let b = 1, o = 4; b < blocks; b++, o += 4) {
      q[o] = q[0]!;
      q[o + 1] = q[1]!;
      q[o + 2] = q[2]!;
      qv.setUint32((o + 3) << 2, low + b);
    }
    const ks = ctrOut;
    this.#ecb.encrypt(ks, ctrIn, blocks << 4);
    let i = 0;
    const so = src.byteOffset + srcAt, doff = dst.byteOffset + dstAt;
    if (((so | doff) & 3) === 0 && n >= 16) {
      // word at a time where both ranges are aligned (NTS fields always are)
      const s32 = wordsOf(src), d32 = wordsOf(dst), k32 = ctrOut32;
      const sw = so >> 2, dw = doff >> 2, words = n >> 2;
      for (let j = 0; j < words; j++) d32[dw + j] = s32[sw + j]! ^ k32[j]!;
      i = words << 2;
    }
    for (; i < n; i++) dst[dstAt + i] = src[srcAt + i]! ^ ks[i]!;
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
    out.set(this.#v, outAt);
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
    const n = sealedLen - AES_SIV_TAG_LENGTH;
    const expected = this.#expected;
    for (let i = 0; i < 16; i++) expected[i] = sealed[sealedAt + i]!;
    this.#v.set(expected);
    this.#ctr(sealed, sealedAt + AES_SIV_TAG_LENGTH, n, out, outAt);
    this.#s2vStart();
    this.#s2vAdd(ad, adAt, adLen);
    if (nonceLen > 0) this.#s2vAdd(nonce, nonceAt, nonceLen);
    this.#s2vFinal(out, outAt, n);
    let diff = 0;
    for (let i = 0; i < 16; i++) diff |= this.#v[i]! ^ expected[i]!;
    return diff === 0;
  }

  /** S2V (RFC 5297 §2.4) over the AD components, nonce (unless empty) and final string. */
  s2v(ad: SivAd, nonce: Uint8Array, last: Uint8Array): Uint8Array {
    this.#s2vStart();
    for (const c of components(ad)) this.#s2vAdd(c, 0, c.length);
    if (nonce.length > 0) this.#s2vAdd(nonce, 0, nonce.length);
    this.#s2vFinal(last, 0, last.length);
    return this.#v.slice();
  }

  /**
   * Encrypts. The S2V components are the AD component(s), then `nonce`
   * unless it is empty (RFC 5297 §3: the nonce is the last AD component).
   */
  seal(nonce: Uint8Array, ad: SivAd, plaintext: Uint8Array): Uint8Array {
    const out = new Uint8Array(AES_SIV_TAG_LENGTH + plaintext.length);
    this.s2v(ad, nonce, plaintext);
    this.#ctr(plaintext, 0, plaintext.length, out, AES_SIV_TAG_LENGTH);
    out.set(this.#v);
    return out;
  }

  /** Decrypts and authenticates; null when the tag does not verify. */
  open(nonce: Uint8Array, ad: SivAd, sealed: Uint8Array): Uint8Array | null {
    if (sealed.length < AES_SIV_TAG_LENGTH) return null;
    const out = new Uint8Array(sealed.length - AES_SIV_TAG_LENGTH);
    const tag = sealed.slice(0, AES_SIV_TAG_LENGTH);
    this.#v.set(tag);
    this.#ctr(sealed, AES_SIV_TAG_LENGTH, out.length, out, 0);
    const v = this.s2v(ad, nonce, out);
    let diff = 0;
    for (let i = 0; i < 16; i++) diff |= v[i]! ^ tag[i]!;
    return diff === 0 ? out : null;
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
