/**
 * `tempcomp` and `log tempcomp` beside chronyd 4.3, given the same sensor
 * and points files: tempcomp.log gets the same banner and lines (the time
 * aside), the sensor is read again every interval, and unreadable sensors,
 * compensations beyond 10 ppm and bad points files are reported with
 * chronyd's words (the last fatal at start-up, exit 1).
 * @module
 */
import assert from "node:assert/strict";
import { haveChrony, runCommand, startChronyd, startHorae } from "./harness.ts";

const enabled = haveChrony();
if (!enabled && Deno.env.get("CI")) throw new Error("chronyd/chronyc missing and CI is set");

const POINTS = "20000 1.0\n21000 0.64\n22000 0.36\n23000 0.16\n24000 0.04\n25000 0.0\n" +
  "26000 0.04\n27000 0.16\n28000 0.36\n29000 0.64\n30000 1.0\n";

async function readOr(path: string): Promise<string> {
  return await Deno.readTextFile(path).catch(() => "");
}

/** The entries of a tempcomp.log, the time masked (banner lines kept). */
function entries(text: string): string[] {
  return text.split("\n").filter((l) => l !== "").map((l) =>
    l.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/, "DATE TIME")
  );
}

async function until(what: string, cond: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test({
  name: "tempcomp: tempcomp.log as chronyd 4.3's, sensor read every interval, both forms",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "horae-tempcomp-" });
    await Deno.chmod(dir, 0o700);
    const sensor = `${dir}/temp`, points = `${dir}/points`;
    await Deno.writeTextFile(points, POINTS);
    try {
      for (
        const [form, first, second] of [
          [`1 26000 0.1 0.000183 0.0000001`, "24500.25\n", "27500.5\n"],
          [`1 ${points}`, "28500\n", "19000\n"],
        ] as const
      ) {
        await Deno.writeTextFile(sensor, first);
        const refLogs = `${dir}/ref`;
        await Deno.mkdir(refLogs, { recursive: true });
        const line = `tempcomp ${sensor} ${form}`;
        const ref = await startChronyd({ lines: [`logdir ${refLogs}`, "log tempcomp", line] });
        const hor = await startHorae(["logdir DIR/logs", "log tempcomp", line]);
        const files = [`${refLogs}/tempcomp.log`, `${hor.dir}/logs/tempcomp.log`];
        try {
          const count = async () =>
            Math.min(...await Promise.all(files.map(async (f) => entries(await readOr(f)).length)));
          await until("two entries in both logs", async () => await count() >= 5, 10_000);
          await Deno.writeTextFile(sensor, second);
          await until("the new temperature in both logs", async () => {
            const texts = await Promise.all(files.map(readOr));
            return texts.every((t) => {
              const e = entries(t);
              return e.length > 5 && e.at(-1) !== e[3];
            });
          }, 10_000);
          const [want, got] = (await Promise.all(files.map(readOr))).map(entries);
          // banner and the first entries; then the last entry (the new reading)
          assert.deepEqual(got!.slice(0, 5), want!.slice(0, 5), form);
          assert.equal(got!.at(-1), want!.at(-1), form);
        } finally {
          await hor.stop();
          await ref.stop();
          await Deno.remove(refLogs, { recursive: true }).catch(() => {});
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "tempcomp: warnings and fatal errors in chronyd 4.3's words",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "horae-tempcomp-" });
    await Deno.chmod(dir, 0o700);
    try {
      await Deno.writeTextFile(`${dir}/hot`, "100000\n");
      await Deno.writeTextFile(`${dir}/one`, "20000 1.0\n");
      await Deno.writeTextFile(`${dir}/blank`, "20000 1.0\n\n30000 2.0\n");
      // warnings: the sensor is read again each interval, nothing applied
      for (
        const [line, message] of [
          [
            `tempcomp ${dir}/missing 1 26000 0 0.000183 0`,
            `Could not read temperature from ${dir}/missing`,
          ],
          [
            `tempcomp ${dir}/hot 1 26000 0 0.000183 0`,
            "Temperature compensation of 13.542 ppm exceeds sanity limit of 10.0",
          ],
        ] as const
      ) {
        const ref = await startChronyd({ lines: [line] });
        const hor = await startHorae([line]);
        let refLog = "";
        await until("chronyd's warning", async () => {
          refLog = await readOr(`${ref.dir}/log`);
          return refLog.includes(message);
        }, 10_000);
        await new Promise((r) => setTimeout(r, 1500));
        const horLog = await hor.stop();
        await ref.stop();
        assert.ok(horLog.includes(message), horLog);
        // again after an interval
        assert.ok(horLog.split(message).length >= 3, horLog);
      }
      // fatal at start-up: a points file missing, with one point, with a blank line
      for (
        const [file, message] of [
          ["nofile", `Could not open ${dir}/nofile : No such file or directory`],
          ["one", `Not enough points in ${dir}/one`],
          ["blank", `Could not read tempcomp point from ${dir}/blank`],
        ] as const
      ) {
        const conf = `${dir}/c.conf`;
        await Deno.writeTextFile(conf, `port 0\ncmdport 0\ntempcomp ${dir}/hot 1 ${dir}/${file}\n`);
        const ref = await runCommand("/usr/sbin/chronyd", ["-x", "-u", "root", "-d", "-f", conf], {
          timeoutMs: 10_000,
        });
        const hor = await runCommand(`${new URL("../..", import.meta.url).pathname}bin/chronyd`, [
          "-x",
          "-d",
          "-f",
          conf,
        ], { timeoutMs: 20_000 });
        assert.equal(ref.code, 1, ref.stderr);
        assert.ok(ref.stderr.includes(message), ref.stderr);
        assert.equal(hor.code, 1, hor.stderr);
        assert.ok(hor.stderr.includes(`Fatal error : ${message}`), hor.stderr);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
