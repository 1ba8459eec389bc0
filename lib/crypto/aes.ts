/**
 * The AES block cipher for lib/crypto: OpenSSL's AES-128/256 in ECB or CBC
 * mode (`ffi/libssl.ts`, the one module of lib/crypto that reaches ffi/), the
 * memory it works on in place by address (`AesBuffer`), and
 * single-block AES-128 functions for the modes that work block by block
 * (AES-128-GCM-SIV). Pure computation: no sockets, no clock, no randomness.
 *
 * @example
 * ```ts
 * import { aes128Block } from "./aes.ts";
 * const enc = aes128Block(new Uint8Array(16));
 * enc(new Uint8Array(16)); // 66e94bd4ef8a2c3b884cfa59ca342b2e: a zero block under a zero key
 * ```
 * @module
 */
import { AesBuffer, AesContext, type AesMode } from "../../ffi/libssl.ts";

export { AesBuffer, AesContext, type AesMode };

/** An AES-128 encryption of one 16-byte block under a fixed key. */
export type AesBlock = (block: Uint8Array) => Uint8Array;
/** Makes an {@link AesBlock} for a 16-byte key. */
export type AesFactory = (key: Uint8Array) => AesBlock;

/** The one AES-128-ECB context behind {@linkcode aes128Block}, and whose key it holds. */
let blockCtx: AesContext | undefined;
let blockOwner: object | undefined;
const blockOut = new Uint8Array(32);

/**
 * AES-128 encryption of single blocks under `key` (16 bytes). The returned
 * functions share one OpenSSL context, re-keyed when another key is used.
 * Throws RangeError for a key of another length, NtsUnavailableError without
 * OpenSSL.
 */
export const aes128Block: AesFactory = (key) => {
  if (key.length !== 16) throw new RangeError(`AES-128 key must be 16 bytes, got ${key.length}`);
  blockCtx ??= AesContext.create("AES-128-ECB", key);
  const own = key.slice();
  const owner = {};
  const ctx = blockCtx;
  return (block: Uint8Array): Uint8Array => {
    if (blockOwner !== owner) {
      ctx.setKey(own);
      blockOwner = owner;
    }
    ctx.encrypt(blockOut, block, 16);
    return blockOut.slice(0, 16);
  };
};
