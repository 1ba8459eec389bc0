/**
 * The experimental extension field F324 (chrony.conf(5) `extfield F324`,
 * chronyd 4.5+): corrections by PTP one-step end-to-end transparent clocks
 * (switches adding their residence time to the PTP header's correctionField)
 * of NTP-over-PTP messages (`ptpport`, lib/ntp/ptp.ts).
 *
 * Observed from chronyd 4.8 on loopback (strace of its sendmsg/recvmmsg, and
 * requests crafted to its PTP port): the field is type 0xF324, length 28; the
 * body is a magic word 0x07AC2CEB and 20 more bytes. A client's request
 * carries the magic and zeros; a server answers a version-4 request holding
 * that field (length 28, the magic) with the header followed by its own F324
 * field of the same layout; a request's field with another magic or length:
 * a reply without the field; a 24-byte field as the last one (RFC 7822 wants
 * 28 without a MAC): no reply. chronyd 4.8 does not accept `extfield 10A`
 * ("Invalid value in server directive"). On loopback (no NIC stamps) the
 * server's 20 bytes stay zero whatever the request's PTP correctionField
 * (1500 ns, -1500 ns, 0x0102030405060708 were tried).
 *
 * NOT observed (needs NIC stamps on both sides): what the server's 20 bytes
 * hold when its RX time is a NIC stamp. horae's choice, documented as such:
 * bytes 4-11 are the request's correctionField converted to seconds as a
 * signed NTP 32.32 fixed point value, bytes 12-23 zero; the server fills it
 * only when its RX time is a NIC stamp (else zeros, as observed). The client
 * applies corrections only to samples whose RX and TX times are NIC stamps
 * (chrony.conf(5)): the request's (from the field) to T2 and the reply's
 * (its own PTP header) to T4, so the delay loses their sum and the offset
 * moves by half their difference ({@link applyPtpCorrections}).
 *
 * @example
 * ```ts
 * import { decodeF324, F324_REQUEST } from "./ef_f324.ts";
 * decodeF324(F324_REQUEST.body)!.correction; // 0
 * ```
 * @module
 */
import { type ExtensionField, findMagicField } from "./extension_field.ts";

/** The field type. */
export const EF_EXP_PTP_CORRECTION = 0xf324;
/** The first word of the body. */
export const F324_MAGIC = 0x07ac2ceb;
/** Body length (the field is 28 bytes with its header). */
export const F324_BODY_LENGTH = 24;
/** Length of the whole field (header included). */
export const F324_FIELD_LENGTH = 28;

/** The decoded body. */
export interface F324 {
  /** The request's transparent-clock correction, seconds (0: none or unknown). */
  correction: number;
}

/** Seconds as a signed 32.32 fixed point value (saturating). */
function toFixed(seconds: number): bigint {
  const v = Math.round(seconds * 2 ** 32);
  const max = 2 ** 63 - 1;
  return BigInt(Math.max(-max, Math.min(max, v)));
}

/** Encodes a body. */
export function encodeF324(f: F324): ExtensionField {
  const body = new Uint8Array(F324_BODY_LENGTH);
  const v = new DataView(body.buffer);
  v.setUint32(0, F324_MAGIC);
  v.setBigInt64(4, toFixed(f.correction));
  return { type: EF_EXP_PTP_CORRECTION, body };
}

/** The field of a request: the magic, the rest zero (as chronyd 4.8 sends it). */
export const F324_REQUEST: ExtensionField = encodeF324({ correction: 0 });

/** Decodes a body; null when not 24 bytes or without the magic. */
export function decodeF324(body: Uint8Array): F324 | null {
  if (body.length !== F324_BODY_LENGTH) return null;
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  if (v.getUint32(0) !== F324_MAGIC) return null;
  return { correction: Number(v.getBigInt64(4)) / 2 ** 32 };
}

/** The F324 field among `fields`, decoded, or null. */
export function findF324(fields: readonly ExtensionField[]): F324 | null {
  for (const f of fields) if (f.type === EF_EXP_PTP_CORRECTION) return decodeF324(f.body);
  return null;
}

/**
 * Offset in `view` of the first F324 field a server answers (type F324,
 * length 28, the magic) among the extension fields from byte 48 up to
 * `end`, or -1. No allocation; stops at anything that is not a field.
 */
export function findF324Request(view: DataView, end: number): number {
  return findMagicField(view, end, EF_EXP_PTP_CORRECTION, F324_FIELD_LENGTH, F324_MAGIC);
}

/** Writes a server's F324 field at `off` of `out` (no allocation); returns its length. */
export function writeF324Reply(out: DataView, off: number, correction: number): number {
  out.setUint16(off, EF_EXP_PTP_CORRECTION);
  out.setUint16(off + 2, F324_FIELD_LENGTH);
  out.setUint32(off + 4, F324_MAGIC);
  out.setBigInt64(off + 8, toFixed(correction));
  out.setUint32(off + 16, 0);
  out.setUint32(off + 20, 0);
  out.setUint32(off + 24, 0);
  return F324_FIELD_LENGTH;
}

/** The four timestamps of a measurement, seconds on any common scale. */
export interface FourStamps {
  t1: number;
  t2: number;
  t3: number;
  t4: number;
}

/**
 * Removes transparent clocks' residence times: `request` (seconds, on the
 * way to the server) from T2, `reply` (on the way back) from T4. Delay
 * (T4-T1)-(T3-T2) loses request+reply; offset ((T2-T1)+(T3-T4))/2 moves by
 * (reply-request)/2. Negative or non-finite corrections are ignored.
 */
export function applyPtpCorrections(s: FourStamps, request: number, reply: number): FourStamps {
  const ok = (c: number) => Number.isFinite(c) && c > 0 ? c : 0;
  return { t1: s.t1, t2: s.t2 - ok(request), t3: s.t3, t4: s.t4 - ok(reply) };
}
