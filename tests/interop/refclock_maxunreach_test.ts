/**
 * `maxunreach` (chrony.conf(5) 4.8) beside the real chronyd 4.8: two SOCK
 * refclocks fed by this test, GPS (poll 0, prefer) and B (poll 2, same
 * offset). GPS's feed stops: once its reach register is zero, a daemon with
 * the default maxunreach keeps GPS selected (its newest sample is fresher
 * than B's oldest), one with `maxunreach 3` unselects it a few polls later
 * and selects B. horae and chronyd 4.8 run the same two configurations side
 * by side and must show the same.
 *
 * Safety: -x (the clock is never changed), no NTP port, private chmod-700
 * directories for the command and refclock sockets; every daemon is stopped
 * by its own PID.
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
  maxunreach: boolean;
}

async function start(kind: "horae" | "chronyd 4.8", maxunreach: boolean): Promise<Daemon> {
  const dir = await Deno.makeTempDir({ prefix: `horae-maxunreach-${kind.replace(" ", "")}-` });
  await Deno.chmod(dir, 0o700);
  const child = await spawnBeside48(kind, dir, [
    `refclock SOCK ${dir}/gps.sock refid GPS poll 0 dpoll 0 prefer${
      maxunreach ? " maxunreach 3" : ""
    }`,
    `refclock SOCK ${dir}/b.sock refid B poll 2 dpoll 0`,
    "port 0",
  ]);
  return { name: `${kind}${maxunreach ? " maxunreach 3" : ""}`, dir, child, maxunreach };
}

/** The GPS and B rows of `sources` (mode+state, reach), or null before the daemon answers. */
async function rows(d: Daemon): Promise<{ gps: string; b: string } | null> {
  const r = await runCommand(CHRONYC48, ["-h", `${d.dir}/chronyd.sock`, "-n", "sources"], {
    timeoutMs: 10_000,
  }).catch(() => null);
  const lines = (r?.stdout ?? "").split("\n");
  const row = (n: string) => {
    const f = lines.find((l) => l.slice(3).startsWith(`${n} `))?.split(/\s+/);
    return f ? `${f[0]} ${f[4]}` : null;
  };
  const gps = row("GPS");
  const b = row("B");
  return gps && b ? { gps, b } : null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name: "refclock maxunreach: horae and chronyd 4.8 keep an unreachable refclock selected, " +
    "unless maxunreach 3 unselects it",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const daemons: Daemon[] = [];
    for (const kind of ["horae", "chronyd 4.8"] as const) {
      for (const mu of [false, true]) daemons.push(await start(kind, mu));
    }
    const feedDir = await Deno.makeTempDir({ prefix: "horae-maxunreach-feed-" });
    const feeder = Deno.listenDatagram({ transport: "unixpacket", path: `${feedDir}/feed.sock` });
    let feeding = true;
    let gpsFeeding = true;
    const feed = (async () => {
      while (feeding) {
        for (const d of daemons) {
          for (const [sock, on] of [["gps", gpsFeeding], ["b", true]] as const) {
            if (!on) continue;
            const bytes = encodeSockSample({
              systemTime: realNow(),
              offset: 2e-6,
              leap: 0,
              pulse: false,
            });
            await feeder.send(bytes, { transport: "unixpacket", path: `${d.dir}/${sock}.sock` })
              .catch(() => {});
          }
        }
        await sleep(250);
      }
    })();
    const stderr: string[] = [];
    try {
      // All four select GPS, and B has a history of several polls.
      let seen: ({ gps: string; b: string } | null)[] = [];
      let end = performance.now() + 60_000;
      while (performance.now() < end) {
        seen = await Promise.all(daemons.map(rows));
        if (seen.every((s) => s?.gps === "#* 377" && s.b.startsWith("#"))) break;
        await sleep(500);
      }
      assert.ok(seen.every((s) => s?.gps === "#* 377"), JSON.stringify(seen));
      await sleep(6_000);
      gpsFeeding = false;
      // Until each maxunreach daemon has unselected GPS (and selected B) and each
      // default one has GPS unreachable for 6 polls or more.
      const last = new Map<string, { gps: string; b: string }>();
      const keptWhileUnreachable = new Set<string>();
      end = performance.now() + 60_000;
      while (performance.now() < end) {
        seen = await Promise.all(daemons.map(rows));
        daemons.forEach((d, i) => {
          const s = seen[i];
          if (!s) return;
          last.set(d.name, s);
          if (s.gps === "#* 0") keptWhileUnreachable.add(d.name);
        });
        const done = daemons.every((d) => {
          const s = last.get(d.name);
          return d.maxunreach ? s?.gps === "#? 0" && s.b.startsWith("#*") : s?.gps === "#* 0";
        });
        if (done) {
          await sleep(6_000); // the default ones keep GPS for longer than 3 polls
          seen = await Promise.all(daemons.map(rows));
          daemons.forEach((d, i) => seen[i] && last.set(d.name, seen[i]!));
          break;
        }
        await sleep(500);
      }
      const report = JSON.stringify(Object.fromEntries(last));
      for (const d of daemons) {
        const s = last.get(d.name);
        if (d.maxunreach) {
          assert.equal(s?.gps, "#? 0", `${d.name}: ${report}`);
          assert.match(s?.b ?? "", /^#\*/, `${d.name}: ${report}`);
        } else {
          assert.equal(s?.gps, "#* 0", `${d.name}: ${report}`);
          assert.ok(keptWhileUnreachable.has(d.name), `${d.name}: ${report}`);
        }
      }
    } finally {
      feeding = false;
      await feed;
      feeder.close();
      for (const d of daemons) {
        d.child.kill("SIGTERM");
        await d.child.status;
        stderr.push(new TextDecoder().decode(await new Response(d.child.stderr).arrayBuffer()));
        await Deno.remove(d.dir, { recursive: true });
      }
      await Deno.remove(feedDir, { recursive: true });
    }
    for (const e of stderr) assert.doesNotMatch(e, /not supported yet/, e);
  },
});
