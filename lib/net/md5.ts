/**
 * MD5 (RFC 1321) for the reference id of an IPv6 address
 * (`addressRefId` in address.ts): written from the RFC so the daemon
 * does not load node:crypto (several MB resident) for IPv6 reference IDs.
 * Tested against RFC 1321 §A.5 in tests/ntp/reference_id_test.ts.
 *
 * @example
 * ```ts
 * import { md5 } from "./md5.ts";
 * md5(new TextEncoder().encode("abc"))[0]; // 0x90
 * ```
 * @module
 */

/** Per-round left-rotation amounts of MD5. RFC 1321 §3.4. */
const MD5_SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
/** MD5's sine table: floor(2^32 * |sin(i + 1)|). RFC 1321 §3.4. */
const MD5_T = Array.from({ length: 64 }, (_, i) => Math.floor(2 ** 32 * Math.abs(Math.sin(i + 1))));

/**
 * MD5 (RFC 1321) of a short message, written from the RFC so the daemon does
 * not load node:crypto (several MB resident) for IPv6 reference IDs.
 */
export function md5(message: Uint8Array): Uint8Array {
  const blocks = ((message.length + 8) >> 6) + 1;
  const padded = new Uint8Array(blocks * 64);
  padded.set(message);
  padded[message.length] = 0x80;
  const bits = message.length * 8;
  const dv = new DataView(padded.buffer);
  dv.setUint32(padded.length - 8, bits >>> 0, true);
  dv.setUint32(padded.length - 4, Math.floor(bits / 2 ** 32), true);
  let a0 = 0x67452301, b0 = 0xefcdab89, c0 = 0x98badcfe, d0 = 0x10325476;
  const x = new Uint32Array(16);
  for (let blk = 0; blk < blocks; blk++) {
    for (let i = 0; i < 16; i++) x[i] = dv.getUint32(blk * 64 + i * 4, true);
    let a = a0, b = b0, c = c0, d = d0;
    for (let i = 0; i < 64; i++) {
      let f: number, g: number;
      const round = i >> 4;
      if (round === 0) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (round === 1) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) & 15;
      } else if (round === 2) {
        f = b ^ c ^ d;
        g = (3 * i + 5) & 15;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) & 15;
      }
      const s = MD5_SHIFTS[(round << 2) | (i & 3)]!;
      const sum = (a + f + MD5_T[i]! + x[g]!) >>> 0;
      a = d;
      d = c;
      c = b;
      b = (b + ((sum << s) | (sum >>> (32 - s)))) >>> 0;
    }
    a0 = (a0 + a) >>> 0;
    b0 = (b0 + b) >>> 0;
    c0 = (c0 + c) >>> 0;
    d0 = (d0 + d) >>> 0;
  }
  const out = new Uint8Array(16);
  const ov = new DataView(out.buffer);
  [a0, b0, c0, d0].forEach((w, i) => ov.setUint32(i * 4, w, true));
  return out;
}
