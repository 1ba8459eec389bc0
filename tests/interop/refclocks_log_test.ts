/**
 * `log refclocks` beside the real chronyd 4.3: both daemons get a SOCK
 * refclock (poll 2, dpoll 0, filter 4) and the same samples from this test
 * (alternating offsets, one with leap "insert"); their refclocks.log files
 * must have the same banner, the same columns and the same raw offsets in
 * the same order, and at least one filtered line each.
 *
 * Safety: -x (the clock is never changed), no NTP port, private chmod-700
 * directories; each daemon is stopped by its own PID.
 */
import assert from "node:assert/strict";
import { realNow } from "../../lib/io/realtime.ts";
import { encodeSockSample } from "../../lib/refclock/sock.ts";
import { haveChrony, ROOT } from "./harness.ts";

const enabled = haveChrony();

const RAW =
  /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} GPS {3,5}\d+ [N+] 0 [ -]\d\.\d{6}e[-+]\d\d [ -]\d\.\d{6}e[-+]\d\d [ -]\d\.\d{3}e[-+]\d\d$/;
const FILTERED =
  /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} GPS {5}- [N+] - {7}- {7}[ -]\d\.\d{6}e[-+]\d\d [ -]\d\.\d{3}e[-+]\d\d$/;

async function startDaemon(
  binary: string,
  args: string[],
  dir: string,
  options = { refclock: "poll 2 dpoll 0 filter 4", log: "refclocks" },
) {
  await Deno.chmod(dir, 0o700);
  await Deno.writeTextFile(
    `${dir}/chronyd.conf`,
    [
      `refclock SOCK ${dir}/gps.sock refid GPS ${options.refclock} precision 1e-6`,
      `log ${options.log}`,
      `logdir ${dir}`,
      "port 0",
      "cmdport 0",
      `bindcmdaddress ${dir}/chronyd.sock`,
      `pidfile ${dir}/chronyd.pid`,
    ].join("\n") + "\n",
  );
  return new Deno.Command(binary, {
    args: [...args, "-d", "-x", "-f", `${dir}/chronyd.conf`],
    stdout: "null",
    stderr: "null",
  }).spawn();
}

async function waitFor(path: string, ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    try {
      await Deno.stat(path);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${path} did not appear`);
}

Deno.test({
  name: "log refclocks: refclocks.log laid out as chronyd 4.3's for the same SOCK samples",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ours = await Deno.makeTempDir({ prefix: "horae-rclog-" });
    const theirs = await Deno.makeTempDir({ prefix: "chrony-rclog-" });
    const horae = await startDaemon(`${ROOT}/bin/chronyd`, [], ours);
    const chrony = await startDaemon("/usr/sbin/chronyd", ["-u", "root"], theirs);
    const feeder = Deno.listenDatagram({ transport: "unixpacket", path: `${ours}/feed.sock` });
    try {
      await waitFor(`${ours}/gps.sock`, 15_000);
      await waitFor(`${theirs}/gps.sock`, 15_000);
      const offsets = [-2.25e-6, 1.5e-6, -2.25e-6, 1.5e-6, -1.25e-6, 3.5e-6, -2.5e-6, 1e-6];
      for (let round = 0; round < 2; round++) {
        for (const [i, offset] of offsets.entries()) {
          const bytes = encodeSockSample({
            systemTime: realNow(),
            offset,
            leap: round === 0 && i === 3 ? 1 : 0,
            pulse: false,
          });
          for (const dir of [ours, theirs]) {
            await feeder.send(bytes, { transport: "unixpacket", path: `${dir}/gps.sock` });
          }
          await new Promise((r) => setTimeout(r, 600));
        }
      }
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      feeder.close();
      for (const c of [horae, chrony]) {
        try {
          c.kill("SIGTERM");
        } catch { /* gone */ }
        await c.status;
      }
    }
    const read = async (dir: string) =>
      (await Deno.readTextFile(`${dir}/refclocks.log`)).split("\n");
    const [a, b] = [await read(ours), await read(theirs)];
    try {
      assert.deepEqual(a.slice(0, 3), b.slice(0, 3)); // banner
      const rows = (ls: string[]) => ls.slice(3).filter((l) => l !== "");
      const rawOffsets = (ls: string[]) =>
        rows(ls).filter((l) => RAW.test(l)).map((l) => l.split(/ +/)[6]);
      for (const l of [...rows(a), ...rows(b)]) {
        assert.ok(RAW.test(l) || FILTERED.test(l), `unexpected line: ${JSON.stringify(l)}`);
      }
      assert.deepEqual(rawOffsets(a), rawOffsets(b));
      assert.equal(rawOffsets(a).length, 16);
      assert.ok(rows(a).some((l) => FILTERED.test(l)) && rows(b).some((l) => FILTERED.test(l)));
      // DP: each raw sample's number within the polling interval, from 0
      const dps = (ls: string[]) =>
        rows(ls).filter((l) => RAW.test(l)).map((l) => Number(l.split(/ +/)[3]));
      for (const d of [dps(a), dps(b)]) {
        d.forEach((n, i) => assert.ok(n === 0 || n === d[i - 1]! + 1, `DP ${d.join(",")}`));
      }
      assert.ok(rows(a).some((l) => / \d \+ 0 /.test(l)), "the leap-insert sample shows +");
    } catch (e) {
      console.log(`horae:\n${a.join("\n")}\nchronyd:\n${b.join("\n")}`);
      throw e;
    } finally {
      await Deno.remove(ours, { recursive: true });
      await Deno.remove(theirs, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "log refclocks: a refclock's statistics, tracking and selection.log entries as chronyd 4.3's",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ours = await Deno.makeTempDir({ prefix: "horae-rclog-" });
    const theirs = await Deno.makeTempDir({ prefix: "chrony-rclog-" });
    const options = { refclock: "poll 0 dpoll -2 filter 2", log: "statistics tracking selection" };
    const horae = await startDaemon(`${ROOT}/bin/chronyd`, [], ours, options);
    const chrony = await startDaemon("/usr/sbin/chronyd", ["-u", "root"], theirs, options);
    const feeder = Deno.listenDatagram({ transport: "unixpacket", path: `${ours}/feed.sock` });
    const stats = async (dir: string) =>
      (await Deno.readTextFile(`${dir}/statistics.log`).catch(() => "")).split("\n")
        .filter((l) => /^\d{4}-/.test(l));
    try {
      await waitFor(`${ours}/gps.sock`, 15_000);
      await waitFor(`${theirs}/gps.sock`, 15_000);
      // 100 µs slow, +-2 µs: 4 raw samples a second, one filtered sample a second
      const end = performance.now() + 30_000;
      for (let i = 0; performance.now() < end; i++) {
        const offset = 1e-4 + (i % 2 === 0 ? -2e-6 : 2e-6);
        const bytes = encodeSockSample({ systemTime: realNow(), offset, leap: 0, pulse: false });
        for (const dir of [ours, theirs]) {
          await feeder.send(bytes, { transport: "unixpacket", path: `${dir}/gps.sock` });
        }
        await new Promise((r) => setTimeout(r, 250));
        if (i % 4 === 0 && (await stats(ours)).length >= 5 && (await stats(theirs)).length >= 5) {
          break;
        }
      }
    } finally {
      feeder.close();
      for (const c of [horae, chrony]) {
        try {
          c.kill("SIGTERM");
        } catch { /* gone */ }
        await c.status;
      }
    }
    const read = async (dir: string, kind: string) =>
      (await Deno.readTextFile(`${dir}/${kind}.log`).catch(() => "")).split("\n");
    const STATS =
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d GPS {12}(?: [ -]\d\.\d{3}e[-+]\d\d){5} \d\.\de[-+]\d\d(?: [ \d]{2}\d){3} [ -]\d\.\d\d$/;
    const [a, b] = [await read(ours, "statistics"), await read(theirs, "statistics")];
    const [ta, tb] = [await read(ours, "tracking"), await read(theirs, "tracking")];
    const [sa, sb] = [await read(ours, "selection"), await read(theirs, "selection")];
    const SELECTION =
      /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d GPS {13}\S -[-N][-P][-T][-R] [ 0-7]{3}[0-7] [ \d]\d\.\d\d(?: [ -]\d\.\d{3}e[-+]\d\d){3}$/;
    try {
      assert.deepEqual(a.slice(0, 3), b.slice(0, 3)); // banner
      for (const ls of [a, b]) {
        const rows = ls.slice(3).filter((l) => l !== "");
        assert.ok(rows.length >= 5, `${rows.length} statistics entries`);
        for (const l of rows) assert.match(l, STATS);
        // the first regression is of 3 samples; nothing dropped by the runs test here
        assert.equal(rows[0]!.trim().split(/\s+/).at(-4), "3", rows[0]);
      }
      // selection.log has the refclock's rows; selected, its Score is 1.00
      assert.deepEqual(sa.slice(0, 3), sb.slice(0, 3)); // banner
      for (const ls of [sa, sb]) {
        const rows = ls.slice(3).filter((l) => l !== "" && !l.startsWith("="));
        assert.ok(rows.some((l) => / \* -{5} {2}[ 0-7]{2}[0-7] {2}1\.00 /.test(l)), ls.join("\n"));
        for (const l of rows.filter((l) => !/^ +Date/.test(l))) assert.match(l, SELECTION);
      }
      // tracking.log names the refclock by its reference ID (after the unsynchronised start)
      for (const ls of [ta, tb]) {
        const rows = ls.slice(3).filter((l) => l !== "").map((l) => l.split(/\s+/));
        assert.equal(rows[0]![2], "0.0.0.0");
        assert.ok(rows.length >= 2, ls.join("\n"));
        for (const f of rows.slice(1)) assert.deepEqual([f[2], f[3]], ["GPS", "1"], f.join(" "));
      }
    } catch (e) {
      console.log(
        `horae:\n${[...a, ...ta, ...sa].join("\n")}\nchronyd:\n${[...b, ...tb, ...sb].join("\n")}`,
      );
      throw e;
    } finally {
      await Deno.remove(ours, { recursive: true });
      await Deno.remove(theirs, { recursive: true });
    }
  },
});
