/**
 * The refclock option `local` (chrony.conf(5) 4.3+: an unsynchronised clock
 * more stable than the system clock, which bypasses source selection and
 * stabilises the system clock) beside the real chronyd 4.8: a SOCK refclock
 * fed by this test drifts 4 ppm from the system clock, then 20 ppm. Both
 * daemons show it `#?` (selectdata `s`, leap `?`), stay unsynchronised, keep
 * the frequency while the drift is steady, and move it by the change (16 ppm)
 * once they see it.
 *
 * Safety: -x (the clock is never changed: the corrections are virtual), no
 * NTP port, private chmod-700 directories; every daemon is stopped by its PID.
 */
import assert from "node:assert/strict";
import { realNow } from "../../lib/io/realtime.ts";
import { encodeSockSample } from "../../lib/refclock/sock.ts";
import { CHRONYC48, haveChrony48, runCommand, spawnBeside48 } from "./harness.ts";

const enabled = haveChrony48();

interface Daemon {
  name: string;
  dir: string;
  child: Deno.ChildProcess;
}

async function start(kind: "horae" | "chronyd 4.8"): Promise<Daemon> {
  const dir = await Deno.makeTempDir({ prefix: "horae-rclocal-" });
  await Deno.chmod(dir, 0o700);
  const child = await spawnBeside48(kind, dir, [
    `refclock SOCK ${dir}/lcl.sock refid LCL poll 0 dpoll 0 local`,
    "port 0",
  ]);
  return { name: kind, dir, child };
}

/** chronyc 4.8 -c: tracking's frequency (ppm) and leap status, the LCL rows of sources and selectdata. */
async function look(d: Daemon) {
  const c = async (cmd: string) =>
    (await runCommand(CHRONYC48, ["-n", "-c", "-h", `${d.dir}/chronyd.sock`, cmd], {
      timeoutMs: 5000,
    }).catch(() => null))?.stdout.trim() ?? "";
  const t = (await c("tracking")).split(",");
  const src = (await c("sources")).split(",");
  const sel = (await c("selectdata")).split(",");
  return {
    frequency: Number(t[7]),
    leap: t[13] ?? "",
    source: `${src[0]}${src[1]} ${src[2]}`,
    select: `${sel[0]} ${sel[1]} leap ${sel.at(-1)}`,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name: "refclock local: never selected, and the clock follows its frequency change, " +
    "as chronyd 4.8",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const daemons = [await start("horae"), await start("chronyd 4.8")];
    const feedDir = await Deno.makeTempDir({ prefix: "horae-rclocal-feed-" });
    const feeder = Deno.listenDatagram({ transport: "unixpacket", path: `${feedDir}/feed.sock` });
    let feeding = true;
    let rate = 4e-6;
    let offset = 0.001;
    let last = performance.now();
    const feed = (async () => {
      while (feeding) {
        const now = performance.now();
        offset += (now - last) / 1000 * rate;
        last = now;
        const bytes = encodeSockSample({ systemTime: realNow(), offset, leap: 0, pulse: false });
        for (const d of daemons) {
          await feeder.send(bytes, { transport: "unixpacket", path: `${d.dir}/lcl.sock` })
            .catch(() => {});
        }
        await sleep(250);
      }
    })();
    try {
      // a steady drift: statistics build up, nothing is selected, the frequency stays
      await sleep(12_000);
      const seen = await Promise.all(daemons.map(look));
      daemons.forEach((d, i) => {
        const s = seen[i]!;
        assert.equal(s.source, "#? LCL", `${d.name}: ${JSON.stringify(s)}`);
        // unsynchronised (s), its leap "not synchronised" (chronyc's ? without -c)
        assert.equal(s.select, "s LCL leap Not synchronised", `${d.name}: ${JSON.stringify(s)}`);
        assert.equal(s.leap, "Not synchronised", d.name);
        assert.ok(Math.abs(s.frequency) < 1, `${d.name}: ${JSON.stringify(s)}`);
      });
      // the system clock (seen from the stable clock) now drifts 16 ppm more: both follow
      rate = 20e-6;
      const followed = new Map<string, number>();
      const end = performance.now() + 60_000;
      while (performance.now() < end && followed.size < daemons.length) {
        await sleep(1000);
        for (const d of daemons) {
          const s = await look(d);
          if (Math.abs(s.frequency - 16) < 1.5) followed.set(d.name, s.frequency);
        }
      }
      assert.equal(followed.size, daemons.length, JSON.stringify(Object.fromEntries(followed)));
      for (const d of daemons) {
        const s = await look(d);
        assert.equal(s.source, "#? LCL", `${d.name}: ${JSON.stringify(s)}`);
        assert.equal(s.leap, "Not synchronised", d.name);
      }
    } finally {
      feeding = false;
      await feed;
      feeder.close();
      for (const d of daemons) {
        d.child.kill("SIGTERM");
        await d.child.status;
        await d.child.stderr.cancel().catch(() => {});
        await Deno.remove(d.dir, { recursive: true });
      }
      await Deno.remove(feedDir, { recursive: true });
    }
  },
});
