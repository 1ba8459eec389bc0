/**
 * `startRefclocks` with PHC, PPS and RTC refclocks on injected devices
 * (recorded kernel data, see fake_device.ts) feeding a real Engine on a
 * simulated clock: driver -> `tai` correction -> refclock source filter ->
 * source statistics. Also the start-up errors (bad driver option, `tai`
 * without a leap-second table, an interface without a PHC, a missing
 * device), and, where this machine has a real /dev/ptp*, /dev/pps* or
 * /dev/rtc*, a read-only look at it.
 */
import assert from "node:assert/strict";
import {
  PTP,
  PTP_CLOCK_TIME,
  PTP_SYS_OFFSET_EXTENDED_LAYOUT,
  RTC,
  RTC_TIME,
} from "../../ffi/layout.ts";
import { openClockDevice } from "../../ffi/devices.ts";
import { SimClock } from "../../lib/clock/sim_clock.ts";
import { parseCommandLine } from "../../lib/conf/parse.ts";
import { Engine } from "../../lib/engine/engine.ts";
import { startRefclocks } from "../../lib/io/refclock_drivers.ts";
import { DEVICE_ERRNO, DeviceError } from "../../lib/refclock/device.ts";
import { PHC_READINGS, PhcDriver, writeClockTime } from "../../lib/refclock/phc.ts";
import { RtcDriver } from "../../lib/refclock/rtc.ts";
import { FakeDevice } from "./fake_device.ts";

const START = 1_796_421_600_000_000_000n; // 2026-12-04 22:00:00 UTC

function setup(
  lines: string[],
  devices: Record<string, FakeDevice>,
  tai?: number,
  logLines?: string[],
  rtcInUse = false,
) {
  const parsed = parseCommandLine(lines);
  assert.deepEqual(parsed.errors, []);
  const clock = new SimClock({ start: START, seed: 1 });
  const engine = new Engine({
    clock,
    discipline: { update: () => [] },
    randomBytes: (n) => new Uint8Array(n).fill(7),
  });
  const errors: string[] = [];
  const running = startRefclocks({
    engine,
    refclocks: parsed.config.refclocks,
    clock,
    run: () => {},
    log: { info: () => {}, warn: (m) => errors.push(m), error: (m) => errors.push(m) },
    precision: 1e-7,
    openDevice: (path) => {
      const d = devices[path];
      if (!d) throw new DeviceError("open", DEVICE_ERRNO.ENOENT, path);
      return d;
    },
    phcIndexOf: (iface) => (iface === "eth7" ? 3 : -1),
    systemNow: () => clock.now(),
    localToEpoch: () => 0,
    ...(tai !== undefined ? { taiOffset: () => tai } : {}),
    ...(logLines ? { logRefclock: (l: string) => logLines.push(l) } : {}),
    rtcInUse,
  });
  engine.start();
  return { clock, engine, errors, running };
}

/** A PHC kept in TAI, `ahead` ns ahead of the system clock, read with EXTENDED around `now()`. */
function taiPhc(now: () => bigint, ahead: bigint): FakeDevice {
  return new FakeDevice("/dev/ptp3", {
    [PTP.SYS_OFFSET_EXTENDED]: (a) => {
      const v = new DataView(a!.buffer, a!.byteOffset);
      const t = now();
      for (let i = 0; i < PHC_READINGS; i++) {
        const at = PTP_SYS_OFFSET_EXTENDED_LAYOUT.ts + i * 3 * PTP_CLOCK_TIME.size;
        const sys1 = t + BigInt(i) * 5000n;
        const width = 2000n + BigInt((i * 7) % 5) * 300n;
        writeClockTime(v, at, sys1);
        writeClockTime(v, at + 16, sys1 + width / 2n + ahead);
        writeClockTime(v, at + 32, sys1 + width);
      }
      return 0;
    },
  });
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("PHC by interface name with tai: samples reach the engine's statistics as UTC offsets", async () => {
  let clockNow = () => START;
  const phc = taiPhc(() => clockNow(), 37_000_002_000n); // TAI, system 2 µs behind
  const lines: string[] = [];
  const t = setup(
    ["refclock PHC eth7:nocrossts poll 0 dpoll -5 tai refid PTP precision 1e-8"],
    { "/dev/ptp3": phc },
    37,
    lines,
  );
  clockNow = () => t.clock.now();
  try {
    assert.deepEqual(t.errors, []);
    const rc = t.engine.refclocks[0]!;
    assert.equal(rc.spec.options.name, "PTP");
    await until(() => rc.source.pending >= 5); // a filter of 64 needs 4 per poll
    t.clock.setTrueTime(START + 1_000_000_000n);
    t.engine.onTimer();
    const est = rc.stats.estimate();
    assert.ok(est !== null, "a filtered sample reached the statistics");
    assert.ok(Math.abs(est.offset - -2e-6) < 1e-12, `offset ${est.offset}`);
    assert.equal(rc.source.reach.value & 1, 1);
    assert.ok(phc.calls.every((c) => c.request === PTP.SYS_OFFSET_EXTENDED)); // nocrossts
    // refclocks.log: raw lines (driver's offset: PHC minus system, 37 s of TAI in it;
    // cooked: UTC, reference minus local), then the filtered line
    assert.equal(
      lines[0],
      "2026-12-04 22:00:00.000001 PTP     0 N 0  3.700000e+01  2.000000e-06  1.000e-08",
    );
    assert.match(
      lines.at(-1)!,
      /^2026-12-04 22:00:00\.000001 PTP {5}- N - {7}- {8}2\.000000e-06 {2}\d\.\d{3}e-\d\d$/,
    );
    assert.equal(lines.filter((l) => / - N - /.test(l)).length, 1);
  } finally {
    await t.running.close();
  }
  assert.ok(phc.closed);
});

Deno.test("RTC refclock: the update-interrupt loop feeds samples; close stops it", async () => {
  const rtc = new FakeDevice("/dev/rtc0", {
    [RTC.UIE_ON]: () => 0,
    [RTC.UIE_OFF]: () => 0,
    [RTC.RD_TIME]: (a) => {
      const v = new DataView(a!.buffer);
      // 2026-12-04 22:00:00: the RTC's second started as the system read 22:00:00.000 (START)
      [0, 0, 22, 4, 11, 126].forEach((x, i) => v.setInt32(i * 4, x, true));
      return 0;
    },
  });
  const t = setup(["refclock RTC /dev/rtc0:utc poll 0"], { "/dev/rtc0": rtc });
  try {
    assert.deepEqual(t.errors, []);
    const word = new Uint8Array(8);
    word[0] = RTC.UF | RTC.IRQF;
    word[1] = 1;
    rtc.reads.push(word);
    const rc = t.engine.refclocks[0]!;
    await until(() => rc.source.pending === 1);
    assert.equal(rc.source.lastSample!.offset, 0);
    assert.equal(RTC_TIME.size, 36);
  } finally {
    await t.running.close();
  }
  assert.ok(rtc.closed);
  assert.equal(rtc.calls.at(-1)!.request, RTC.UIE_OFF);
});

Deno.test("a hardware refclock that cannot start is fatal with chronyd 4.8's messages", async () => {
  const cases: [string, string[], string][] = [
    ["refclock PHC /dev/ptp3:foo", [], "Invalid refclock driver option foo"],
    ["refclock RTC /dev/rtc0:utc:extpps", [], "Invalid refclock driver option extpps"],
    ["refclock PHC eth0", ["Could not open PHC (of) eth0"], "Could not open PHC"],
    ["refclock PHC /dev/ptp9", ["Could not open PHC (of) /dev/ptp9"], "Could not open PHC"],
    ["refclock PHC /dev/ptp9 tai", [], "refclock tai option requires leapseclist or leapsectz"],
    ["refclock PPS /dev/pps4", [], "Could not open /dev/pps4 : No such file or directory"],
    [
      "refclock RTC /dev/rtc7",
      [],
      "Could not open RTC device /dev/rtc7 : No such file or directory",
    ],
  ];
  for (const [line, logged, fatal] of cases) {
    const t = setup([line], {});
    try {
      assert.deepEqual(t.errors, logged, line);
      assert.equal(t.running.fatal, fatal, line);
      assert.equal(t.running.drivers.size, 0);
    } finally {
      await t.running.close();
    }
  }
  const rtc = setup(
    ["refclock RTC /dev/rtc0:utc"],
    {
      "/dev/rtc0": new FakeDevice("/dev/rtc0", { [RTC.UIE_ON]: () => 0 }),
    },
    undefined,
    undefined,
    true,
  );
  assert.equal(rtc.running.fatal, "RTC refclock cannot be used together with rtcsync or rtcfile");
  await rtc.running.close();
  // the refclocks after a fatal one are not started; a SOCK refclock whose directory is
  // missing is fatal too (chronyd 4.3: "Could not open socket PATH")
  const t = setup([
    "refclock SOCK /nonexistent/dir/x.sock",
    "refclock PPS /dev/pps4",
    "refclock RTC /dev/rtc0",
  ], {
    "/dev/rtc0": new FakeDevice("/dev/rtc0", { [RTC.UIE_ON]: () => 0 }),
  });
  try {
    assert.deepEqual(t.errors, []);
    assert.equal(t.running.fatal, "Could not open socket /nonexistent/dir/x.sock");
    assert.equal(t.running.drivers.size, 0);
  } finally {
    await t.running.close();
  }
});

function realDevices(prefix: string): string[] {
  try {
    return [...Deno.readDirSync("/dev")].map((e) => e.name).filter((n) => n.startsWith(prefix))
      .map((n) => `/dev/${n}`).sort();
  } catch {
    return [];
  }
}

const phcs = realDevices("ptp");
const rtcs = realDevices("rtc");
if (phcs.length === 0 && rtcs.length === 0) {
  console.warn("hw_refclocks_test: no /dev/ptp* or /dev/rtc* here; the real-device tests skip");
}

Deno.test({
  name: "real PHC (read-only): one measurement against the system clock",
  ignore: phcs.length === 0,
  fn() {
    // O_RDONLY: the kernel refuses clock_settime/adjtime on this descriptor.
    const d = PhcDriver.open(openClockDevice(phcs[0]!));
    try {
      const m = d.measure();
      if (m === null) {
        console.warn(`${phcs[0]}: no reading (errors ${d.errors})`);
        return;
      }
      assert.ok(m.delay >= 0 && m.delay < 0.01, `reading delay ${m.delay}`);
      console.log(`${phcs[0]}: ${d.method}, system - PHC ${m.offset} s, delay ${m.delay} s`);
    } finally {
      d.fini();
    }
  },
});

Deno.test({
  name: "real RTC (read-only): the time of the next update interrupt",
  ignore: rtcs.length === 0,
  async fn() {
    let d: RtcDriver;
    try {
      d = RtcDriver.open(openClockDevice(rtcs[0]!), { utc: true });
    } catch (e) {
      console.warn(`${rtcs[0]}: ${(e as Error).message}`);
      return;
    }
    try {
      if (await d.device.waitReadable(2500)) {
        const now = BigInt(Date.now()) * 1_000_000n;
        const s = d.onReadable(now);
        if (s) console.log(`${rtcs[0]}: system - RTC (if UTC) ${s.offset} s`);
      }
    } finally {
      await d.fini();
    }
  },
});
