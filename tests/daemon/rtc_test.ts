/**
 * The daemon's RTC tracking (lib/daemon/rtc.ts) through an injected RTC:
 * update interrupts give samples, `rtcdata` reports the fit, `writertc`
 * writes the rtcfile, `trimrtc` sets the injected device (RTC_SET_TIME, never
 * a real /dev/rtc) only when the daemon controls the clock, `log rtc` lines;
 * without a device the start-up warnings chronyd 4.3 gives (observed here:
 * "Could not open RTC device /dev/rtc : No such file or directory", "RTC
 * driver could not be initialised").
 */
import assert from "node:assert/strict";
import { RTC, RTC_TIME } from "../../ffi/layout.ts";
import { defaultConfig } from "../../lib/conf/config.ts";
import { Logger } from "../../lib/daemon/log.ts";
import { LogWriter } from "../../lib/daemon/log_writer.ts";
import { startRtc } from "../../lib/daemon/rtc.ts";
import { DEVICE_ERRNO, DeviceError } from "../../lib/refclock/device.ts";
import { decodeRtcTime, rtcTimeToEpoch } from "../../lib/refclock/rtc.ts";
import { encodeRtcTime } from "../../lib/clock/rtc.ts";
import { fromUnixSeconds, type Timestamp } from "../../lib/time/timestamp.ts";
import { FakeDevice } from "../refclock/fake_device.ts";

const T0 = 1_764_885_600;

function irq(): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, (1n << 8n) | BigInt(RTC.UF | RTC.IRQF), true);
  return b;
}

async function until(what: string, cond: () => boolean): Promise<void> {
  const end = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A fake RTC `fast` seconds fast plus `gainPpm`, and the daemon's clock. */
function rig(dir: string, options: { canSet: boolean; utc?: boolean; hwclock?: string }) {
  const state = { rtc: T0, sys: 0n as Timestamp };
  const dev = new FakeDevice("/dev/rtc-fake", {
    [RTC.UIE_ON]: () => 0,
    [RTC.UIE_OFF]: () => 0,
    [RTC.RD_TIME]: (a) => (a!.set(encodeRtcTime(state.rtc, true)), 0),
    [RTC.SET_TIME]: () => 0,
  });
  const config = defaultConfig();
  config.rtcFile = `${dir}/rtc`;
  config.rtcDevice = "/dev/rtc-fake";
  config.rtcOnUtc = options.utc ?? true;
  if (options.hwclock !== undefined) {
    Deno.writeTextFileSync(`${dir}/adjtime`, options.hwclock);
    config.hwClockFile = `${dir}/adjtime`;
  }
  const lines: string[] = [];
  const log = new Logger({ sink: { lines }, level: 0, now: () => new Date(0) });
  const logs = new LogWriter({ dir, kinds: ["rtc"], logBanner: 0, onError: (m) => lines.push(m) });
  const opened: string[] = [];
  const rtc = startRtc(config, {
    open: (p) => (opened.push(p), dev),
    now: () => state.sys,
    log,
    logs,
    canSet: options.canSet,
    interval: 0,
    localToEpoch: (t) => rtcTimeToEpoch(t, true)! - 3600,
  });
  /** One update interrupt: the RTC begins second `rtc` at system time `sys` (ns). */
  const tick = async (rtc: number, fast: number) => {
    const reads = () => dev.calls.filter((c) => c.request === RTC.RD_TIME).length;
    const before = reads();
    state.rtc = rtc;
    state.sys = fromUnixSeconds(rtc) - BigInt(Math.round(fast * 1e9));
    dev.reads.push(irq());
    await until("a sample", () => reads() > before);
  };
  return { dev, rtc, lines, tick, opened, logs };
}

Deno.test("RTC tracking in the daemon: samples at update interrupts, rtcdata, writertc, log rtc", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const { dev, rtc, lines, tick, opened, logs } = rig(dir, { canSet: true });
    assert.ok(rtc !== null, lines.join("\n"));
    assert.deepEqual(opened, ["/dev/rtc-fake"]);
    assert.equal(dev.calls[0]!.request, RTC.UIE_ON);
    for (let i = 0; i < 6; i++) await tick(T0 + 100 * i, 1.5 + 20e-6 * 100 * i);
    const rep = rtc.report();
    assert.equal(rep.nSamples, 6);
    assert.equal(rep.spanSeconds, 500);
    assert.ok(Math.abs(rep.rtcSecondsFast - 1.51) < 1e-6, `${rep.rtcSecondsFast}`);
    assert.ok(Math.abs(rep.rtcGainRatePpm - 20) < 1e-3, `${rep.rtcGainRatePpm}`);
    assert.equal(rtc.write(), true);
    assert.equal(Deno.readTextFileSync(`${dir}/rtc`), `1 ${T0 + 500} 1.510000 20.000\n`);
    const log = Deno.readTextFileSync(`${dir}/rtc.log`).trim().split("\n");
    assert.equal(log.length, 6);
    assert.match(log[5]!, /^2025-12-04 22:08:1\d +1\.510000 1 +1\.510000 +20\.000 +6 +\d+ +100$/);
    await rtc.stop();
    logs.close();
    assert.ok(dev.closed);
    // a restart reads the saved coefficients
    const again = rig(dir, { canSet: false });
    assert.equal(again.rtc!.report().rtcGainRatePpm, 20);
    assert.equal(again.rtc!.report().refTime, fromUnixSeconds(T0 + 500));
    await again.rtc!.stop();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("trimrtc: the injected RTC is set to the system's second, only with clock control", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const ro = rig(dir, { canSet: false });
    for (let i = 0; i < 4; i++) await ro.tick(T0 + 64 * i, 42.3);
    assert.equal(ro.rtc!.trim(), false);
    assert.ok(!ro.dev.calls.some((c) => c.request === RTC.SET_TIME));
    await ro.rtc!.stop();

    const rw = rig(dir, { canSet: true });
    for (let i = 0; i < 4; i++) await rw.tick(T0 + 64 * i, 42.3);
    assert.equal(rw.rtc!.trim(), true);
    const set = rw.dev.calls.filter((c) => c.request === RTC.SET_TIME);
    assert.equal(set.length, 1);
    // system time at the last sample: RTC second T0+192 began 42.3 s before it
    assert.equal(rtcTimeToEpoch(decodeRtcTime(set[0]!.arg!), true), T0 + 192 - 42);
    assert.equal(rw.rtc!.report().nSamples, 0);
    // saved at once, as chronyd does after a trim
    assert.match(Deno.readTextFileSync(`${dir}/rtc`), /^1 \d+ -?0\.\d{6} 0\.000\n$/);
    assert.equal(rw.rtc!.trim(), true); // within a second now: nothing set
    assert.equal(rw.dev.calls.filter((c) => c.request === RTC.SET_TIME).length, 1);
    await rw.rtc!.stop();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("hwclockfile: LOCAL overrides rtconutc (the RTC read and set as local time)", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const r = rig(dir, { canSet: true, utc: true, hwclock: "0.0 0 0.0\n0\nLOCAL\n" });
    // the fake RTC holds T0 as broken-down UTC; read as local (UTC+1 here) it is an hour earlier
    await r.tick(T0, 3600);
    assert.ok(Math.abs(r.rtc!.report().rtcSecondsFast) < 1e-6, `${r.rtc!.report().rtcSecondsFast}`);
    await r.rtc!.stop();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("rtcfile without an RTC device: chronyd 4.3's two warnings, no tracker (513 to chronyc)", () => {
  const config = defaultConfig();
  config.rtcFile = "/nonexistent/rtc";
  const lines: string[] = [];
  const log = new Logger({ sink: { lines }, level: 0, now: () => new Date(0) });
  const rtc = startRtc(config, {
    open: (p) => {
      throw new DeviceError("open", DEVICE_ERRNO.ENOENT, p);
    },
    now: () => 0n,
    log,
    logs: null,
    canSet: false,
  });
  assert.equal(rtc, null);
  assert.deepEqual(lines, [
    "1970-01-01T00:00:00Z Could not open RTC device /dev/rtc : No such file or directory",
    "1970-01-01T00:00:00Z RTC driver could not be initialised",
  ]);
  // without rtcfile nothing is opened
  const none = startRtc(defaultConfig(), {
    open: () => {
      throw new Error("opened");
    },
    now: () => 0n,
    log,
    logs: null,
    canSet: false,
  });
  assert.equal(none, null);
  assert.equal(RTC_TIME.size, 36);
});
