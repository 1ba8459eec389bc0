/**
 * The PHC refclock driver through an injected device answering with
 * recorded kernel data: PTP_SYS_OFFSET_PRECISE / EXTENDED / plain buffers
 * as a NIC's PHC driver fills them (a PHC kept in TAI by ptp4l, 37 s
 * ahead of UTC and 1.234 µs more; readings 1.5-4 µs wide as on a PCIe
 * NIC), and ptp_extts_event records of an external PPS.
 */
import assert from "node:assert/strict";
import {
  PTP,
  PTP_CLOCK_TIME,
  PTP_EXTTS_EVENT,
  PTP_EXTTS_REQUEST_LAYOUT,
  PTP_PIN_DESC,
  PTP_SYS_OFFSET_EXTENDED_LAYOUT,
  PTP_SYS_OFFSET_LAYOUT,
  PTP_SYS_OFFSET_PRECISE_LAYOUT,
} from "../../ffi/layout.ts";
import { DEVICE_ERRNO } from "../../lib/refclock/device.ts";
import { RefclockError } from "../../lib/refclock/driver.ts";
import {
  decodeExttsEvents,
  decodeSysOffset,
  narrowestReading,
  PHC_READINGS,
  PhcDriver,
  pulseSample,
  writeClockTime,
} from "../../lib/refclock/phc.ts";
import { failWith, FakeDevice } from "./fake_device.ts";

const BASE = 1_796_421_600_000_000_000n; // 2026-12-04 22:00:00 UTC, system time
const TAI_NS = 37_000_001_234n; // PHC minus system

/** Recorded PTP_SYS_OFFSET_EXTENDED: [sys1 from BASE, width, PHC position in the interval], ns. */
const EXTENDED_ROWS: [bigint, bigint, bigint][] = [
  [0n, 3120n, 1500n],
  [4000n, 2890n, 1400n],
  [8000n, 1510n, 700n], // the narrowest: mid 755 ns in, PHC at 700
  [12000n, 2240n, 1100n],
  [16000n, 4010n, 2100n],
  [20000n, 1730n, 900n],
  [24000n, 2980n, 1500n],
  [28000n, 1620n, 800n],
  [32000n, 3550n, 1800n],
  [36000n, 2200n, 1000n],
];

function fillExtended(arg: Uint8Array | null, shift = 0n): number {
  const v = new DataView(arg!.buffer, arg!.byteOffset);
  assert.equal(v.getUint32(PTP_SYS_OFFSET_EXTENDED_LAYOUT.nSamples, true), PHC_READINGS);
  EXTENDED_ROWS.forEach(([start, width, pos], i) => {
    const at = PTP_SYS_OFFSET_EXTENDED_LAYOUT.ts + i * 3 * PTP_CLOCK_TIME.size;
    const sys1 = BASE + shift + start;
    writeClockTime(v, at, sys1);
    writeClockTime(v, at + 16, sys1 + pos + TAI_NS);
    writeClockTime(v, at + 32, sys1 + width);
  });
  return 0;
}

/** Recorded plain PTP_SYS_OFFSET, n = 3: sys, phc, sys, phc, sys, phc, sys. */
function fillPlain(arg: Uint8Array | null): number {
  const v = new DataView(arg!.buffer, arg!.byteOffset);
  v.setUint32(PTP_SYS_OFFSET_LAYOUT.nSamples, 3, true);
  const seq = [0n, 1200n + TAI_NS, 2500n, 3000n + TAI_NS, 4100n, 5600n + TAI_NS, 7000n];
  seq.forEach((t, i) => writeClockTime(v, PTP_SYS_OFFSET_LAYOUT.ts + i * 16, BASE + t));
  return 0;
}

function fillPrecise(arg: Uint8Array | null): number {
  const v = new DataView(arg!.buffer, arg!.byteOffset);
  writeClockTime(v, PTP_SYS_OFFSET_PRECISE_LAYOUT.device, BASE + 500n + TAI_NS);
  writeClockTime(v, PTP_SYS_OFFSET_PRECISE_LAYOUT.sysRealtime, BASE + 500n);
  writeClockTime(v, PTP_SYS_OFFSET_PRECISE_LAYOUT.sysMonoraw, 123_456_789_000n);
  return 0;
}

Deno.test("PHC maths: the narrowest reading of a sandwich, system time in its middle", () => {
  const rows = EXTENDED_ROWS.map(([s, w, p]) => ({
    sys1: BASE + s,
    phc: BASE + s + p + TAI_NS,
    sys2: BASE + s + w,
  }));
  const m = narrowestReading(rows)!;
  assert.equal(m.systemTime, BASE + 8755n);
  assert.equal(m.offsetNs, 55n - TAI_NS);
  assert.equal(m.offset, -37.000001179);
  assert.equal(m.delay, 1.51e-6);
  // a reading across a backward step (sys2 < sys1) is not "narrow"
  const stepped = [...rows, { sys1: BASE + 50_000n, phc: BASE, sys2: BASE + 40_000n }];
  assert.equal(narrowestReading(stepped)!.systemTime, BASE + 8755n);
  assert.equal(narrowestReading([]), null);
  // plain layout: interleaved, the middle pair (1600 ns) wins
  const plain = new Uint8Array(PTP_SYS_OFFSET_LAYOUT.size);
  fillPlain(plain);
  const r = decodeSysOffset(plain);
  assert.equal(r.length, 3);
  assert.deepEqual(r[1], { sys1: BASE + 2500n, phc: BASE + 3000n + TAI_NS, sys2: BASE + 4100n });
  assert.equal(narrowestReading(r)!.offsetNs, 300n - TAI_NS);
});

Deno.test("PHC driver: cross timestamp first; EOPNOTSUPP falls back to EXTENDED, kept", () => {
  const dev = new FakeDevice("/dev/ptp0", {
    [PTP.SYS_OFFSET_PRECISE]: failWith(DEVICE_ERRNO.EOPNOTSUPP),
    [PTP.SYS_OFFSET_EXTENDED]: (a) => fillExtended(a),
  });
  const d = PhcDriver.open(dev);
  assert.deepEqual(d.poll(), [{
    systemTime: BASE + 8755n,
    offset: -37.000001179,
    leap: 0,
    pulse: false,
  }]);
  assert.equal(d.method, "extended");
  dev.handlers.set(PTP.SYS_OFFSET_EXTENDED, (a) => fillExtended(a, 1_000_000_000n));
  assert.equal(d.poll()[0]!.systemTime, BASE + 1_000_008_755n);
  // PRECISE was tried once, never again
  assert.deepEqual(dev.calls.map((c) => c.request), [
    PTP.SYS_OFFSET_PRECISE,
    PTP.SYS_OFFSET_EXTENDED,
    PTP.SYS_OFFSET_EXTENDED,
  ]);
  assert.equal(d.errors, 0);
});

Deno.test("PHC driver: a precise cross timestamp is used as is; nocrossts never asks for one", () => {
  const handlers = {
    [PTP.SYS_OFFSET_PRECISE]: fillPrecise,
    [PTP.SYS_OFFSET_EXTENDED]: (a: Uint8Array | null) => fillExtended(a),
  };
  const precise = PhcDriver.open(new FakeDevice("/dev/ptp0", handlers));
  assert.deepEqual(precise.poll(), [{
    systemTime: BASE + 500n,
    offset: -37.000001234,
    leap: 0,
    pulse: false,
  }]);
  assert.equal(precise.method, "precise");
  const dev = new FakeDevice("/dev/ptp0", handlers);
  const nocross = PhcDriver.open(dev, { nocrossts: true });
  assert.equal(nocross.poll()[0]!.offset, -37.000001179);
  assert.ok(!dev.calls.some((c) => c.request === PTP.SYS_OFFSET_PRECISE));
});

Deno.test("PHC driver: an old kernel (ENOTTY for PRECISE and EXTENDED) is read with plain PTP_SYS_OFFSET", () => {
  const dev = new FakeDevice("/dev/ptp1", { [PTP.SYS_OFFSET]: fillPlain });
  const d = PhcDriver.open(dev);
  const [s] = d.poll();
  assert.equal(d.method, "plain");
  assert.equal(s!.systemTime, BASE + 3300n);
  assert.equal(s!.offset, Number(300n - TAI_NS) / 1e9);
  // the request asked for PHC_READINGS readings
  const req = dev.calls.find((c) => c.request === PTP.SYS_OFFSET)!.arg!;
  assert.equal(new DataView(req.buffer).getUint32(0, true), PHC_READINGS);
});

Deno.test("PHC driver: a device error (EIO) gives no sample and is counted", () => {
  const d = PhcDriver.open(new FakeDevice("/dev/ptp0", { [PTP.SYS_OFFSET_PRECISE]: failWith(5) }));
  assert.deepEqual(d.poll(), []);
  assert.equal(d.errors, 1);
  assert.equal(d.method, "precise");
});

/** A recorded ptp_extts_event. */
function extts(t: bigint, index: number): Uint8Array {
  const b = new Uint8Array(PTP_EXTTS_EVENT.size);
  const v = new DataView(b.buffer);
  writeClockTime(v, PTP_EXTTS_EVENT.t, t);
  v.setUint32(PTP_EXTTS_EVENT.index, index, true);
  v.setUint32(PTP_EXTTS_EVENT.flags, PTP.ENABLE_FEATURE | PTP.RISING_EDGE, true);
  return b;
}

Deno.test("PHC driver extpps: pin and channel set up, events converted to pulses on the system clock", async () => {
  // A free-running PHC: 12345.678901234 s behind the system clock.
  const behind = 12_345_678_901_234n;
  const dev = new FakeDevice("/dev/ptp2", {
    [PTP.SYS_OFFSET_PRECISE]: (a) => {
      const v = new DataView(a!.buffer, a!.byteOffset);
      writeClockTime(v, PTP_SYS_OFFSET_PRECISE_LAYOUT.device, BASE + 10_000_000n - behind);
      writeClockTime(v, PTP_SYS_OFFSET_PRECISE_LAYOUT.sysRealtime, BASE + 10_000_000n);
      return 0;
    },
    [PTP.PIN_SETFUNC]: () => 0,
    [PTP.EXTTS_REQUEST]: () => 0,
  });
  const d = PhcDriver.open(dev, { extpps: true, pin: 1, channel: 0 });
  const pin = new DataView(dev.calls[0]!.arg!.buffer);
  assert.equal(dev.calls[0]!.request, PTP.PIN_SETFUNC);
  assert.deepEqual(
    [
      pin.getUint32(PTP_PIN_DESC.index, true),
      pin.getUint32(PTP_PIN_DESC.func, true),
      pin.getUint32(PTP_PIN_DESC.chan, true),
    ],
    [1, PTP.PF_EXTTS, 0],
  );
  const req = new DataView(dev.calls[1]!.arg!.buffer);
  assert.equal(dev.calls[1]!.request, PTP.EXTTS_REQUEST);
  assert.equal(req.getUint32(PTP_EXTTS_REQUEST_LAYOUT.index, true), 0);
  assert.equal(
    req.getUint32(PTP_EXTTS_REQUEST_LAYOUT.flags, true),
    PTP.ENABLE_FEATURE | PTP.RISING_EDGE,
  );
  // Two pulses on channel 0 (350 ns after the system's second, then 999.99 ms
  // after, i.e. 10 µs before the next), one on channel 1 (another input).
  const pulse1 = BASE + 1_000_000_350n - behind;
  const pulse2 = BASE + 2_999_990_000n - behind;
  const queued = new Uint8Array(3 * PTP_EXTTS_EVENT.size);
  queued.set(extts(pulse1, 0), 0);
  queued.set(extts(pulse1 + 5n, 1), PTP_EXTTS_EVENT.size);
  queued.set(extts(pulse2, 0), 2 * PTP_EXTTS_EVENT.size);
  dev.reads.push(queued);
  const samples = d.poll();
  assert.equal(samples.length, 2);
  assert.deepEqual(samples[0], {
    systemTime: BASE + 1_000_000_350n,
    offset: 3.5e-7,
    leap: 0,
    pulse: true,
  });
  assert.equal(samples[1]!.systemTime, BASE + 2_999_990_000n);
  assert.ok(Math.abs(samples[1]!.offset - -1e-5) < 1e-15);
  assert.equal(d.foreignEvents, 1);
  assert.deepEqual(d.poll(), []); // nothing queued
  await d.fini();
  const off = dev.calls.at(-1)!;
  assert.equal(off.request, PTP.EXTTS_REQUEST);
  assert.equal(new DataView(off.arg!.buffer).getUint32(PTP_EXTTS_REQUEST_LAYOUT.flags, true), 0);
  assert.ok(dev.closed);
  assert.equal(decodeExttsEvents(queued, 40).length, 1); // a partial record is not decoded
});

Deno.test("PHC driver extpps: pin -1 leaves the pins alone, clear asks for falling edges; refused set-up fails", () => {
  const dev = new FakeDevice("/dev/ptp2", { [PTP.EXTTS_REQUEST]: () => 0 });
  PhcDriver.open(dev, { extpps: true, pin: -1, channel: 2, clear: true });
  assert.equal(dev.calls.length, 1);
  const req = new DataView(dev.calls[0]!.arg!.buffer);
  assert.equal(req.getUint32(PTP_EXTTS_REQUEST_LAYOUT.index, true), 2);
  assert.equal(
    req.getUint32(PTP_EXTTS_REQUEST_LAYOUT.flags, true),
    PTP.ENABLE_FEATURE | PTP.FALLING_EDGE,
  );
  const bad = new FakeDevice("/dev/ptp3", { [PTP.PIN_SETFUNC]: failWith(DEVICE_ERRNO.EINVAL) });
  assert.throws(() => PhcDriver.open(bad, { extpps: true }), RefclockError);
  assert.ok(bad.closed);
});

Deno.test("pulse samples: the distance from the nearest second, both sides", () => {
  assert.equal(pulseSample(BASE + 250_000_000n).offset, 0.25);
  assert.equal(pulseSample(BASE - 1000n).offset, -1e-6);
  assert.equal(pulseSample(BASE + 500_000_000n).offset, -0.5);
});
