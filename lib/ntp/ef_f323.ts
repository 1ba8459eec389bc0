/**
 * The experimental extension field F323 (chrony.conf(5) `extfield F323`):
 * root delay and dispersion in a finer resolution than the header and a
 * monotonic receive timestamp (the NTPv5 proposal). Layout observed on the
 * wire from chronyd 4.3 on loopback: type 0xF323, length 28; a magic word
 * 0xF5BEDD9A, root delay and root dispersion as unsigned 4.28 fixed point
 * seconds, the monotonic receive timestamp (NTP 64-bit format) and its epoch
 * (32 bits, changes when the monotonic timescale restarts). A request carries
 * the magic and zeros.
 *
 * A server (observed from chronyd 4.3 and 4.8 on loopback) answers a request
 * whose fields include one F323 field of exactly 28 bytes with the magic
 * (the rest of its body is ignored; other fields are not echoed; a second
 * F323 changes nothing) with the header followed by its own F323 field: the
 * header's root delay and dispersion in 4.28 (1 s each when unsynchronised),
 * and the monotonic receive timestamp: the receive timestamp without the
 * offset corrections (slews, steps) the server made to its clock since the
 * epoch began, frequency corrections included (a chronyd -x following a
 * source 20 ppm off keeps monotonic minus receive constant, while after a
 * 50 ms step of its source the difference follows each correction). The
 * epoch is a random 32-bit value chosen at start. A wrong magic or length:
 * the reply has no field.
 *
 * @example
 * ```ts
 * import { decodeF323, F323_REQUEST } from "./ef_f323.ts";
 * decodeF323(F323_REQUEST.body)!.rootDelay; // 0
 * ```
 * @module
 */
import { type ExtensionField, findMagicField } from "./extension_field.ts";

/** The field type. */
export const EF_EXP_MONO_ROOT = 0xf323;
/** The first word of the body. */
export const F323_MAGIC = 0xf5bedd9a;
/** Body length (the field is 28 bytes with its header). */
export const F323_BODY_LENGTH = 24;
/** Largest root delay/dispersion the 4.28 format holds, seconds. */
export const F323_MAX_SECONDS = (2 ** 32 - 1) / 2 ** 28;

/** The decoded body. */
export interface F323 {
  /** Seconds. */
  rootDelay: number;
  /** Seconds. */
  rootDispersion: number;
  /** Monotonic receive timestamp, NTP 64-bit format. */
  monoReceiveTs: bigint;
  monoEpoch: number;
}

/** Encodes a body. */
export function encodeF323(f: F323): ExtensionField {
  const body = new Uint8Array(F323_BODY_LENGTH);
  const v = new DataView(body.buffer);
  const fixed = (s: number) => Math.min(2 ** 32 - 1, Math.max(0, Math.round(s * 2 ** 28)));
  v.setUint32(0, F323_MAGIC);
  v.setUint32(4, fixed(f.rootDelay));
  v.setUint32(8, fixed(f.rootDispersion));
  v.setBigUint64(12, BigInt.asUintN(64, f.monoReceiveTs));
  v.setUint32(20, f.monoEpoch >>> 0);
  return { type: EF_EXP_MONO_ROOT, body };
}

/** The field of a request: the magic, the rest zero (as chronyd 4.3 sends it). */
export const F323_REQUEST: ExtensionField = encodeF323({
  rootDelay: 0,
  rootDispersion: 0,
  monoReceiveTs: 0n,
  monoEpoch: 0,
});

/** Length of the whole field (header included). */
export const F323_FIELD_LENGTH = 28;

/** Seconds to the field's 4.28 format, rounded up (as the header's 16.16), saturating. */
export function toF323Fixed(seconds: number): number {
  const v = Math.ceil(seconds * 2 ** 28);
  return v > 0 ? Math.min(v, 0xffffffff) : 0;
}

/**
 * Offset in `view` of the first F323 field a server answers (type F323,
 * length 28, the magic) among the extension fields from byte 48 up to
 * `end`, or -1. No allocation; stops at anything that is not a field.
 */
export function findF323Request(view: DataView, end: number): number {
  return findMagicField(view, end, EF_EXP_MONO_ROOT, F323_FIELD_LENGTH, F323_MAGIC);
}

/**
 * Writes a server's F323 field at `off` of `out` (no allocation): root delay
 * and dispersion in 4.28 words, the monotonic receive timestamp (hi, lo) and
 * its epoch. Returns the field length.
 */
export function writeF323Reply(
  out: DataView,
  off: number,
  delay: number,
  dispersion: number,
  monoHi: number,
  monoLo: number,
  epoch: number,
): number {
  out.setUint16(off, EF_EXP_MONO_ROOT);
  out.setUint16(off + 2, F323_FIELD_LENGTH);
  out.setUint32(off + 4, F323_MAGIC);
  out.setUint32(off + 8, delay);
  out.setUint32(off + 12, dispersion);
  out.setUint32(off + 16, monoHi);
  out.setUint32(off + 20, monoLo);
  out.setUint32(off + 24, epoch >>> 0);
  return F323_FIELD_LENGTH;
}

/** Decodes a body; null when too short or without the magic. */
export function decodeF323(body: Uint8Array): F323 | null {
  if (body.length < F323_BODY_LENGTH) return null;
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (v.getUint32(0) !== F323_MAGIC) return null;
  return {
    rootDelay: v.getUint32(4) / 2 ** 28,
    rootDispersion: v.getUint32(8) / 2 ** 28,
    monoReceiveTs: v.getBigUint64(12),
    monoEpoch: v.getUint32(20),
  };
}

/** The F323 field among `fields`, decoded, or null. */
export function findF323(fields: readonly ExtensionField[]): F323 | null {
  for (const f of fields) if (f.type === EF_EXP_MONO_ROOT) return decodeF323(f.body);
  return null;
}
