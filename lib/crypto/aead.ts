/**
 * The AEADs of NTS behind one small interface (RFC 5116), so the codecs in
 * lib/nts do not depend on how they are computed: AEAD_AES_SIV_CMAC_256
 * (RFC 5297, IANA AEAD id 15; `siv.ts`) and AEAD_AES_128_GCM_SIV (RFC 8452,
 * id 30; `gcm_siv.ts` over `aes128Block`). Pure computation over OpenSSL's
 * AES: no sockets, no clock, no randomness.
 *
 * @example
 * ```ts
 * import { AES_SIV_CMAC_256 } from "./aead.ts";
 * const key = new Uint8Array(32), nonce = new Uint8Array(16);
 * const sealed = AES_SIV_CMAC_256.seal(key, nonce, new Uint8Array(48), new Uint8Array(0));
 * AES_SIV_CMAC_256.open(key, nonce, new Uint8Array(48), sealed); // Uint8Array(0)
 * ```
 * @module
 */
import { aes128Block } from "./aes.ts";
import { AEAD_AES_128_GCM_SIV, gcmSivOpen, gcmSivSeal } from "./gcm_siv.ts";
import { aesSivOpen, aesSivSeal, type SivAd } from "./siv.ts";

export { AEAD_AES_128_GCM_SIV, type SivAd };

/** IANA AEAD id of AEAD_AES_SIV_CMAC_256. RFC 5297 §6.1, RFC 8915 §5.1. */
export const AEAD_AES_SIV_CMAC_256 = 15;

/** An authenticated cipher with associated data (RFC 5116 interface). */
export interface Aead {
  /** IANA AEAD registry id. */
  readonly id: number;
  /** Key length, bytes. */
  readonly keyLength: number;
  /** Bytes added to the plaintext by `seal`. */
  readonly overhead: number;
  /** Nonce length horae sends, and the shortest it accepts (bytes). */
  readonly nonceLength: number;
  /**
   * Encrypts and authenticates. An empty nonce means "no nonce"
   * (deterministic mode, RFC 5297 §2.4).
   */
  seal(key: Uint8Array, nonce: Uint8Array, ad: SivAd, plaintext: Uint8Array): Uint8Array;
  /** Authenticates and decrypts; null when anything was altered. */
  open(key: Uint8Array, nonce: Uint8Array, ad: SivAd, sealed: Uint8Array): Uint8Array | null;
}

/** AEAD_AES_SIV_CMAC_256: 32-byte key, 16-byte synthetic IV prefixed to the ciphertext. */
export const AES_SIV_CMAC_256: Aead = {
  id: AEAD_AES_SIV_CMAC_256,
  keyLength: 32, // RFC 5297 §6.1
  overhead: 16, // RFC 5297 §2.6
  nonceLength: 16, // RFC 8915 §5.6: at least 16 bytes
  seal: aesSivSeal,
  open: aesSivOpen,
};

/** Several AD components as one (AES-GCM-SIV takes a single associated data). */
function joinAd(ad: SivAd): Uint8Array {
  if (ad instanceof Uint8Array) return ad;
  const out = new Uint8Array(ad.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of ad) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/**
 * AEAD_AES_128_GCM_SIV (RFC 8452, id 30): 16-byte key, 12-byte nonce,
 * ciphertext followed by a 16-byte tag; computed in `gcm_siv.ts` from
 * OpenSSL's AES-128 blocks.
 */
export const AES_128_GCM_SIV: Aead = {
  id: AEAD_AES_128_GCM_SIV,
  keyLength: 16, // RFC 8452 §8
  overhead: 16,
  nonceLength: 12, // RFC 8452 §8: N_MIN = N_MAX = 12
  seal: (key, nonce, ad, plaintext) => gcmSivSeal(aes128Block, key, nonce, joinAd(ad), plaintext),
  open: (key, nonce, ad, sealed) =>
    nonce.length === 12 ? gcmSivOpen(aes128Block, key, nonce, joinAd(ad), sealed) : null,
};
