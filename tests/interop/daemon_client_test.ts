/**
 * horae's chronyd as a client of real chronyd servers on loopback, observed
 * with the real chronyc: it synchronises, selects and combines the live
 * servers and marks a dead one unreachable.
 */
import assert from "node:assert/strict";
import { freePort, haveChrony, runCommand, startChronyd, startHorae } from "./harness.ts";

const enabled = haveChrony();

async function waitFor<T>(
  what: string,
  seconds: number,
  probe: () => Promise<T | null>,
): Promise<T> {
  const end = performance.now() + seconds * 1000;
  let last: unknown = null;
  while (performance.now() < end) {
    try {
      const v = await probe();
      if (v !== null) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
}

Deno.test({
  name: "daemon: two real servers selected/combined, a dead one unreachable, offset < 1 ms",
  ignore: !enabled,
  async fn() {
    const a = await startChronyd({ port: freePort() });
    const b = await startChronyd({ port: freePort(), address: "127.0.0.2" });
    const dead = freePort();
    const horae = await startHorae([
      `server 127.0.0.1 port ${a.port} iburst minpoll 0 maxpoll 1`,
      `server 127.0.0.2 port ${b.port} iburst minpoll 0 maxpoll 1`,
      `server 127.0.0.3 port ${dead} iburst minpoll 0 maxpoll 1`,
      "logdir DIR",
      "log measurements statistics tracking",
    ]);
    const dir = horae.dir;
    try {
      const sock = horae.socket;
      const sources = await waitFor("two good sources and a dead one", 30, async () => {
        const r = await runCommand("/usr/bin/chronyc", ["-h", sock, "-n", "-c", "sources"]);
        if (r.code !== 0) return null;
        const rows = r.stdout.trim().split("\n").map((l) => l.split(","));
        if (rows.length !== 3) return null;
        // chronyc -c sources: mode, state, address, stratum, poll, reach, ...
        const live = rows.filter((f) => f[5] !== "0");
        const marks = live.map((f) => f[1]).sort().join("");
        return marks === "*+" && live.length === 2 ? rows : null;
      });
      const deadRows = sources.filter((f) => f[5] === "0");
      assert.equal(deadRows.length, 1, JSON.stringify(sources));
      assert.equal(deadRows[0]![1], "?");
      const tracking = await runCommand("/usr/bin/chronyc", ["-h", sock, "-c", "tracking"]);
      const t = tracking.stdout.trim().split(",");
      assert.equal(t[2], "2", tracking.stdout); // stratum
      assert.ok(Math.abs(Number(t[5])) < 1e-3, tracking.stdout); // last offset
      // tracking.log: banner, then lines with stratum 2 and a small offset
      const lines = (await Deno.readTextFile(`${dir}/tracking.log`)).split("\n")
        .filter((l) => /^\d{4}-\d\d-\d\d /.test(l));
      assert.ok(lines.length > 0, "no tracking.log lines");
      const last = lines.at(-1)!.trim().split(/\s+/);
      // columns: date, time, address, stratum, frequency, skew, offset, ...
      assert.equal(last[3], "2", lines.at(-1));
      assert.ok(Math.abs(Number(last[6])) < 1e-3, lines.at(-1));
      const meas = await Deno.readTextFile(`${dir}/measurements.log`);
      assert.match(meas, /127\.0\.0\.1\s+N\s+1 111 111 1111/);
    } finally {
      const log = await horae.stop();
      await a.stop();
      await b.stop();
      assert.match(log, /Selected source/);
    }
  },
});
