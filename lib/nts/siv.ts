/**
 * The AEADs NTS negotiates (RFC 8915 §5.1, chrony.conf(5) `ntsaeads`): the
 * ones horae implements, by IANA id. They are computed in lib/crypto
 * (`aead.ts`: AES-SIV-CMAC-256 and AES-128-GCM-SIV over OpenSSL's AES); this
 * module re-exports them for the NTS codecs.
 *
 * @example
 * ```ts
 * import { aeadById, enabledAeads } from "./siv.ts";
 * aeadById(15)?.keyLength; // 32
 * enabledAeads([30, 15, 99]); // [30, 15]
 * ```
 * @module
 */
import {
  type Aead,
  AEAD_AES_128_GCM_SIV,
  AEAD_AES_SIV_CMAC_256,
  AES_128_GCM_SIV,
  AES_SIV_CMAC_256,
} from "../crypto/aead.ts";

export {
  type Aead,
  AEAD_AES_128_GCM_SIV,
  AEAD_AES_SIV_CMAC_256,
  AES_128_GCM_SIV,
  AES_SIV_CMAC_256,
};

/** The AEADs horae implements, in chrony's default preference (`ntsaeads 30 15`). */
export const SUPPORTED_AEADS: readonly number[] = [AEAD_AES_128_GCM_SIV, AEAD_AES_SIV_CMAC_256];

/** The AEAD for an id, or undefined when horae does not implement it. */
export function aeadById(id: number): Aead | undefined {
  return id === AEAD_AES_SIV_CMAC_256
    ? AES_SIV_CMAC_256
    : id === AEAD_AES_128_GCM_SIV
    ? AES_128_GCM_SIV
    : undefined;
}

/**
 * The `ntsaeads` list reduced to what horae implements, in its order
 * (chronyd ignores ids its crypto library lacks).
 */
export function enabledAeads(configured: readonly number[]): number[] {
  return configured.filter((id, i) => SUPPORTED_AEADS.includes(id) && configured.indexOf(id) === i);
}
