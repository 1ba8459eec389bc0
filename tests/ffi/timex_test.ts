import assert from "node:assert/strict";
import {
  ADJ_FREQUENCY,
  ADJ_NANO,
  ADJ_OFFSET_SINGLESHOT,
  ADJ_SETOFFSET,
  decodeTimex,
  emptyTimex,
  encodeTimex,
  STA_DEL,
  STA_INS,
  STA_NANO,
  STA_PLL,
  STA_RONLY,
  STA_UNSYNC,
  type Timex,
} from "../../ffi/timex.ts";
import { TIMEX } from "../../ffi/layout.ts";

Deno.test("timex: every field round-trips through encode/decode", () => {
  const tx: Timex = {
    modes: ADJ_SETOFFSET | ADJ_NANO,
    offset: -123456,
    freq: -Math.round(12.5 * 65536),
    maxerror: 16000000,
    esterror: 5,
    status: STA_PLL | STA_INS,
    constant: 7,
    precision: 1,
    tolerance: 500 * 65536,
    time: { sec: -2, usec: 999_999_999 },
    tick: 10000,
    ppsfreq: 8,
    jitter: 9,
    shift: 4,
    stabil: 11,
    jitcnt: 12,
    calcnt: 13,
    errcnt: 14,
    stbcnt: 15,
    tai: 37,
  };
  const bytes = encodeTimex(tx);
  assert.equal(bytes.length, TIMEX.size);
  assert.deepEqual(decodeTimex(bytes), tx);
});

Deno.test("timex: fields land at the kernel's offsets, little-endian", () => {
  const bytes = encodeTimex({ ...emptyTimex(), modes: ADJ_FREQUENCY, freq: 65536, tai: 37 });
  const dv = new DataView(bytes.buffer);
  assert.equal(dv.getUint32(0, true), ADJ_FREQUENCY);
  assert.equal(dv.getBigInt64(16, true), 65536n);
  assert.equal(dv.getInt32(160, true), 37);
  assert.ok(bytes.subarray(164).every((b) => b === 0), "padding stays zero");
});

Deno.test("timex: ADJ_OFFSET_SINGLESHOT (0x8001) survives encode/decode unchanged", () => {
  const tx = decodeTimex(encodeTimex({ ...emptyTimex(), modes: ADJ_OFFSET_SINGLESHOT }));
  assert.equal(tx.modes, 0x8001);
});

Deno.test("timex: status constants are distinct bits and STA_RONLY excludes writable ones", () => {
  const bits = [STA_PLL, STA_INS, STA_DEL, STA_UNSYNC];
  assert.equal(bits.reduce((a, b) => a | b, 0), bits.reduce((a, b) => a + b, 0));
  assert.equal(STA_RONLY & (STA_PLL | STA_INS | STA_DEL | STA_UNSYNC), 0);
  assert.notEqual(STA_RONLY & STA_NANO, 0);
});

Deno.test("timex: a short buffer is rejected", () => {
  assert.throws(() => decodeTimex(new Uint8Array(100)), RangeError);
  assert.throws(() => encodeTimex(emptyTimex(), new Uint8Array(100)), RangeError);
});
