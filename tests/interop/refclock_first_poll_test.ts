/**
 * chronyd polls a reference clock first at start: for a refclock that never
 * delivers (a SOCK socket nobody writes to, poll 0) chronyd 4.8 logs the
 * start-up selection failure at its 8th poll, 7 s after start (polls at
 * 0, 1, ..., 7 s). horae logs it at the same time (it polled one interval later,
 * at 8 s, before). Each daemon's lines are timed as they arrive on its stderr
 * (`-d`), from its "starting" line.
 *
 * Safety: -x, `-u root`, no NTP port, private 0700 directories, each daemon
 * stopped by its own PID.
 * @module
 */
import assert from "node:assert/strict";
import { CHRONYD48, haveChrony48, ROOT } from "./harness.ts";

/** Runs `binary` with a never-fed SOCK refclock; seconds from "starting" to the failure line. */
async function failureDelay(binary: string): Promise<{ delay: number | null; log: string }> {
  const dir = await Deno.makeTempDir({ prefix: "horae-firstpoll-" });
  await Deno.chmod(dir, 0o700);
  await Deno.writeTextFile(
    `${dir}/c.conf`,
    [
      `refclock SOCK ${dir}/gps.sock refid GPS poll 0`,
      "port 0",
      "cmdport 0",
      `bindcmdaddress ${dir}/chronyd.sock`,
      `pidfile ${dir}/chronyd.pid`,
    ].join("\n") + "\n",
  );
  const child = new Deno.Command(binary, {
    args: ["-d", "-x", "-u", "root", "-f", `${dir}/c.conf`],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  let started: number | null = null;
  let delay: number | null = null;
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const deadline = setTimeout(() => child.kill("SIGTERM"), 20_000);
  try {
    let pending = "";
    while (delay === null) {
      const { value, done } = await reader.read();
      if (done) break;
      const now = performance.now();
      pending += value;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const l of lines) {
        log += l + "\n";
        if (started === null && / starting /.test(l)) started = now;
        if (started !== null && /Can't synchronise/.test(l)) delay = (now - started) / 1000;
      }
    }
  } finally {
    clearTimeout(deadline);
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await reader.cancel().catch(() => {});
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
  return { delay, log };
}

Deno.test({
  name:
    "a never-delivering refclock: the start-up failure comes at the 8th poll, 7 s, as chronyd 4.8",
  ignore: !haveChrony48(),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const [theirs, ours] = await Promise.all([
      failureDelay(CHRONYD48),
      failureDelay(`${ROOT}/bin/chronyd`),
    ]);
    assert.ok(theirs.delay !== null, theirs.log);
    assert.ok(ours.delay !== null, ours.log);
    assert.match(ours.log, /Can't synchronise: no selectable sources \(1 unreachable sources\)/);
    // polls at 0..7 s: 7 s; one interval later (the old horae) would be 8 s
    assert.ok(Math.abs(theirs.delay - 7) < 0.5, `chronyd 4.8: ${theirs.delay} s`);
    assert.ok(
      Math.abs(ours.delay - theirs.delay) < 0.5,
      `horae ${ours.delay} s, chronyd 4.8 ${theirs.delay} s`,
    );
  },
});
