/**
 * NIC clock tracking (`hwtimestamp`): readings of a free-running PHC
 * (37 s ahead of the system clock when the driver loaded it, gaining
 * 12.5 ppm; reading jitter of a few tens of ns as PTP_SYS_OFFSET_EXTENDED
 * gives on a PCIe NIC) and the conversion of hardware stamps.
 */
import assert from "node:assert/strict";
import { HwClock, HWCLOCK_RESET_THRESHOLD, rxFrameCorrectionNs } from "../../lib/clock/hwclock.ts";

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

// RX stamps moved from the start of the frame to its end. Expected values worked by hand:
// bits on the wire after the start-of-frame delimiter = 8 * (MAC 14 + IP 20|40 + UDP 8 + data
// + FCS 4), divided by the link speed. NTS request (chronyd, AES-SIV-CMAC-256, one 100-byte
// cookie): header 48 + unique identifier 4+32 + cookie 4+100 + authenticator 4+2+2+16+16 = 228.
// NTP-over-PTP: a 48-byte PTP Delay_Req header with TLV, then the NTP message: 96.
const FRAME_CASES: [string, 4 | 6, number, [number, number, number]][] = [
  //  name                family  UDP data  [100 Mb/s, 1 Gb/s, 10 Gb/s] ns
  ["NTP 48, IPv4", 4, 48, [7520, 752, 75.2]], // 94 bytes
  ["NTP 48, IPv6", 6, 48, [9120, 912, 91.2]], // 114 bytes
  ["NTS 228, IPv4", 4, 228, [21920, 2192, 219.2]], // 274 bytes
  ["NTS 228, IPv6", 6, 228, [23520, 2352, 235.2]], // 294 bytes
  ["NTP-over-PTP 96, IPv4", 4, 96, [11360, 1136, 113.6]], // 142 bytes
];

Deno.test("hwclock RX frame correction: 100M/1G/10G, IPv4/IPv6, NTP, NTS and NTP-over-PTP sizes", () => {
  for (const [name, family, udpLength, expected] of FRAME_CASES) {
    const got = [100, 1000, 10000].map((s) => rxFrameCorrectionNs({ udpLength, family }, s));
    for (let k = 0; k < 3; k++) {
      assert.ok(Math.abs(got[k]! - expected[k]!) < 1e-9, `${name}: ${got} vs ${expected}`);
    }
  }
});

Deno.test("hwclock RX frame correction: a reported layer-2 length wins; an unknown speed corrects nothing", () => {
  // a VLAN-tagged NTP request: the kernel reports 94 bytes at layer 2 (4 more than untagged)
  assert.equal(rxFrameCorrectionNs({ udpLength: 48, family: 4, l2Length: 94 }, 1000), 784);
  assert.equal(rxFrameCorrectionNs({ udpLength: 48, family: 4 }, 0), 0); // link down / SPEED_UNKNOWN
  assert.equal(rxFrameCorrectionNs({ udpLength: 48, family: 4 }, -1), 0);
  assert.equal(rxFrameCorrectionNs({ udpLength: 48, family: 4 }, 2500), 300.8); // 2.5GBASE-T
});
