/**
 * `hwtimestamp` on interfaces without hardware timestamping, beside the real
 * chronyd 4.3 (issue 16 item 10): a named one (`lo`, a missing one) is fatal
 * with "Could not enable HW timestamping on NAME"; `hwtimestamp *` starts
 * without a word about it.
 */
import assert from "node:assert/strict";
import { haveChrony, ROOT, runCommand, startChronyd, startHorae } from "./harness.ts";

const enabled = haveChrony();

/** Runs a daemon in the foreground on a config of `lines`; it must exit by itself. */
async function fatalRun(
  cmd: string,
  extra: string[],
  lines: string[],
): Promise<{ code: number; log: string }> {
  const dir = await Deno.makeTempDir({ prefix: "horae-hwts-" });
  try {
    await Deno.chmod(dir, 0o700);
    await Deno.writeTextFile(
      `${dir}/c.conf`,
      [
        ...lines,
        "port 0",
        "cmdport 0",
        `bindcmdaddress ${dir}/s.sock`,
        `pidfile ${dir}/p.pid`,
        "",
      ].join("\n"),
    );
    const r = await runCommand(cmd, [...extra, "-d", "-x", "-f", `${dir}/c.conf`], {
      timeoutMs: 20_000,
    });
    return { code: r.code, log: r.stdout + r.stderr };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "hwtimestamp lo / a missing interface: fatal in chronyd and in horae, same message",
  ignore: !enabled,
  async fn() {
    for (const iface of ["lo", "horae-nosuch0"]) {
      const want = `Fatal error : Could not enable HW timestamping on ${iface}`;
      const ref = await fatalRun("/usr/sbin/chronyd", ["-u", "root"], [`hwtimestamp ${iface}`]);
      assert.equal(ref.code, 1, ref.log);
      assert.ok(ref.log.includes(want), ref.log);
      const got = await fatalRun(`${ROOT}/bin/chronyd`, [], [`hwtimestamp ${iface}`]);
      assert.equal(got.code, 1, got.log);
      assert.ok(got.log.includes(want), got.log);
      assert.doesNotMatch(got.log, /not supported yet/);
    }
  },
});

Deno.test({
  name: "hwtimestamp * with no interface that has it: both start, nothing said about it",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ref = await startChronyd({ lines: ["hwtimestamp *"] });
    let refLog: string;
    try {
      refLog = await Deno.readTextFile(`${ref.dir}/log`);
    } finally {
      await ref.stop();
    }
    assert.doesNotMatch(refLog, /HW timestamping|hwtimestamp/i);
    const horae = await startHorae(["hwtimestamp *"]);
    const err = await horae.stop();
    assert.match(err, /chronyd version/); // it ran and logged
    assert.doesNotMatch(err, /HW timestamping|hwtimestamp/i);
  },
});
