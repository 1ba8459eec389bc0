/**
 * The SOCK refclock datagram (chrony's refclock_sock protocol, as gpsd
 * sends it), sans IO: `struct timeval tv` (system time of the
 * measurement), `double offset` (reference minus system time, s), `int
 * pulse`, `int leap`, padding, `int magic` = "SOCK"; native byte order.
 *
 * @example
 * ```ts
 * import { decodeSockSample, encodeSockSample } from "./sock.ts";
 * const bytes = encodeSockSample({ systemTime: 5_000_000_000n, offset: 1e-3, leap: 0, pulse: false });
 * decodeSockSample(bytes); // { systemTime: 5_000_000_000n, offset: 0.001, leap: 0, pulse: false }
 * ```
 * @module
 */
import { SOCK_MAGIC, SOCK_SAMPLE } from "../../ffi/layout.ts";
import type { LeapIndicator } from "../clock/sample.ts";
import type { RawDriverSample } from "./driver.ts";

/** A datagram that is no SOCK sample. */
export class SockSampleError extends Error {
  readonly length: number;
  constructor(reason: string, length: number) {
    super(`Unexpected length or magic in SOCK message: ${reason} (${length} bytes)`);
    this.name = "SockSampleError";
    this.length = length;
  }
}

/**
 * Decodes one datagram. The sample's `offset` is system minus reference
 * (the datagram carries reference minus system). Throws SockSampleError.
 */
export function decodeSockSample(bytes: Uint8Array): RawDriverSample {
  if (bytes.length !== SOCK_SAMPLE.size) throw new SockSampleError("bad length", bytes.length);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getInt32(SOCK_SAMPLE.magic, true) !== SOCK_MAGIC) {
    throw new SockSampleError("bad magic", bytes.length);
  }
  const sec = v.getBigInt64(SOCK_SAMPLE.tvSec, true);
  const usec = v.getBigInt64(SOCK_SAMPLE.tvUsec, true);
  if (usec < 0n || usec >= 1_000_000n) throw new SockSampleError("bad tv_usec", bytes.length);
  const leap = v.getInt32(SOCK_SAMPLE.leap, true);
  if (leap < 0 || leap > 2) throw new SockSampleError("bad leap", bytes.length);
  const offset = v.getFloat64(SOCK_SAMPLE.offset, true);
  if (!Number.isFinite(offset)) throw new SockSampleError("bad offset", bytes.length);
  return {
    systemTime: sec * 1_000_000_000n + usec * 1000n,
    offset: offset === 0 ? 0 : -offset,
    leap: leap as LeapIndicator,
    pulse: v.getInt32(SOCK_SAMPLE.pulse, true) !== 0,
  };
}

/** Encodes a sample (what gpsd sends); the time is truncated to microseconds. */
export function encodeSockSample(s: RawDriverSample): Uint8Array {
  const bytes = new Uint8Array(SOCK_SAMPLE.size);
  const v = new DataView(bytes.buffer);
  const usec = s.systemTime / 1000n;
  v.setBigInt64(SOCK_SAMPLE.tvSec, usec / 1_000_000n, true);
  v.setBigInt64(SOCK_SAMPLE.tvUsec, usec % 1_000_000n, true);
  v.setFloat64(SOCK_SAMPLE.offset, s.offset === 0 ? 0 : -s.offset, true);
  v.setInt32(SOCK_SAMPLE.pulse, s.pulse ? 1 : 0, true);
  v.setInt32(SOCK_SAMPLE.leap, s.leap, true);
  v.setInt32(SOCK_SAMPLE.magic, SOCK_MAGIC, true);
  return bytes;
}
