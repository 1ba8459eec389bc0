/**
 * `struct timex` as a typed value, with the mode, status and clock-state
 * constants of the kernel's NTP interface (adjtimex(2), clock_adjtime(2)),
 * plus an encoder/decoder for the 208-byte kernel struct. Pure types and
 * constants: no `Deno.dlopen` here, so sans-IO code (lib/clock) can import it
 * for test doubles. The system calls live in `ffi/libc.ts`.
 *
 * @example
 * ```ts
 * import { ADJ_FREQUENCY, decodeTimex, emptyTimex, encodeTimex } from "./timex.ts";
 * const tx = { ...emptyTimex(), modes: ADJ_FREQUENCY, freq: Math.round(12.5 * 65536) };
 * decodeTimex(encodeTimex(tx)).freq === tx.freq; // true
 * ```
 * @module
 */

import { TIMEX } from "./layout.ts";

/**
 * The fields of `struct timex` (linux/timex.h), all as plain numbers in the
 * kernel's own units. Units depend on `status & STA_NANO` where noted.
 */
export interface Timex {
  /** Which fields to set: a bitmask of `ADJ_*`. 0 = read only. */
  modes: number;
  /** Time offset: µs, or ns when STA_NANO / ADJ_NANO. For ADJ_SETOFFSET see `time`. */
  offset: number;
  /** Frequency offset in ppm scaled by 2^16 (65536 = 1 ppm). */
  freq: number;
  /** Maximum error, µs. */
  maxerror: number;
  /** Estimated error, µs. */
  esterror: number;
  /** Clock status: a bitmask of `STA_*`. */
  status: number;
  /** PLL time constant (log2). */
  constant: number;
  /** Clock precision, µs (read only). */
  precision: number;
  /** Maximum frequency tolerance, ppm scaled by 2^16 (read only). */
  tolerance: number;
  /**
   * Current time (read), or the step to apply with ADJ_SETOFFSET: `usec` is
   * µs, or ns when ADJ_NANO/STA_NANO; it must be 0 <= usec < 1 s.
   */
  time: { sec: number; usec: number };
  /** µs between clock ticks. */
  tick: number;
  /** PPS frequency, ppm scaled by 2^16 (read only). */
  ppsfreq: number;
  /** PPS jitter, µs or ns (read only). */
  jitter: number;
  /** PPS interval duration, log2 seconds (read only). */
  shift: number;
  /** PPS stability, ppm scaled by 2^16 (read only). */
  stabil: number;
  /** PPS count of jitter limit exceeded (read only). */
  jitcnt: number;
  /** PPS count of calibration intervals (read only). */
  calcnt: number;
  /** PPS count of calibration errors (read only). */
  errcnt: number;
  /** PPS count of stability limit exceeded (read only). */
  stbcnt: number;
  /** TAI offset, seconds. */
  tai: number;
}

// linux/timex.h: modes
/** Set `offset` (PLL). */
export const ADJ_OFFSET = 0x0001;
/** Set `freq`. */
export const ADJ_FREQUENCY = 0x0002;
/** Set `maxerror`. */
export const ADJ_MAXERROR = 0x0004;
/** Set `esterror`. */
export const ADJ_ESTERROR = 0x0008;
/** Set `status`. */
export const ADJ_STATUS = 0x0010;
/** Set `constant`. */
export const ADJ_TIMECONST = 0x0020;
/** Set `tai` (from `constant`). */
export const ADJ_TAI = 0x0080;
/** Step the clock by `time` (sec + usec/nsec). */
export const ADJ_SETOFFSET = 0x0100;
/** Select µs resolution. */
export const ADJ_MICRO = 0x1000;
/** Select ns resolution. */
export const ADJ_NANO = 0x2000;
/** Set `tick`. */
export const ADJ_TICK = 0x4000;
/** Old-fashioned adjtime(): slew `offset` µs once. */
export const ADJ_OFFSET_SINGLESHOT = 0x8001;
/** Read the remaining single-shot offset. */
export const ADJ_OFFSET_SS_READ = 0xa001;

// linux/timex.h: status bits
/** PLL updates enabled. */
export const STA_PLL = 0x0001;
/** PPS frequency discipline enabled. */
export const STA_PPSFREQ = 0x0002;
/** PPS time discipline enabled. */
export const STA_PPSTIME = 0x0004;
/** Frequency-lock mode. */
export const STA_FLL = 0x0008;
/** Insert a leap second at the end of the UTC day. */
export const STA_INS = 0x0010;
/** Delete a leap second at the end of the UTC day. */
export const STA_DEL = 0x0020;
/** Clock unsynchronized. */
export const STA_UNSYNC = 0x0040;
/** Hold frequency. */
export const STA_FREQHOLD = 0x0080;
/** PPS signal present (read only). */
export const STA_PPSSIGNAL = 0x0100;
/** PPS jitter exceeded (read only). */
export const STA_PPSJITTER = 0x0200;
/** PPS wander exceeded (read only). */
export const STA_PPSWANDER = 0x0400;
/** PPS calibration error (read only). */
export const STA_PPSERROR = 0x0800;
/** Clock hardware fault (read only). */
export const STA_CLOCKERR = 0x1000;
/** Resolution is ns, not µs (read only; set with ADJ_NANO). */
export const STA_NANO = 0x2000;
/** Mode: 0 = PLL, 1 = FLL (read only). */
export const STA_MODE = 0x4000;
/** Clock source: 0 = A, 1 = B (read only). */
export const STA_CLK = 0x8000;
/** The read-only status bits. */
export const STA_RONLY = STA_PPSSIGNAL | STA_PPSJITTER | STA_PPSWANDER | STA_PPSERROR |
  STA_CLOCKERR | STA_NANO | STA_MODE | STA_CLK;

// linux/timex.h: clock states (adjtimex return value)
/** Clock synchronized, no leap second pending. */
export const TIME_OK = 0;
/** Insert leap second at the end of the day. */
export const TIME_INS = 1;
/** Delete leap second at the end of the day. */
export const TIME_DEL = 2;
/** Leap second in progress. */
export const TIME_OOP = 3;
/** Leap second has occurred. */
export const TIME_WAIT = 4;
/** Clock not synchronized. */
export const TIME_ERROR = 5;

/** A `Timex` with every field 0 (a read-only request). */
export function emptyTimex(): Timex {
  return {
    modes: 0,
    offset: 0,
    freq: 0,
    maxerror: 0,
    esterror: 0,
    status: 0,
    constant: 0,
    precision: 0,
    tolerance: 0,
    time: { sec: 0, usec: 0 },
    tick: 0,
    ppsfreq: 0,
    jitter: 0,
    shift: 0,
    stabil: 0,
    jitcnt: 0,
    calcnt: 0,
    errcnt: 0,
    stbcnt: 0,
    tai: 0,
  };
}

/**
 * Writes `tx` into `out` (at least `TIMEX.size` bytes, zero padding included)
 * in the kernel's layout. Returns `out`.
 */
export function encodeTimex(tx: Timex, out: Uint8Array = new Uint8Array(TIMEX.size)): Uint8Array {
  if (out.length < TIMEX.size) throw new RangeError(`timex buffer needs ${TIMEX.size} bytes`);
  out.fill(0, 0, TIMEX.size);
  const dv = new DataView(out.buffer, out.byteOffset, TIMEX.size);
  const long = (off: number, v: number) => dv.setBigInt64(off, BigInt(Math.trunc(v)), true);
  dv.setUint32(TIMEX.modes, tx.modes >>> 0, true);
  long(TIMEX.offset, tx.offset);
  long(TIMEX.freq, tx.freq);
  long(TIMEX.maxerror, tx.maxerror);
  long(TIMEX.esterror, tx.esterror);
  dv.setInt32(TIMEX.status, tx.status | 0, true);
  long(TIMEX.constant, tx.constant);
  long(TIMEX.precision, tx.precision);
  long(TIMEX.tolerance, tx.tolerance);
  long(TIMEX.timeSec, tx.time.sec);
  long(TIMEX.timeUsec, tx.time.usec);
  long(TIMEX.tick, tx.tick);
  long(TIMEX.ppsfreq, tx.ppsfreq);
  long(TIMEX.jitter, tx.jitter);
  dv.setInt32(TIMEX.shift, tx.shift | 0, true);
  long(TIMEX.stabil, tx.stabil);
  long(TIMEX.jitcnt, tx.jitcnt);
  long(TIMEX.calcnt, tx.calcnt);
  long(TIMEX.errcnt, tx.errcnt);
  long(TIMEX.stbcnt, tx.stbcnt);
  dv.setInt32(TIMEX.tai, tx.tai | 0, true);
  return out;
}

/** Reads a `Timex` from the kernel's layout in `buf` (at least `TIMEX.size` bytes). */
export function decodeTimex(buf: Uint8Array): Timex {
  if (buf.length < TIMEX.size) throw new RangeError(`timex buffer needs ${TIMEX.size} bytes`);
  const dv = new DataView(buf.buffer, buf.byteOffset, TIMEX.size);
  const long = (off: number) => Number(dv.getBigInt64(off, true));
  return {
    modes: dv.getUint32(TIMEX.modes, true),
    offset: long(TIMEX.offset),
    freq: long(TIMEX.freq),
    maxerror: long(TIMEX.maxerror),
    esterror: long(TIMEX.esterror),
    status: dv.getInt32(TIMEX.status, true),
    constant: long(TIMEX.constant),
    precision: long(TIMEX.precision),
    tolerance: long(TIMEX.tolerance),
    time: { sec: long(TIMEX.timeSec), usec: long(TIMEX.timeUsec) },
    tick: long(TIMEX.tick),
    ppsfreq: long(TIMEX.ppsfreq),
    jitter: long(TIMEX.jitter),
    shift: dv.getInt32(TIMEX.shift, true),
    stabil: long(TIMEX.stabil),
    jitcnt: long(TIMEX.jitcnt),
    calcnt: long(TIMEX.calcnt),
    errcnt: long(TIMEX.errcnt),
    stbcnt: long(TIMEX.stbcnt),
    tai: dv.getInt32(TIMEX.tai, true),
  };
}
