/**
 * horae's `chronyd -Q` beside the real `chronyd -Q`, both against the real
 * chronyd serving on loopback, in the same run.
 */
import assert from "node:assert/strict";
import { freePort, haveChrony, ROOT, runCommand, startChronyd, wrongBy } from "./harness.ts";

const enabled = haveChrony();

Deno.test({
  name: "chronyd -Q measures the real chronyd within 1 ms and agrees with the real chronyd -Q",
  ignore: !enabled,
  async fn() {
    const server = await startChronyd({ port: freePort() });
    try {
      const line = `server 127.0.0.1 port ${server.port} iburst maxsamples 1`;
      const ours = await runCommand(`${ROOT}/bin/chronyd`, ["-Q", "-t", "5", line], {
        timeoutMs: 20_000,
      });
      const real = await runCommand(
        "/usr/sbin/chronyd",
        ["-Q", "-t", "5", "-f", "/dev/null", line],
        {
          timeoutMs: 20_000,
        },
      );
      assert.equal(ours.code, 0, ours.stderr);
      assert.equal(real.code, 0, real.stderr);
      const x = wrongBy(ours.stderr), y = wrongBy(real.stderr);
      assert.ok(x !== null, `no offset in: ${ours.stderr}`);
      assert.ok(y !== null, `no offset in: ${real.stderr}`);
      assert.match(ours.stderr, /System clock wrong by -?\d+\.\d{6} seconds \(ignored\)/);
      assert.ok(Math.abs(x) < 1e-3, `horae offset ${x}`);
      assert.ok(Math.abs(x - y) < 1e-3, `horae ${x} vs chrony ${y}`);
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name: "chronyd -Q with a full iburst (no maxsamples) also measures within 1 ms",
  ignore: !enabled,
  async fn() {
    const server = await startChronyd({ port: freePort() });
    try {
      const line = `server 127.0.0.1 port ${server.port} iburst`;
      const ours = await runCommand(`${ROOT}/bin/chronyd`, ["-Q", "-t", "10", line], {
        timeoutMs: 30_000,
      });
      assert.equal(ours.code, 0, ours.stderr);
      const x = wrongBy(ours.stderr);
      assert.ok(x !== null && Math.abs(x) < 1e-3, ours.stderr);
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name: "chronyd -Q against a closed port says so and fails within the timeout",
  ignore: !enabled,
  async fn() {
    const port = freePort();
    const start = performance.now();
    const ours = await runCommand(`${ROOT}/bin/chronyd`, [
      "-Q",
      "-t",
      "2",
      `server 127.0.0.1 port ${port} iburst maxsamples 1`,
    ], { timeoutMs: 20_000 });
    const seconds = (performance.now() - start) / 1000;
    assert.notEqual(ours.code, 0);
    // chronyd's only words: no "No reply from" or selection line of our own
    assert.match(ours.stderr, /Timeout reached/);
    assert.doesNotMatch(ours.stderr, /No reply|Can't synchronise|Selected source/);
    assert.equal(wrongBy(ours.stderr), null);
    assert.ok(seconds < 10, `took ${seconds} s`);
  },
});

Deno.test({
  name: "chronyd -q -x reports the step it would make and leaves the clock alone",
  ignore: !enabled,
  async fn() {
    const server = await startChronyd({ port: freePort() });
    try {
      const ours = await runCommand(`${ROOT}/bin/chronyd`, [
        "-q",
        "-x",
        "-t",
        "5",
        `server 127.0.0.1 port ${server.port} iburst maxsamples 1`,
      ], { timeoutMs: 20_000 });
      assert.equal(ours.code, 0, ours.stderr);
      assert.match(ours.stderr, /System clock wrong by -?\d+\.\d{6} seconds \(step\)/);
      assert.match(ours.stderr, /Disabled control of system clock/);
    } finally {
      await server.stop();
    }
  },
});
