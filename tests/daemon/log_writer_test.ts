import assert from "node:assert/strict";
import { LogWriter } from "../../lib/daemon/log_writer.ts";
import { banner } from "../../lib/engine/logfiles.ts";

function writer(dir: string, logBanner: number, errors: string[] = []): LogWriter {
  return new LogWriter({
    dir,
    kinds: ["tracking", "selection", "rawmeasurements", "rtc"],
    logBanner,
    onError: (m) => errors.push(m),
  });
}

Deno.test("writer appends entries with a banner every logbanner entries", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-logs-" });
  try {
    await Deno.writeTextFile(`${dir}/tracking.log`, "old\n");
    const logs = writer(dir, 2);
    for (const line of ["a", "b", "c"]) logs.write("tracking", line);
    logs.write("statistics", "not enabled");
    logs.close();
    const b = banner("tracking");
    assert.equal(await Deno.readTextFile(`${dir}/tracking.log`), `old\n${b}a\nb\n${b}c\n`);
    await assert.rejects(() => Deno.stat(`${dir}/statistics.log`));
    await assert.rejects(() => Deno.stat(`${dir}/selection.log`)); // created on first entry
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("logbanner 0 writes no banner at all", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-logs-" });
  try {
    const logs = writer(dir, 0);
    logs.write("selection", "a");
    logs.write("selection", "b");
    logs.close();
    assert.equal(await Deno.readTextFile(`${dir}/selection.log`), "a\nb\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cycle() reopens a renamed file by name and restarts the banner count", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-logs-" });
  try {
    const logs = writer(dir, 32);
    logs.write("measurements", "one");
    logs.write("measurements", "two");
    await Deno.rename(`${dir}/measurements.log`, `${dir}/measurements.log.1`);
    logs.write("measurements", "three"); // still the open (renamed) file
    logs.cycle();
    logs.write("measurements", "four");
    logs.close();
    const b = banner("measurements");
    assert.equal(await Deno.readTextFile(`${dir}/measurements.log.1`), `${b}one\ntwo\nthree\n`);
    assert.equal(await Deno.readTextFile(`${dir}/measurements.log`), `${b}four\n`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("rawmeasurements enables measurements.log for invalid measurements too", () => {
  const raw = writer("/nonexistent", 32);
  assert.equal(raw.wantsMeasurement(false), true);
  assert.equal(raw.enabled("measurements"), true);
  const valid = new LogWriter({ dir: "/x", kinds: ["measurements"], logBanner: 32, onError() {} });
  assert.equal(valid.wantsMeasurement(true), true);
  assert.equal(valid.wantsMeasurement(false), false);
  const none = new LogWriter({ dir: "/x", kinds: ["tracking"], logBanner: 32, onError() {} });
  assert.equal(none.wantsMeasurement(true), false);
});

Deno.test("failures are counted, reported once per file as chronyd words them, and the file is given up", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-logs-" });
  try {
    const errors: string[] = [];
    const logs = writer(`${dir}/missing`, 32, errors);
    logs.write("tracking", "a");
    logs.write("tracking", "a2");
    logs.write("selection", "b");
    assert.equal(logs.failures, 2);
    assert.deepEqual(errors, [
      `Could not open ${dir}/missing/tracking.log : No such file or directory`,
      `Could not open ${dir}/missing/selection.log : No such file or directory`,
    ]);
    // chronyd 4.3 does not try a failed file again, even after cyclelogs.
    await Deno.mkdir(`${dir}/missing`);
    logs.cycle();
    logs.write("tracking", "c");
    logs.close();
    await assert.rejects(() => Deno.stat(`${dir}/missing/tracking.log`));
    assert.equal(errors.length, 2);
    const throwing = new LogWriter({
      dir: `${dir}/nope`,
      kinds: ["tracking"],
      logBanner: 32,
      onError: () => {
        throw new Error("callback failed");
      },
    });
    throwing.write("tracking", "x");
    assert.equal(throwing.failures, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a file that cannot be reopened after cycle() is a counted failure", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-logs-" });
  try {
    const errors: string[] = [];
    const logs = writer(dir, 32, errors);
    logs.write("tracking", "a");
    // After cycle(), a directory in the file's place makes the reopen fail.
    logs.cycle();
    await Deno.remove(`${dir}/tracking.log`);
    await Deno.mkdir(`${dir}/tracking.log`);
    logs.write("tracking", "b");
    assert.equal(logs.failures, 1);
    assert.equal(errors.length, 1);
    logs.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
