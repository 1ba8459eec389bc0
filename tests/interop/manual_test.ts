/**
 * Manual time input and clock adjustments by command, beside the real
 * chronyd 4.3: the real chronyc runs the same sequence (manual on, settime,
 * manual list, manual delete, manual reset, manual off, dfreq, doffset,
 * makestep) against chronyd and horae, both `-x`, and must print the same
 * status lines and layouts (digits masked). Then the isolated-network guide
 * end to end with horae: a master with `manual` + `local stratum 8` taking
 * `settime`, clients with `initstepslew` (threshold 0: step; 20: slew)
 * syncing to it, inside a private network namespace (port 123 on its own
 * loopback; `unshare`, root only).
 * @module
 */
import assert from "node:assert/strict";
import { haveChrony, ROOT, runCommand, startChronyd, startHorae } from "./harness.ts";
import { startCmdmonServer } from "../../lib/io/cmdmon_server.ts";

const have = haveChrony();

const chronyc = (socket: string, ...args: string[]) =>
  runCommand("/usr/bin/chronyc", ["-n", "-h", socket, ...args], { timeoutMs: 10_000 });

/**
 * Digits, signs and fast/slow masked, runs of blanks made one (a column's
 * width follows its digits): what must agree is the status line and the layout.
 */
const mask = (s: string) =>
  s.replace(/[0-9]+/g, "9").replace(/[+-](?=9)/g, "").replace(/fast|slow/g, "fast")
    .replace(/ +/g, " ");

/** Waits until `f` is true (polled), at most `ms`. */
async function until(f: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

/** The sequence of the issue's done-when, with a second sample so that delete has work. */
async function sequence(socket: string): Promise<string[]> {
  const out: string[] = [];
  const run = async (...args: string[]) => {
    const r = await chronyc(socket, ...args);
    out.push(`$ ${args.join(" ")} -> ${r.code}\n${mask(r.stdout + r.stderr)}`);
  };
  await run("manual", "list");
  await run("manual", "on");
  await run("settime", "now");
  await run("settime", "now"); // within a second of the last one: 500 Failure
  await new Promise((r) => setTimeout(r, 1200));
  await run("settime", "now");
  await run("manual", "list");
  await run("manual", "delete", "5");
  await run("manual", "delete", "0");
  await run("manual", "list");
  await run("manual", "reset");
  await run("manual", "list");
  await run("manual", "off");
  await run("settime", "now");
  await run("dfreq", "1.5");
  await run("doffset", "0.25");
  await run("dfreq");
  await run("makestep", "0.1", "3");
  await run("makestep");
  await run("local", "off");
  await run("local", "stratum", "5", "orphan");
  const t = await chronyc(socket, "tracking");
  out.push(`tracking: ${t.stdout.match(/^(Reference ID|Stratum) .*$/gm)?.join("; ")}`);
  return out;
}

Deno.test({
  name: "manual, settime, dfreq, doffset, makestep: the real chronyc gets chronyd 4.3's answers",
  ignore: !have,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const lines = ["local stratum 8", "manual"];
    const ref = await startChronyd({ lines });
    let theirs: string[];
    try {
      theirs = await sequence(ref.socket);
    } finally {
      await ref.stop();
    }
    const h = await startHorae(lines);
    let ours: string[];
    try {
      ours = await sequence(h.socket);
    } finally {
      await h.stop();
    }
    // makestep without arguments under -x fails (500) on both, as h6's branch makes it
    for (let i = 0; i < theirs.length; i++) assert.equal(ours[i], theirs[i]);
  },
});

/** After `doffset 0.5` and `dfreq 10`: the words of tracking's System time and Frequency lines. */
async function adjustedWords(socket: string): Promise<string[]> {
  const out: string[] = [];
  for (const args of [["doffset", "0.5"], ["dfreq", "10"]]) {
    const r = await chronyc(socket, ...args);
    out.push(`${args[0]}: ${r.stdout.trim()}`);
  }
  const t = (await chronyc(socket, "tracking")).stdout;
  out.push(
    t.match(/^System time {5}: 0\.(?:49|50)\d+ seconds (fast|slow) of NTP time$/m)?.[1] ?? t,
  );
  out.push(t.match(/^Frequency {7}: 10\.000 ppm (fast|slow)$/m)?.[1] ?? t);
  return out;
}

Deno.test({
  name: "doffset and dfreq move tracking's System time and Frequency the way chronyd 4.3 does",
  ignore: !have,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ref = await startChronyd();
    let theirs: string[];
    try {
      theirs = await adjustedWords(ref.socket);
    } finally {
      await ref.stop();
    }
    const h = await startHorae([]);
    try {
      assert.deepEqual(await adjustedWords(h.socket), theirs);
      assert.deepEqual(theirs, ["doffset: 200 OK", "dfreq: 200 OK", "fast", "fast"]);
    } finally {
      await h.stop();
    }
  },
});

/** A process holding a private network namespace (only `lo`, brought up). */
async function privateNet(): Promise<{ enter: string[]; stop(): Promise<void> } | null> {
  if (Deno.uid() !== 0) return null;
  const holder = new Deno.Command("unshare", {
    args: ["--net", "sleep", "300"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const enter = ["nsenter", `--net=/proc/${holder.pid}/ns/net`];
  // first the holder must be in its own namespace, then its loopback is brought up
  const own = "/proc/self/ns/net";
  let separate = false;
  for (let i = 0; i < 100 && !separate; i++) {
    try {
      separate = Deno.readLinkSync(`/proc/${holder.pid}/ns/net`) !== Deno.readLinkSync(own);
    } catch { /* not there yet */ }
    if (!separate) await new Promise((r) => setTimeout(r, 20));
  }
  const ip = (...args: string[]) => runCommand(enter[0]!, [...enter.slice(1), "ip", ...args]);
  let up = false;
  for (let i = 0; separate && i < 20 && !up; i++) {
    await ip("link", "set", "lo", "up");
    up = /state UNKNOWN|LOWER_UP/.test((await ip("-o", "link", "show", "lo")).stdout);
  }
  if (!up) throw new Error("could not bring up the loopback of a private network namespace");
  return {
    enter,
    async stop() {
      try {
        holder.kill("SIGKILL");
      } catch { /* gone */ }
      await holder.status;
    },
  };
}

/**
 * horae's chronyd (`-d -x`), or the real one (`-d -x -u root`), inside the
 * namespace; its command socket in a private directory.
 */
async function daemonIn(enter: string[], lines: string[], real = false) {
  const dir = await Deno.makeTempDir({ prefix: "horae-iso-" });
  await Deno.chmod(dir, 0o700);
  const conf = [
    ...lines,
    "cmdport 0",
    `bindcmdaddress ${dir}/chronyd.sock`,
    `pidfile ${dir}/chronyd.pid`,
    `driftfile ${dir}/drift`,
  ];
  await Deno.writeTextFile(`${dir}/chronyd.conf`, conf.join("\n") + "\n");
  const child = new Deno.Command(enter[0]!, {
    args: [
      ...enter.slice(1),
      ...(real ? ["/usr/sbin/chronyd", "-u", "root"] : [`${ROOT}/bin/chronyd`]),
      ...["-d", "-x", "-f", `${dir}/chronyd.conf`],
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const socket = `${dir}/chronyd.sock`;
  await until(async () => (await chronyc(socket, "tracking")).code === 0, 15_000);
  return {
    socket,
    async stop(): Promise<string> {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      const out = await child.output();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      return new TextDecoder().decode(out.stderr);
    },
  };
}

Deno.test({
  name: "isolated network (guide): manual master with settime, initstepslew clients sync to it",
  ignore: !have,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const net = await privateNet();
    if (net === null) {
      if (Deno.env.get("CI")) throw new Error("the isolated-network test needs root (unshare)");
      console.warn("isolated network: not root, skipping");
      return;
    }
    const master = await daemonIn(net.enter, [
      "initstepslew 10 127.0.0.2 no-such-host.invalid",
      "bindaddress 127.0.0.1",
      "local stratum 8",
      "manual",
      "allow 127.0.0.0/8",
    ]);
    const clients: { socket: string; stop(): Promise<string> }[] = [];
    try {
      const set = await chronyc(master.socket, "settime", "now");
      assert.equal(set.code, 0, set.stdout + set.stderr);
      assert.match(set.stdout, /^200 OK\nClock was -?\d+\.\d\d seconds fast\./);
      const list = await chronyc(master.socket, "manual", "list");
      assert.match(list.stdout, /^210 n_samples = 1\n/);
      // the guide's client: a server line and initstepslew to the same host
      // (horae with thresholds 0 and 20, then the real chronyd 4.3 with 20)
      for (const [threshold, real] of [[0, false], [20, false], [20, true]] as const) {
        clients.push(
          await daemonIn(net.enter, [
            "server 127.0.0.1 iburst",
            `initstepslew ${threshold} 127.0.0.1`,
            "local stratum 10",
            "port 0",
          ], real),
        );
      }
      for (const c of clients) {
        const synced = await until(async () => {
          const t = await chronyc(c.socket, "tracking");
          return /Reference ID {4}: 7F000001 \(127\.0\.0\.1\)/.test(t.stdout) &&
            /Stratum {9}: 9\n/.test(t.stdout);
        }, 60_000);
        assert.ok(synced, (await chronyc(c.socket, "tracking")).stdout);
      }
      // the master's initstepslew source (nobody at 127.0.0.2) goes when the mode ends
      const gone = await until(
        async () => !(await chronyc(master.socket, "sources")).stdout.includes("127.0.0.2"),
        30_000,
      );
      assert.ok(gone, "the initstepslew source stays");
    } finally {
      const logs = await Promise.all(clients.map((c) => c.stop()));
      const masterLog = await master.stop();
      await net.stop();
      if (logs.length === 3) {
        // threshold 0: stepped; threshold 20: slewed, as initstepslew chooses
        // chronyd 4.3's line, e.g. "System's initial offset : 0.712688 seconds fast of true (step)"
        const initial =
          /System's initial offset : \d+\.\d{6} seconds (fast|slow) of true \((step|slew)\)/;
        assert.equal(logs[0]!.match(initial)?.[2], "step", logs[0]);
        assert.equal(logs[1]!.match(initial)?.[2], "slew", logs[1]);
        // the real chronyd, client of horae's master, says the same
        assert.equal(logs[2]!.match(initial)?.[2], "slew", logs[2]);
      }
      // the master's initstepslew host never answers: it gives up (as chronyd, after 10 s)
      assert.match(masterLog, /No suitable source for initstepslew/);
      // names are resolved once at start, as chronyd does; one that fails is dropped
      assert.match(
        masterLog,
        /Could not resolve address of initstepslew server no-such-host\.invalid/,
      );
      assert.match(masterLog, /Making a slew of/);
    }
  },
});

Deno.test({
  name: "settime dates: horae's chronyc sends what chronyc 4.3 sends (UTC and a local zone)",
  ignore: !have,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "horae-settime-" });
    await Deno.chmod(dir, 0o700);
    let last: bigint | null = null;
    const server = await startCmdmonServer({
      settime(ts) {
        last = ts;
        return { offset: 0, dfreqPpm: 0, newAfreqPpm: 0 };
      },
    }, { socketPath: `${dir}/s.sock`, port: 0 });
    const sent = async (bin: string, date: string, tz: string) => {
      last = null;
      const r = await runCommand(bin, ["-n", "-h", `${dir}/s.sock`, `settime ${date}`], {
        timeoutMs: 10_000,
        env: { TZ: tz },
      });
      return { when: Date.now(), ts: last as bigint | null, out: r.stdout.split("\n")[0] };
    };
    const forms = [
      "16:30",
      "16:30:05",
      "Nov 21, 1997 16:30:05",
      "now",
      "+1 hour",
      "1 hour ago",
      "tomorrow",
      "yesterday 10:00",
      "2026-12-04 20:00:00",
      "12/04/2026 20:00",
      "garbage",
      "4 Dec 2026 20:01",
      "now + 5 seconds",
      "20:10 UTC",
      "2:10pm",
      "next monday",
      "3 days ago 10:00",
      "21 nov 1997",
      "-5 min",
      "Nov 21 16:30",
      "16:30:05.5",
    ];
    try {
      for (const tz of ["UTC", "Europe/Paris"]) {
        for (const f of forms) {
          const theirs = await sent("/usr/bin/chronyc", f, tz);
          const ours = await sent(`${ROOT}/bin/chronyc`, f, tz);
          if (theirs.ts === null || ours.ts === null) {
            assert.equal(ours.out, theirs.out, `${f} (${tz})`);
            continue;
          }
          // relative forms count from each run's own now: allow the seconds between the runs
          const slack = BigInt(Math.ceil((ours.when - theirs.when) / 1000) + 1) * 1_000_000_000n;
          const d = ours.ts - theirs.ts;
          assert.ok(d >= 0n && d <= slack, `${f} (${tz}): ${ours.ts} vs ${theirs.ts}`);
        }
      }
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
