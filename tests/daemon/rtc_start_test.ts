/**
 * chronyd -s (lib/daemon/rtc_start.ts) with an injected RTC and a clock
 * double (never this machine's clock): the RTC's time at its update
 * interrupt, corrected by valid rtcfile coefficients; the driftfile's time
 * when it is later than now and the RTC; with -x no step and chronyd 4.3's
 * "Could not step system clock" (observed with a driftfile dated in the
 * future); without a device nothing is logged (observed: chronyd 4.3 -s -x
 * on this machine without /dev/rtc says nothing more).
 */
import assert from "node:assert/strict";
import { RTC } from "../../ffi/layout.ts";
import { defaultConfig } from "../../lib/conf/config.ts";
import { encodeRtcTime } from "../../lib/clock/rtc.ts";
import { Logger } from "../../lib/daemon/log.ts";
import { setClockAtStart, startTime } from "../../lib/daemon/rtc_start.ts";
import { DEVICE_ERRNO, DeviceError } from "../../lib/refclock/device.ts";
import { fromUnixSeconds, type Timestamp } from "../../lib/time/timestamp.ts";
import { FakeDevice } from "../refclock/fake_device.ts";

const NOW = 1_796_428_160;

function close(a: number, b: number, tol: number, what: string): void {
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} != ${b}`);
}

Deno.test("startTime: RTC, its drift corrected, and the driftfile's time when later", () => {
  assert.equal(startTime({ now: NOW, rtcFast: null, coefficients: null, driftMtime: null }), null);
  // RTC 2.5 s behind the system clock, no rtcfile: the clock is 2.5 s ahead of it
  assert.deepEqual(
    startTime({ now: NOW, rtcFast: -2.5, coefficients: null, driftMtime: null }),
    { offset: 2.5, from: "rtc" },
  );
  // rtcfile: the RTC was 10 s fast at RTC time refTime and gains 100 ppm: at RTC time
  // NOW + 10.1 (1010.1 s later) it is 10.10101 s fast, so the clock is 1.01 ms ahead
  const c = { valid: true, refTime: NOW - 1000, fast: 10, gainPpm: 100 };
  const r = startTime({ now: NOW, rtcFast: 10.1, coefficients: c, driftMtime: null })!;
  assert.equal(r.from, "rtc");
  close(r.offset, 0.00101, 1e-9, "corrected");
  // coefficients not valid: ignored
  assert.equal(
    startTime({ now: NOW, rtcFast: 10.1, coefficients: { ...c, valid: false }, driftMtime: null })!
      .offset,
    -10.1,
  );
  // driftfile later than both now and the RTC: its time
  assert.deepEqual(
    startTime({ now: NOW, rtcFast: 5, coefficients: null, driftMtime: NOW + 60 }),
    { offset: -60, from: "driftfile" },
  );
  assert.deepEqual(
    startTime({ now: NOW, rtcFast: null, coefficients: null, driftMtime: NOW + 60 }),
    { offset: -60, from: "driftfile" },
  );
  // not later than the RTC, or in the past: the RTC
  assert.equal(
    startTime({ now: NOW, rtcFast: 100, coefficients: null, driftMtime: NOW + 60 })!.from,
    "rtc",
  );
  assert.equal(
    startTime({ now: NOW, rtcFast: null, coefficients: null, driftMtime: NOW - 60 }),
    null,
  );
});

function irq(): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, (1n << 8n) | BigInt(RTC.UF | RTC.IRQF), true);
  return b;
}

/** An RTC showing `rtc` (whole seconds) from system time `sys` on, and a clock double. */
function rig(dir: string, rtc: number, sys: Timestamp) {
  const dev = new FakeDevice("/dev/rtc-fake", {
    [RTC.UIE_ON]: () => 0,
    [RTC.UIE_OFF]: () => 0,
    [RTC.RD_TIME]: (a) => (a!.set(encodeRtcTime(rtc, true)), 0),
  });
  dev.reads.push(irq());
  const config = defaultConfig();
  config.rtcDevice = "/dev/rtc-fake";
  config.rtcOnUtc = true;
  config.rtcFile = `${dir}/rtc`;
  config.driftFile = { path: `${dir}/drift`, interval: 0 };
  const steps: number[] = [];
  const clock = { now: () => sys, step: (o: number) => void steps.push(o) };
  const lines: string[] = [];
  const sink = { lines: { push: (l: string) => lines.push(l.replace(/^\S+ /, "")) } };
  const log = new Logger({ sink: sink as unknown as { lines: string[] }, level: 0 });
  return { dev, config, clock, steps, lines, log };
}

Deno.test("-s steps the clock (a double) to the RTC's time, rtcfile-corrected", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    // the RTC's new second NOW began at system time NOW + 3.25 s; it was 0.5 s slow
    // at NOW - 86400 and loses 10 ppm (0.864 s a day): now 1.364 s slow
    Deno.writeTextFileSync(`${dir}/rtc`, `1 ${NOW - 86400} -0.500000 -10.000\n`);
    const { dev, config, clock, steps, lines, log } = rig(
      dir,
      NOW,
      fromUnixSeconds(NOW) + 3_250_000_000n,
    );
    const r = await setClockAtStart(config, {
      open: () => dev,
      clock,
      canStep: true,
      log,
      waitMs: 2000,
    });
    assert.equal(r?.from, "rtc");
    assert.equal(steps.length, 1);
    close(steps[0]!, 3.25 - 1.364, 1e-6, "step");
    assert.deepEqual(lines, ["System clock set from the RTC, step -1.886000 seconds"]);
    assert.ok(dev.closed);
    assert.deepEqual(dev.calls.map((c) => c.request), [RTC.UIE_ON, RTC.RD_TIME, RTC.UIE_OFF]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("-s with -x: no step, 'Could not step system clock'; no RTC: nothing said", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const { dev, config, clock, steps, lines, log } = rig(
      dir,
      NOW,
      fromUnixSeconds(NOW) + 3_250_000_000n,
    );
    const r = await setClockAtStart(config, { open: () => dev, clock, canStep: false, log });
    assert.deepEqual(r, { offset: 3.25, from: "rtc" });
    assert.deepEqual(steps, []);
    assert.deepEqual(lines, ["Could not step system clock"]);

    // no device, driftfile in the past: nothing to do, nothing logged
    const none = () => {
      throw new DeviceError("open", DEVICE_ERRNO.ENOENT, "/dev/rtc");
    };
    Deno.writeTextFileSync(`${dir}/drift`, "1.5 0.1\n");
    Deno.utimeSync(`${dir}/drift`, NOW - 10, NOW - 10);
    lines.length = 0;
    assert.equal(
      await setClockAtStart(config, { open: none, clock, canStep: false, log }),
      null,
    );
    assert.deepEqual(lines, []);

    // driftfile dated after now: chronyd -x says it could not step (observed, with and
    // without an rtcfile)
    Deno.utimeSync(`${dir}/drift`, NOW + 3600, NOW + 3600);
    const c = { now: () => fromUnixSeconds(NOW), step: clock.step };
    const d = await setClockAtStart(config, { open: none, clock: c, canStep: false, log });
    assert.deepEqual(d, { offset: -3600, from: "driftfile" });
    assert.deepEqual(lines, ["Could not step system clock"]);
    assert.deepEqual(steps, []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
