/**
 * NIC clock tracking (`hwtimestamp`): readings of a free-running PHC
 * (37 s ahead of the system clock when the driver loaded it, gaining
 * 12.5 ppm; reading jitter of a few tens of ns as PTP_SYS_OFFSET_EXTENDED
 * gives on a PCIe NIC) and the conversion of hardware stamps.
 */
import assert from "node:assert/strict";
import { HwClock, HWCLOCK_RESET_THRESHOLD } from "../../lib/clock/hwclock.ts";

const T0 = 1_796_421_600_000_000_000n;
const JITTER_NS = [12, -31, 25, -8, 17, -22, 3, 29, -14, 6, -27, 19, -5, 11, -18, 24];

/** PHC time at system time `sys` (ns). */
function phcAt(sys: bigint): bigint {
  const dt = sys - T0;
  return sys + 37_000_000_000n + (dt * 125n) / 10_000_000n; // + 12.5 ppm
}

const opts = { minpoll: 0, maxpoll: 4, minSamples: 2, maxSamples: 16, precision: 1e-7 };

Deno.test("hwclock: needs minsamples readings, then converts stamps within the readings' noise", () => {
  const hc = new HwClock(opts);
  assert.equal(hc.convert(phcAt(T0)), null);
  hc.addReading(phcAt(T0) + 12n, T0, 2e-8);
  assert.equal(hc.convert(phcAt(T0)), null); // 1 < minsamples
  for (let i = 1; i < 16; i++) {
    const sys = T0 + BigInt(i) * 1_000_000_000n;
    hc.addReading(phcAt(sys) + BigInt(JITTER_NS[i]!), sys, 2e-8);
  }
  assert.equal(hc.samples, 16);
  // the NIC gains 12.5 ppm: system minus PHC falls by 12.5 µs per second
  assert.ok(Math.abs(hc.frequency! - -12.5e-6) < 1e-8, `frequency ${hc.frequency}`);
  // a packet stamped by the NIC half a second after the last reading
  const sys = T0 + 15_500_000_000n;
  const c = hc.convert(phcAt(sys))!;
  assert.ok(Math.abs(Number(c.time - sys)) < 50, `conversion off by ${c.time - sys} ns`);
  assert.ok(c.err >= 1e-7 && c.err < 1.5e-7, `err ${c.err}`);
});

Deno.test("hwclock: the reading interval doubles up to maxpoll while predictions hold; a step restarts", () => {
  const hc = new HwClock(opts);
  let sys = T0;
  const polls: number[] = [];
  for (let i = 0; i < 8; i++) {
    hc.addReading(phcAt(sys) + BigInt(JITTER_NS[i]!), sys, 2e-8);
    polls.push(hc.poll);
    sys += BigInt(2 ** hc.poll * 1e9);
  }
  assert.deepEqual(polls, [0, 0, 1, 2, 3, 4, 4, 4]);
  // ptp4l (or someone) stepped the PHC by 2 ms: the line is dropped
  hc.addReading(phcAt(sys) + 2_000_000n, sys, 2e-8);
  assert.ok(2e-3 > HWCLOCK_RESET_THRESHOLD);
  assert.equal(hc.resets, 1);
  assert.equal(hc.samples, 1);
  assert.equal(hc.poll, 0);
  assert.equal(hc.convert(phcAt(sys)), null);
});
