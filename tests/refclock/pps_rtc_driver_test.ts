/**
 * The PPS and RTC refclock drivers through injected devices answering with
 * recorded kernel data: `struct pps_fdata` after PPS_FETCH as pps-gpio
 * fills it (capabilities 0x11f3: both edges, offsets, echo, canwait,
 * timespec), `struct rtc_time` after RTC_RD_TIME and the update-interrupt
 * word read(2) returns (count << 8 | RTC_UF | RTC_IRQF).
 */
import assert from "node:assert/strict";
import {
  PPS,
  PPS_FDATA,
  PPS_KINFO,
  PPS_KPARAMS,
  PPS_KTIME,
  RTC,
  RTC_TIME,
} from "../../ffi/layout.ts";
import { RefclockError } from "../../lib/refclock/driver.ts";
import { decodePpsFetch, PpsDriver } from "../../lib/refclock/pps.ts";
import { decodeRtcTime, RtcDriver, rtcTimeToEpoch, validRtcTime } from "../../lib/refclock/rtc.ts";
import { DEVICE_ERRNO } from "../../lib/refclock/device.ts";
import { failWith, FakeDevice } from "./fake_device.ts";

const SEC = 1_796_421_600n; // 2026-12-04 22:00:00 UTC

/** pps-gpio's PPS_GETCAP: CAPTUREBOTH | OFFSETBOTH | ECHOBOTH | CANWAIT | TSFMT_TSPEC. */
const GPIO_CAPS = 0x11f3;

/** A recorded kernel PPS state: sequences and times of both edges. */
interface PpsState {
  assertSeq: number;
  assert: [bigint, number];
  clearSeq: number;
  clear: [bigint, number];
}

function ppsDevice(state: PpsState, caps = GPIO_CAPS, mode = 0x1001) {
  const params = { mode };
  return new FakeDevice("/dev/pps0", {
    [PPS.GETCAP]: (a) => (new DataView(a!.buffer).setInt32(0, caps, true), 0),
    [PPS.GETPARAMS]: (a) => {
      const v = new DataView(a!.buffer);
      v.setInt32(PPS_KPARAMS.apiVersion, PPS.API_VERS_1, true);
      v.setInt32(PPS_KPARAMS.mode, params.mode, true);
      return 0;
    },
    [PPS.SETPARAMS]: (a) => {
      params.mode = new DataView(a!.buffer).getInt32(PPS_KPARAMS.mode, true);
      return 0;
    },
    [PPS.FETCH]: (a) => {
      const v = new DataView(a!.buffer);
      // the driver asks not to wait: timeout {0, 0} without PPS_TIME_INVALID
      assert.equal(v.getBigInt64(PPS_FDATA.timeout + PPS_KTIME.sec, true), 0n);
      assert.equal(v.getInt32(PPS_FDATA.timeout + PPS_KTIME.nsec, true), 0);
      assert.equal(v.getUint32(PPS_FDATA.timeout + PPS_KTIME.flags, true) & PPS.TIME_INVALID, 0);
      v.setUint32(PPS_KINFO.assertSequence, state.assertSeq, true);
      v.setUint32(PPS_KINFO.clearSequence, state.clearSeq, true);
      v.setBigInt64(PPS_KINFO.assertTu + PPS_KTIME.sec, state.assert[0], true);
      v.setInt32(PPS_KINFO.assertTu + PPS_KTIME.nsec, state.assert[1], true);
      v.setBigInt64(PPS_KINFO.clearTu + PPS_KTIME.sec, state.clear[0], true);
      v.setInt32(PPS_KINFO.clearTu + PPS_KTIME.nsec, state.clear[1], true);
      v.setInt32(PPS_KINFO.currentMode, params.mode, true);
      return 0;
    },
  });
}

Deno.test("PPS driver: assert edges by sequence number, each pulse once", () => {
  const state: PpsState = {
    assertSeq: 4711,
    assert: [SEC, 12_345],
    clearSeq: 4710,
    clear: [SEC - 1n, 200_011_000],
  };
  const dev = ppsDevice(state);
  const d = PpsDriver.open(dev);
  // mode 0x1001 already captures assert: no SETPARAMS
  assert.deepEqual(dev.calls.map((c) => c.request), [PPS.GETCAP, PPS.GETPARAMS]);
  assert.deepEqual(d.poll(), [{
    systemTime: SEC * 1_000_000_000n + 12_345n,
    offset: 1.2345e-5,
    leap: 0,
    pulse: true,
  }]);
  assert.deepEqual(d.poll(), []); // same sequence: no new pulse
  state.assertSeq = 4712;
  state.assert = [SEC + 1n, 999_990_001];
  const [s] = d.poll();
  assert.equal(s!.systemTime, (SEC + 1n) * 1_000_000_000n + 999_990_001n);
  assert.equal(s!.offset, -9.999e-6); // just before the next second
});

Deno.test("PPS driver: clear edges; SETPARAMS adds the edge when it is not captured", () => {
  const state: PpsState = {
    assertSeq: 10,
    assert: [SEC, 1000],
    clearSeq: 9,
    clear: [SEC, 200_001_500],
  };
  const dev = ppsDevice(state, GPIO_CAPS, 0x1001);
  const d = PpsDriver.open(dev, { clear: true });
  const set = dev.calls.find((c) => c.request === PPS.SETPARAMS)!;
  const v = new DataView(set.arg!.buffer);
  assert.equal(v.getInt32(PPS_KPARAMS.apiVersion, true), PPS.API_VERS_1);
  assert.equal(v.getInt32(PPS_KPARAMS.mode, true), 0x1001 | PPS.CAPTURECLEAR | PPS.TSFMT_TSPEC);
  const [s] = d.poll();
  assert.equal(s!.systemTime, SEC * 1_000_000_000n + 200_001_500n);
  assert.equal(s!.offset, 0.2000015);
  assert.equal(decodePpsFetch(new Uint8Array(PPS_FDATA.size)).clearSequence, 0);
});

Deno.test("PPS driver: a device without the edge, or refusing parameters, is not opened", () => {
  const assertOnly = ppsDevice(
    { assertSeq: 0, assert: [0n, 0], clearSeq: 0, clear: [0n, 0] },
    0x1151,
  );
  assert.throws(() => PpsDriver.open(assertOnly, { clear: true }), /does not capture clear events/);
  assert.ok(assertOnly.closed);
  const refusing = ppsDevice(
    { assertSeq: 0, assert: [0n, 0], clearSeq: 0, clear: [0n, 0] },
    GPIO_CAPS,
    0,
  );
  refusing.handlers.set(PPS.SETPARAMS, failWith(1 /* EPERM without CAP_SYS_TIME */));
  assert.throws(() => PpsDriver.open(refusing), RefclockError);
  // no pulse yet (sequence 0): no sample
  const idle = PpsDriver.open(
    ppsDevice({ assertSeq: 0, assert: [0n, 0], clearSeq: 0, clear: [0n, 0] }),
  );
  assert.deepEqual(idle.poll(), []);
});

/** A recorded `struct rtc_time`. */
function rtcTime(y: number, mon: number, d: number, h: number, mi: number, s: number): Uint8Array {
  const b = new Uint8Array(RTC_TIME.size);
  const v = new DataView(b.buffer);
  v.setInt32(RTC_TIME.year, y - 1900, true);
  v.setInt32(RTC_TIME.mon, mon - 1, true);
  v.setInt32(RTC_TIME.mday, d, true);
  v.setInt32(RTC_TIME.hour, h, true);
  v.setInt32(RTC_TIME.min, mi, true);
  v.setInt32(RTC_TIME.sec, s, true);
  v.setInt32(RTC_TIME.wday, 5, true);
  v.setInt32(RTC_TIME.yday, 337, true);
  v.setInt32(RTC_TIME.isdst, 0, true);
  return b;
}

/** The word read(2) of an RTC returns: interrupt count << 8 | flags (unsigned long). */
function rtcIrq(count: number, flags: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, (BigInt(count) << 8n) | BigInt(flags), true);
  return b;
}

Deno.test("RTC maths: struct rtc_time to Unix seconds (UTC; local through mktime); garbage refused", () => {
  assert.equal(rtcTimeToEpoch(decodeRtcTime(rtcTime(2026, 12, 4, 22, 0, 0)), true), Number(SEC));
  assert.equal(
    rtcTimeToEpoch({ sec: 0, min: 0, hour: 0, mday: 1, mon: 0, year: 126 }, true),
    1_767_225_600,
  );
  assert.equal(
    rtcTimeToEpoch({ sec: 59, min: 59, hour: 23, mday: 29, mon: 1, year: 124 }, true),
    1_709_251_199,
  );
  const cet = (t: { hour: number }) =>
    rtcTimeToEpoch({ ...decodeRtcTime(rtcTime(2026, 12, 4, 0, 0, 0)), ...t }, true)! - 3600;
  assert.equal(
    rtcTimeToEpoch(decodeRtcTime(rtcTime(2026, 12, 4, 23, 0, 0)), false, cet),
    Number(SEC),
  );
  assert.equal(validRtcTime({ sec: 0, min: 0, hour: 0, mday: 0, mon: 0, year: 126 }), false);
  assert.equal(
    rtcTimeToEpoch({ sec: 0, min: 61, hour: 0, mday: 1, mon: 0, year: 126 }, true),
    null,
  );
});

Deno.test("RTC driver: update interrupts give samples, system minus RTC at the new second", async () => {
  const now = { time: [2026, 12, 4, 22, 0, 0] as [number, number, number, number, number, number] };
  const dev = new FakeDevice("/dev/rtc0", {
    [RTC.UIE_ON]: () => 0,
    [RTC.UIE_OFF]: () => 0,
    [RTC.RD_TIME]: (a) => (a!.set(rtcTime(...now.time)), 0),
  });
  const d = RtcDriver.open(dev, { utc: true });
  assert.equal(dev.calls[0]!.request, RTC.UIE_ON);
  assert.equal(dev.calls[0]!.arg, null);
  // The RTC starts second 22:00:00 when the system reads 22:00:00.250000 (RTC 0.25 s slow).
  dev.reads.push(rtcIrq(1, RTC.UF | RTC.IRQF));
  assert.deepEqual(d.onReadable(SEC * 1_000_000_000n + 250_000_000n), {
    systemTime: SEC * 1_000_000_000n + 250_000_000n,
    offset: 0.25,
    leap: 0,
    pulse: false,
  });
  // an alarm interrupt (RTC_AF 0x20) is no update: ignored
  dev.reads.push(rtcIrq(1, 0x20 | RTC.IRQF));
  assert.equal(d.onReadable(SEC * 1_000_000_000n + 900_000_000n), null);
  assert.equal(d.ignored, 1);
  now.time = [2026, 12, 4, 22, 0, 1];
  dev.reads.push(rtcIrq(1, RTC.UF | RTC.IRQF));
  assert.equal(d.onReadable((SEC + 1n) * 1_000_000_000n + 249_000_000n)!.offset, 0.249);
  // nothing to read (woken spuriously): nothing
  assert.equal(d.onReadable((SEC + 2n) * 1_000_000_000n), null);
  await d.fini();
  assert.equal(dev.calls.at(-1)!.request, RTC.UIE_OFF);
  assert.ok(dev.closed);
});

Deno.test("RTC driver: an RTC without update interrupts is not opened", () => {
  const dev = new FakeDevice("/dev/rtc0", { [RTC.UIE_ON]: failWith(DEVICE_ERRNO.EINVAL) });
  assert.throws(() => RtcDriver.open(dev), /could not enable update interrupt/);
  assert.ok(dev.closed);
});
