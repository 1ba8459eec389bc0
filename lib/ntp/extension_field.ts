/**
 * NTPv4 extension fields (RFC 7822) and the NTS field types (RFC 8915 §5.7).
 *
 * An extension field is `type (16 bits) | length (16 bits) | value`, where
 * length counts the whole field including its 4-byte header, is a multiple of
 * 4 and is at least 16. We keep `body` as every byte after the header, padding
 * included, so decode -> encode gives back the same bytes.
 *
 * @example
 * ```ts
 * import { EF_NTS_UNIQUE_IDENTIFIER, encodeExtensionField } from "./extension_field.ts";
 * const bytes = encodeExtensionField({ type: EF_NTS_UNIQUE_IDENTIFIER, body: new Uint8Array(32) });
 * bytes.length; // 36
 * ```
 * @module
 */
import { PacketError } from "./packet_error.ts";

/** NTS Unique Identifier extension field. RFC 8915 §5.3. */
export const EF_NTS_UNIQUE_IDENTIFIER = 0x0104;
/** NTS Cookie extension field. RFC 8915 §5.4. */
export const EF_NTS_COOKIE = 0x0204;
/** NTS Cookie Placeholder extension field. RFC 8915 §5.5. */
export const EF_NTS_COOKIE_PLACEHOLDER = 0x0304;
/** NTS Authenticator and Encrypted Extension Fields. RFC 8915 §5.6. */
export const EF_NTS_AUTH_AND_EEF = 0x0404;

/** Bytes of an extension field header (type + length). RFC 7822 §3. */
export const EF_HEADER_LENGTH = 4;
/** Smallest extension field, header included. RFC 7822 §3. */
export const EF_MIN_LENGTH = 16;
/** Smallest last extension field when no MAC follows. RFC 7822 §3. */
export const EF_MIN_LAST_LENGTH_NO_MAC = 28;
/** Largest extension field the 16-bit length can describe (multiple of 4). */
export const EF_MAX_LENGTH = 0xfffc;

/** One extension field. */
export interface ExtensionField {
  /** Field type (16 bits). */
  type: number;
  /** Value bytes after the 4-byte header, padding included. */
  body: Uint8Array;
}

/**
 * Length on the wire of a field with this body: header plus body padded to a
 * multiple of 4, and at least {@link EF_MIN_LENGTH} bytes.
 */
export function extensionFieldLength(field: ExtensionField): number {
  const padded = (EF_HEADER_LENGTH + field.body.length + 3) & ~3;
  return Math.max(EF_MIN_LENGTH, padded);
}

/**
 * Writes `field` at `offset` of `view` (zero padding) and returns the number of
 * bytes written. Throws `PacketError("value")` for a type outside 16 bits or a
 * field too long for the length word.
 */
export function writeExtensionField(view: DataView, offset: number, field: ExtensionField): number {
  if (!Number.isInteger(field.type) || field.type < 0 || field.type > 0xffff) {
    throw new PacketError("value", `extension field type ${field.type}`);
  }
  const length = extensionFieldLength(field);
  if (length > EF_MAX_LENGTH) throw new PacketError("value", `extension field of ${length} bytes`);
  view.setUint16(offset, field.type);
  view.setUint16(offset + 2, length);
  const out = new Uint8Array(view.buffer, view.byteOffset + offset, length);
  out.fill(0, EF_HEADER_LENGTH);
  out.set(field.body, EF_HEADER_LENGTH);
  return length;
}

/** One extension field as its own bytes. */
export function encodeExtensionField(field: ExtensionField): Uint8Array {
  const out = new Uint8Array(extensionFieldLength(field));
  writeExtensionField(new DataView(out.buffer), 0, field);
  return out;
}

/**
 * Reads the extension field at `offset` if a valid one (length >= 16, multiple
 * of 4, within `end`) starts there; `null` otherwise. Never throws.
 */
export function readExtensionField(
  bytes: Uint8Array,
  offset: number,
  end: number,
): { field: ExtensionField; length: number } | null {
  if (end - offset < EF_MIN_LENGTH) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint16(offset);
  const length = view.getUint16(offset + 2);
  if (length < EF_MIN_LENGTH || length % 4 !== 0 || length > end - offset) return null;
  const body = bytes.slice(offset + EF_HEADER_LENGTH, offset + length);
  return { field: { type, body }, length };
}

/**
 * Offset in `view` of the first extension field of `type` that is exactly
 * `length` bytes and starts its value with the 32-bit `magic` (chrony's
 * experimental fields), among the fields from byte 48 up to `end`; -1 when
 * there is none. No allocation; stops at anything that is not a field.
 */
export function findMagicField(
  view: DataView,
  end: number,
  type: number,
  length: number,
  magic: number,
): number {
  for (let off = 48; off + EF_MIN_LENGTH <= end;) {
    const t = view.getUint16(off), len = view.getUint16(off + 2);
    if (len < EF_MIN_LENGTH || (len & 3) !== 0 || off + len > end) return -1;
    if (t === type && len === length && view.getUint32(off + 4) === magic) return off;
    off += len;
  }
  return -1;
}
