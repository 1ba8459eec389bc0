/**
 * The AEAD used by NTS: AEAD_AES_SIV_CMAC_256 (RFC 5297, IANA AEAD id 15),
 * behind a small interface so the codecs in lib/nts do not depend on how it
 * is computed. The implementation is OpenSSL's AES-128-SIV via `ffi/libssl.ts`
 * (pure computation: no sockets, no clock).
 *
 * @example
 * ```ts
 * import { AES_SIV_CMAC_256 } from "./siv.ts";
 * const key = new Uint8Array(32), nonce = new Uint8Array(16);
 * const sealed = AES_SIV_CMAC_256.seal(key, nonce, new Uint8Array(48), new Uint8Array(0));
 * AES_SIV_CMAC_256.open(key, nonce, new Uint8Array(48), sealed); // Uint8Array(0)
 * ```
 * @module
 */

import { aesSivOpen, aesSivSeal, type SivAd } from "../../ffi/libssl.ts";

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
  seal: aesSivSeal,
  open: aesSivOpen,
};

/** The AEAD for an id, or undefined when horae does not implement it. */
export function aeadById(id: number): Aead | undefined {
  return id === AEAD_AES_SIV_CMAC_256 ? AES_SIV_CMAC_256 : undefined;
}
