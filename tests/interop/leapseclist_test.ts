/**
 * `leapseclist` (chronyd 4.6+) beside chronyd 4.8: the same log lines for the
 * system's leap-seconds.list, a missing file and one that does not parse.
 * @module
 */
import assert from "node:assert/strict";
import { haveChrony, sharedPath, startChronyd, startHorae } from "./harness.ts";

const CHRONYD48 = sharedPath("chrony-4.8/chronyd");
const LIST = "/usr/share/zoneinfo/leap-seconds.list";
const have = haveChrony() && [CHRONYD48, LIST].every((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});
if (!have && Deno.env.get("CI")) throw new Error(`chrony 4.8 or ${LIST} missing`);

const leapLines = (log: string) =>
  log.split("\n").map((l) => l.replace(/^\S+Z /, "")).filter((l) => /[Ll]eap second/.test(l));

Deno.test({
  name: "leapseclist: the same messages as chronyd 4.8 for a good, a missing and a bad list",
  ignore: !have,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "horae-leaplist-" });
    await Deno.writeTextFile(`${dir}/bad.list`, "garbage here\n");
    try {
      for (const file of [LIST, `${dir}/missing.list`, `${dir}/bad.list`]) {
        const lines = [`leapseclist ${file}`];
        const ref = await startChronyd({ binary: CHRONYD48, lines });
        let refLog = "";
        for (let i = 0; i < 50 && !/leap second/i.test(refLog); i++) {
          await new Promise((r) => setTimeout(r, 100));
          refLog = await Deno.readTextFile(`${ref.dir}/log`).catch(() => "");
        }
        await ref.stop();
        const horae = await startHorae(lines);
        const horaeLog = await horae.stop();
        assert.ok(leapLines(refLog).length > 0, refLog);
        assert.deepEqual(leapLines(horaeLog), leapLines(refLog), file);
        assert.doesNotMatch(horaeLog, /not supported/);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
