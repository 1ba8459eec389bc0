/**
 * AES-CMAC (RFC 4493; with AES-256 keys as NIST SP 800-38B) over OpenSSL's
 * AES in CBC mode (`aes.ts`): the MAC of NTP symmetric AES keys (RFC 8573,
 * `lib/ntp/mac.ts`) and the S2V of AES-SIV (`siv.ts`).
 *
 * {@linkcode Cmac} keeps a key scheduled and computes without allocating: the
 * message is copied into a scratch buffer every key shares (single-threaded),
 * padded there in place and run through the CBC context, which is never
 * reset: a CBC-MAC with a zero IV of a new message is computed by XORing the
 * previous output block (the context's chaining value) into the message's
 * first block. {@linkcode aesCmac} is the one-shot form.
 *
 * @example
 * ```ts
 * import { aesCmac } from "./cmac.ts";
 * const key = new Uint8Array(16);
 * aesCmac(key, new Uint8Array(0)); // 16 bytes
 * ```
 * @module
 */
import { AesContext } from "./aes.ts";

/** AES block and CMAC length, bytes. RFC 4493 §2.1. */
export const CMAC_LENGTH = 16;

/**
 * Scratch buffers every key shares: the bytes handed to OpenSSL and what it
 * returns. They grow for long inputs, never shrink.
 */
let scratchIn = new Uint8Array(2048);
let scratchOut = new Uint8Array(2048);
/** The same buffers as 32-bit words (block XORs four words at a time; byte order irrelevant). */
let scratchIn32 = new Int32Array(scratchIn.buffer);
let scratchOut32 = new Int32Array(scratchOut.buffer);

function scratchFor(n: number): void {
  if (scratchIn.length >= n) return;
  const size = (Math.max(n, scratchIn.length * 2) + 15) & ~15;
  scratchIn = new Uint8Array(size);
  scratchOut = new Uint8Array(size);
  scratchIn32 = new Int32Array(scratchIn.buffer);
  scratchOut32 = new Int32Array(scratchOut.buffer);
}

/**
 * Word views of the buffers lately read or written a word at a time (a
 * packet arena, key buffers, scratch): they recur, so each view is made once
 * and found again by a look through these few (the oldest replaced).
 */
const VIEWS = 6;
const viewBuffers: (ArrayBufferLike | null)[] = new Array(VIEWS).fill(null);
const viewWords: Int32Array[] = Array.from({ length: VIEWS }, () => new Int32Array(0));
let viewNext = 0;

/** A word view of all of `b`'s buffer; index it with (byte offset >> 2). */
export function wordsOf(b: Uint8Array): Int32Array {
  const buf = b.buffer;
  for (let i = 0; i < VIEWS; i++) if (viewBuffers[i] === buf) return viewWords[i]!;
  const i = viewNext;
  viewNext = (i + 1) % VIEWS;
  viewBuffers[i] = buf;
  return viewWords[i] = new Int32Array(buf, 0, buf.byteLength >> 2);
}

/** Doubling in GF(2^128) (RFC 4493 §2.3, RFC 5297 §2.3), in place. */
export function dbl(b: Uint8Array): void {
  const carry = b[0]! >> 7;
  for (let i = 0; i < 15; i++) b[i] = ((b[i]! << 1) | (b[i + 1]! >> 7)) & 0xff;
  b[15] = ((b[15]! << 1) & 0xff) ^ (carry ? 0x87 : 0); // R_128
}

/**
 * {@linkcode dbl} of the block at byte `at` of `w` (a view of the block's
 * buffer; the block is big endian whatever the host's order).
 */
export function dblView(w: DataView, at: number): void {
  const a = w.getUint32(at), b = w.getUint32(at + 4);
  const c = w.getUint32(at + 8), d = w.getUint32(at + 12);
  w.setUint32(at, (a << 1) | (b >>> 31));
  w.setUint32(at + 4, (b << 1) | (c >>> 31));
  w.setUint32(at + 8, (c << 1) | (d >>> 31));
  w.setUint32(at + 12, (d << 1) ^ ((a >> 31) & 0x87)); // R_128
}

/** One scheduled AES-CMAC key (16 or 32 bytes); see the module doc. */
export class Cmac {
  readonly #cbc: AesContext; // AES-CBC, zero IV, padding off
  readonly #words = new Int32Array(12); // chain, k1, k2 as words
  readonly #chain = new Uint8Array(this.#words.buffer, 0, 16); // last CBC output block
  readonly #k1 = new Uint8Array(this.#words.buffer, 16, 16); // subkey of a complete final block
  readonly #k2 = new Uint8Array(this.#words.buffer, 32, 16); // subkey of a padded final block

  private constructor(cbc: AesContext) {
    this.#cbc = cbc;
    this.#subkeys();
  }

  /** Schedules `key`: AES-128 for 16 bytes, AES-256 for 32 (RangeError otherwise). */
  static create(key: Uint8Array): Cmac {
    if (key.length !== 16 && key.length !== 32) {
      throw new RangeError(`AES-CMAC key must be 16 or 32 bytes, got ${key.length}`);
    }
    return new Cmac(AesContext.create(key.length === 32 ? "AES-256-CBC" : "AES-128-CBC", key));
  }

  /** The last result ({@linkcode mac}, {@linkcode macInput}) as four words. */
  get resultWords(): Int32Array {
    return this.#words;
  }

  /** The buffer {@linkcode load} returned, as words (valid until the next load). */
  static get inputWords(): Int32Array {
    return scratchIn32;
  }

  /** Key length, bytes (16 or 32). */
  get keyLength(): number {
    return this.#cbc.keyLength;
  }

  /** Replaces the key (same length, RangeError otherwise), reusing the context. */
  setKey(key: Uint8Array): void {
    if (key.length !== this.#cbc.keyLength) {
      throw new RangeError(`AES-CMAC key must be ${this.#cbc.keyLength} bytes, got ${key.length}`);
    }
    this.setKeyPrefix(key);
  }

  /**
   * Replaces the key with the first {@linkcode keyLength} bytes of `key`
   * (AES-SIV's K1 is the first half of its key: no view made per message).
   */
  setKeyPrefix(key: Uint8Array): void {
    this.#cbc.setKey(key);
    this.#subkeys();
  }

  /** The subkeys after a key change (the CBC chain restarted from a zero IV). */
  #subkeys(): void {
    this.#chain.fill(0);
    scratchIn.fill(0, 0, 16);
    const l = this.#cbcMac(16);
    this.#k1.set(l);
    dbl(this.#k1);
    this.#k2.set(this.#k1);
    dbl(this.#k2);
  }

  /** CBC-MAC with a zero IV of `scratchIn[0, n)` (n a multiple of 16): the last block. */
  #cbcMac(n: number): Uint8Array {
    const w = this.#words, s = scratchIn32;
    s[0]! ^= w[0]!;
    s[1]! ^= w[1]!;
    s[2]! ^= w[2]!;
    s[3]! ^= w[3]!;
    this.#cbc.encrypt(scratchOut, scratchIn, n);
    const o = scratchOut32, last = (n - 16) >> 2;
    w[0] = o[last]!;
    w[1] = o[last + 1]!;
    w[2] = o[last + 2]!;
    w[3] = o[last + 3]!;
    return this.#chain;
  }

  /**
   * The shared input buffer with `buf[at, at + n)` copied to its start and
   * room for the padding: a caller may alter it, then call {@linkcode macInput}.
   */
  load(buf: Uint8Array, at: number, n: number): Uint8Array {
    scratchFor(n + 16);
    const s = scratchIn;
    const from = buf.byteOffset + at;
    if (n >= 16 && (from & 3) === 0) {
      // a word at a time (NTS fields are aligned); the tail byte by byte
      const w = wordsOf(buf), d = scratchIn32, f = from >> 2, words = n >> 2;
      for (let i = 0; i < words; i++) d[i] = w[f + i]!;
      for (let i = words << 2; i < n; i++) s[i] = buf[at + i]!;
    } else if (n > 32) s.set(buf.subarray(at, at + n));
    else for (let i = 0; i < n; i++) s[i] = buf[at + i]!;
    return s;
  }

  /**
   * AES-CMAC of the first `n` bytes of the buffer {@linkcode load} returned
   * (padded in place). The result is valid until this key computes again.
   */
  macInput(n: number): Uint8Array {
    const blocks = n === 0 ? 1 : (n + 15) >> 4;
    const last = (blocks - 1) << 4;
    let sub = 4; // k1's first word
    if (n === 0 || (n & 15) !== 0) {
      scratchIn[n] = 0x80; // padding 10*. RFC 4493 §2.4
      for (let i = n + 1, end = blocks << 4; i < end; i++) scratchIn[i] = 0;
      sub = 8; // k2
    }
    const w = this.#words, s = scratchIn32, at = last >> 2;
    s[at]! ^= w[sub]!;
    s[at + 1]! ^= w[sub + 1]!;
    s[at + 2]! ^= w[sub + 2]!;
    s[at + 3]! ^= w[sub + 3]!;
    return this.#cbcMac(blocks << 4);
  }

  /** AES-CMAC of `buf[at, at + n)`; valid until this key computes again. */
  mac(buf: Uint8Array, at = 0, n = buf.length - at): Uint8Array {
    this.load(buf, at, n);
    return this.macInput(n);
  }
}

/** Re-keyed instances for {@linkcode aesCmac}, one per key length. */
let oneShot128: Cmac | undefined;
let oneShot256: Cmac | undefined;

/**
 * AES-CMAC (RFC 4493) of `data` under a 16- or 32-byte key (a new array).
 * Throws RangeError for another key length, NtsUnavailableError without OpenSSL.
 */
export function aesCmac(key: Uint8Array, data: Uint8Array): Uint8Array {
  let c: Cmac;
  if (key.length === 32) {
    if (oneShot256 === undefined) oneShot256 = c = Cmac.create(key);
    else (c = oneShot256).setKey(key);
  } else {
    if (oneShot128 === undefined) oneShot128 = c = Cmac.create(key);
    else (c = oneShot128).setKey(key);
  }
  return c.mac(data).slice();
}
