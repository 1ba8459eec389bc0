/**
 * The RTC directives beside chronyd 4.3 on a machine without the RTC device
 * (the device path is made not to exist, so the test means the same
 * everywhere): the real chronyc gets the same answers from horae and from
 * chronyd for `rtcdata`, `trimrtc` and `writertc` (513 RTC driver not
 * running), horae logs chronyd's start-up warnings and none of the
 * directives is "not supported yet". The tracking itself is tested through
 * an injected device (tests/daemon/rtc_test.ts, tests/clock/rtc_test.ts).
 * @module
 */
import assert from "node:assert/strict";
import { haveChrony, runCommand, startChronyd, startHorae } from "./harness.ts";

const enabled = haveChrony();
if (!enabled && Deno.env.get("CI")) throw new Error("chronyd/chronyc missing and CI is set");

async function chronyc(socket: string, ...args: string[]): Promise<string> {
  const r = await runCommand("/usr/bin/chronyc", ["-n", "-h", socket, ...args], {
    timeoutMs: 5000,
  });
  return r.stdout + r.stderr;
}

Deno.test({
  name: "rtc: rtcdata/trimrtc/writertc answer as chronyd 4.3's without an RTC device",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "horae-rtc-" });
    await Deno.writeTextFile(`${tmp}/adjtime`, "0.0 0 0.0\n0\nUTC\n");
    const lines = [
      `rtcfile ${tmp}/rtc`,
      `rtcdevice ${tmp}/no-rtc`,
      "rtconutc",
      "rtcautotrim 30",
      `hwclockfile ${tmp}/adjtime`,
    ];
    const ref = await startChronyd({ lines });
    const hor = await startHorae([...lines, `logdir ${tmp}`, "log rtc"]);
    let stderr = "";
    try {
      for (const cmd of ["rtcdata", "trimrtc", "writertc"]) {
        const want = await chronyc(ref.socket, cmd);
        const got = await chronyc(hor.socket, cmd);
        assert.equal(got, want, `chronyc ${cmd}`);
        assert.equal(got.trim(), "513 RTC driver not running");
      }
    } finally {
      stderr = await hor.stop();
      await ref.stop();
      await Deno.remove(tmp, { recursive: true });
    }
    assert.match(
      stderr,
      new RegExp(
        `Could not open RTC device ${tmp}/no-rtc : No such file or directory\\n.*` +
          "RTC driver could not be initialised",
      ),
    );
    assert.doesNotMatch(stderr, /not supported yet/);
  },
});
