/**
 * `dumpdir`, `chronyc dump` and `chronyd -r` (lib/daemon/dumps.ts): file
 * names as chronyd 4.3 gives them (observed: `127.0.0.1.dat`,
 * `refid:7a000000.dat` for refid `z`), files written atomically only for
 * sources holding samples, reloaded with `-r` ("Loaded dump file for ...",
 * a corrupt or foreign file "Could not load dump file for ..." and no
 * crash), every `*.dat` removed at start with or without `-r`; and the
 * whole daemon: a refclock's history dumped at exit and reloaded by a
 * restart with `-r`, `sourcestats` the same before and after.
 *
 * Safety: -x (the clock is never changed), no NTP port, private 0700
 * directories; each daemon stopped by its own PID.
 */
import assert from "node:assert/strict";
import { Logger } from "../../lib/daemon/log.ts";
import {
  type DumpTarget,
  ntpDumpName,
  refclockDumpName,
  startDumps,
  writeDumps,
} from "../../lib/daemon/dumps.ts";
import { SourceStats } from "../../lib/clock/sourcestats.ts";
import { ReachRegister } from "../../lib/ntp/reach.ts";
import { refclockRefId } from "../../lib/refclock/source.ts";
import { encodeSockSample } from "../../lib/refclock/sock.ts";
import { realNow } from "../../lib/io/realtime.ts";
import { ROOT, runCommand } from "../interop/harness.ts";

const S = 1_000_000_000n;
const T0 = 1_796_428_160n * S;

function target(file: string, label: string, samples: number): DumpTarget {
  const stats = new SourceStats({ name: label });
  for (let i = 0; i < samples; i++) {
    stats.accumulate({
      time: T0 + BigInt(i) * S,
      offset: 1e-6 * (i % 3),
      peerDelay: 1e-4,
      peerDispersion: 1e-6,
      rootDelay: 0,
      rootDispersion: 0,
      stratum: 1,
      leap: 0,
    });
  }
  const reach = new ReachRegister();
  for (let i = 0; i < samples; i++) (reach.polled(), reach.received());
  return { file, source: file.slice(0, -4), label, stats, reach };
}

/** A logger into `lines` (the messages, without the time in front). */
function logger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = { lines: { push: (l: string) => lines.push(l.replace(/^\S+ /, "")) } };
  const log = new Logger({
    sink: sink as unknown as { lines: string[] },
    level: 0,
    now: () => new Date(0),
  });
  return { log, lines };
}

Deno.test("dump file names as chronyd 4.3 gives them", () => {
  assert.equal(ntpDumpName("127.0.0.1"), "127.0.0.1.dat");
  assert.equal(ntpDumpName("::1"), "::1.dat");
  assert.equal(refclockDumpName(refclockRefId("z")), "refid:7a000000.dat");
  assert.equal(refclockDumpName(refclockRefId("ABCD")), "refid:41424344.dat");
  assert.equal(refclockDumpName(refclockRefId("GPS")), "refid:47505300.dat");
});

Deno.test("writeDumps writes sources with samples atomically; startDumps -r reloads, then removes", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const a = target("127.0.0.1.dat", "127.0.0.1", 12);
    const r = target("refid:7a000000.dat", "z", 5);
    const empty = target("127.0.0.2.dat", "127.0.0.2", 0);
    const { log, lines } = logger();
    assert.ok(writeDumps(dir, [a, r, empty], log));
    const names = () => [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(names(), ["127.0.0.1.dat", "refid:7a000000.dat"]);
    Deno.writeTextFileSync(`${dir}/notes.txt`, "kept");
    Deno.writeTextFileSync(`${dir}/10.9.9.9.dat`, "a source no longer configured");

    const a2 = target("127.0.0.1.dat", "127.0.0.1", 0);
    const r2 = target("refid:7a000000.dat", "z", 0);
    assert.equal(startDumps(dir, [a2, r2, empty], true, log), 2);
    assert.deepEqual(lines, ["Loaded dump file for 127.0.0.1", "Loaded dump file for z"]);
    assert.deepEqual(a2.stats.report(T0 + 20n * S), a.stats.report(T0 + 20n * S));
    assert.deepEqual(r2.stats.history(), r.stats.history());
    assert.equal(a2.reach.value, 0o377);
    assert.equal(r2.reach.value, 0o37);
    assert.deepEqual(names(), ["notes.txt"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("startDumps refuses corrupt, foreign and misnamed files with a log line; without -r it only removes", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const { log, lines } = logger();
    const src = target("127.0.0.1.dat", "127.0.0.1", 8);
    writeDumps(dir, [src], log);
    // the history of 127.0.0.1 under another source's name
    Deno.renameSync(`${dir}/127.0.0.1.dat`, `${dir}/127.0.0.3.dat`);
    Deno.writeTextFileSync(`${dir}/127.0.0.1.dat`, "SRC0\n127.0.0.1\n0 377 8 1 0\n"); // chronyd's
    Deno.writeFileSync(`${dir}/refid:7a000000.dat`, new Uint8Array([0xff, 0xfe, 0, 1, 2]));
    const t = [
      target("127.0.0.1.dat", "127.0.0.1", 0),
      target("127.0.0.3.dat", "127.0.0.3", 0),
      target("refid:7a000000.dat", "z", 0),
    ];
    assert.equal(startDumps(dir, t, true, log), 0);
    const warnings = lines.filter((l) => l.startsWith("Could not load dump file for "));
    assert.deepEqual(warnings, [
      "Could not load dump file for 127.0.0.1",
      "Could not load dump file for 127.0.0.3",
      "Could not load dump file for z",
    ]);
    assert.ok(t.every((x) => x.stats.sampleCount === 0 && x.reach.value === 0));
    assert.deepEqual([...Deno.readDirSync(dir)], []);

    // without -r: nothing is read, the files go all the same
    writeDumps(dir, [src], log);
    const fresh = target("127.0.0.1.dat", "127.0.0.1", 0);
    lines.length = 0;
    assert.equal(startDumps(dir, [fresh], false, log), 0);
    assert.deepEqual(lines, []);
    assert.equal(fresh.stats.sampleCount, 0);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function chronyc(dir: string, cmd: string): Promise<string> {
  const r = await runCommand(`${ROOT}/bin/chronyc`, ["-n", "-h", `${dir}/chronyd.sock`, cmd], {
    timeoutMs: 10_000,
  });
  return r.code === 0 ? r.stdout : "";
}

/**
 * The only sourcestats row without its name (horae's chronyc shows a
 * refclock's as [UNSPEC] today) and its Offset column (predicted at the time
 * of asking).
 */
function row(out: string): string | null {
  const lines = out.split("\n");
  const i = lines.findIndex((l) => l.startsWith("====="));
  const f = i < 0 ? undefined : lines[i + 1]?.trim().split(/\s+/);
  return f && f.length === 8 ? [...f.slice(1, 6), f[7]].join(" ") : null;
}

function startDaemon(dir: string, flags: string[]): Deno.ChildProcess {
  return new Deno.Command(`${ROOT}/bin/chronyd`, {
    args: [...flags, "-d", "-x", "-f", `${dir}/chronyd.conf`],
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

async function stopDaemon(child: Deno.ChildProcess): Promise<string> {
  try {
    Deno.kill(child.pid, "SIGTERM");
  } catch { /* gone */ }
  const timer = setTimeout(() => {
    try {
      Deno.kill(child.pid, "SIGKILL");
    } catch { /* gone */ }
  }, 10_000);
  const out = await child.output();
  clearTimeout(timer);
  return new TextDecoder().decode(out.stderr);
}

Deno.test({
  name: "daemon: a refclock's history dumped at exit, reloaded by -r: sourcestats the same",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "horae-dumps-" });
    await Deno.chmod(dir, 0o700);
    await Deno.writeTextFile(
      `${dir}/chronyd.conf`,
      [
        `refclock SOCK ${dir}/ref.sock refid z poll 0 dpoll 0`,
        "port 0",
        "cmdport 0",
        `bindcmdaddress ${dir}/chronyd.sock`,
        `pidfile ${dir}/chronyd.pid`,
        `dumpdir ${dir}/dump`,
      ].join("\n") + "\n",
    );
    const feeder = Deno.listenDatagram({ transport: "unixpacket", path: `${dir}/feed.sock` });
    let child = startDaemon(dir, []);
    const stderr: string[] = [];
    try {
      // samples every 250 ms until the refclock holds 8
      let feeding = true;
      const feed = (async () => {
        while (feeding) {
          const bytes = encodeSockSample({
            systemTime: realNow(),
            offset: 3e-6,
            leap: 0,
            pulse: false,
          });
          await feeder.send(bytes, { transport: "unixpacket", path: `${dir}/ref.sock` })
            .catch(() => {});
          await sleep(250);
        }
      })();
      let before: string | null = null;
      const end = performance.now() + 60_000;
      while (performance.now() < end) {
        before = row(await chronyc(dir, "sourcestats"));
        if (before !== null && Number(before.split(" ")[0]) >= 8) break;
        await sleep(250);
      }
      feeding = false;
      await feed;
      assert.ok(before !== null && Number(before.split(" ")[0]) >= 8, String(before));
      // no more samples: the statistics stay as they are until the restart
      await sleep(1500);
      before = row(await chronyc(dir, "sourcestats"));
      assert.match(await chronyc(dir, "dump"), /200 OK/);
      assert.deepEqual([...Deno.readDirSync(`${dir}/dump`)].map((e) => e.name), [
        "refid:7a000000.dat",
      ]);
      await Deno.remove(`${dir}/dump/refid:7a000000.dat`);
      stderr.push(await stopDaemon(child));
      // written again at exit
      assert.ok(Deno.statSync(`${dir}/dump/refid:7a000000.dat`).isFile, stderr.join("\n"));

      child = startDaemon(dir, ["-r"]);
      let after: string | null = null;
      for (let i = 0; i < 100 && after === null; i++) {
        after = row(await chronyc(dir, "sourcestats"));
        if (after === null) await sleep(100);
      }
      assert.equal(after, before);
      const sources = await chronyc(dir, "sources");
      // reach kept (shifted by the polls since, without samples), selected without a new sample
      assert.match(sources, /^#\* z +0 +0 +[1-3][0-7][0-7] /m);
      assert.deepEqual([...Deno.readDirSync(`${dir}/dump`)], []); // removed at start
      const log = await stopDaemon(child);
      stderr.push(log);
      assert.match(log, /Loaded dump file for z\n/);
      assert.match(log, /Selected source z\n/);
    } finally {
      feeder.close();
      await stopDaemon(child).catch(() => "");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
