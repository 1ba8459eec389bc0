/**
 * The user guides (../shared/user-guides/) walked step by step, each step run
 * on horae and on the real chronyd 4.3 with the same configuration, adapted
 * only for safety: `-x` (never the clock), `-u root`, loopback addresses, high
 * ports, a private 0700 directory per daemon with its own command socket,
 * pidfile, driftfile and logdir; the real chronyc always with `-n`. The steps
 * that would set this machine's clock (`chronyd -q`, `date -s`, `makestep`
 * without `-x`) are not run; `makestep` is run against the `-x` daemons.
 *
 * Each case starts the chronyd set-up and the horae set-up side by side (in
 * parallel, to stay well under a minute in total) and compares what a user
 * sees: exit codes, status lines, report layouts and the values that must
 * agree (stratum, reference ID, leap status, modes, ports, reachability).
 *
 * Not automated here: `initstepslew` (its servers are polled on port 123:
 * tests/interop/manual_test.ts runs the isolated network in a namespace);
 * hardware timestamping (no NIC with it here, covered by hwtimestamp_test.ts);
 * `systemctl`/`firewall-cmd`/`dnf`/`timedatectl`/`ethtool` steps.
 */
import assert from "node:assert/strict";
import {
  freePort,
  haveChrony,
  makeCert,
  ROOT,
  runCommand,
  sharedPath,
  writeDaemonConfig,
} from "./harness.ts";

const enabled = haveChrony();

type Kind = "chronyd" | "horae";
const KINDS: Kind[] = ["chronyd", "horae"];
const BINARY: Record<Kind, string> = {
  chronyd: "/usr/sbin/chronyd",
  horae: `${ROOT}/bin/chronyd`,
};

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

/** A daemon (either kind) in the foreground in its own 0700 directory. */
interface Daemon {
  kind: Kind;
  dir: string;
  socket: string;
  /** What it logged so far (stderr; both log there with -d). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts `kind` with `lines` (DIR replaced by its directory) plus its own
 * pidfile, command socket, driftfile; `cmdport 0`/`port 0` unless given.
 * Resolves once the command socket answers.
 */
async function launchDaemon(
  kind: Kind,
  lines: string[],
  flags: string[] = [],
): Promise<Daemon> {
  const dir = await writeDaemonConfig(lines, `horae-guide-${kind}-`);
  const child = new Deno.Command(BINARY[kind], {
    args: ["-d", "-x", "-u", "root", ...flags, "-f", `${dir}/chronyd.conf`],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  const reading = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stderr) text += dec.decode(chunk, { stream: true });
  })();
  const socket = `${dir}/chronyd.sock`;
  const end = performance.now() + 15_000;
  while (performance.now() < end) {
    const r = await chronyc(["-h", socket, "tracking"], 3000);
    if (r.code === 0) break;
    await sleep(100);
  }
  let stopped: Promise<void> | null = null;
  return {
    kind,
    dir,
    socket,
    log: () => text,
    stop() {
      stopped ??= (async () => {
        try {
          Deno.kill(child.pid, "SIGTERM");
        } catch { /* gone */ }
        const timer = setTimeout(() => {
          try {
            Deno.kill(child.pid, "SIGKILL");
          } catch { /* gone */ }
        }, 5000);
        await child.status;
        clearTimeout(timer);
        await reading.catch(() => {});
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      })();
      return stopped;
    },
  };
}

/** The real chronyc (always with -n), or horae's with `kind` "horae". */
async function chronyc(args: string[], timeoutMs = 10_000, kind: Kind = "chronyd") {
  const bin = kind === "horae" ? `${ROOT}/bin/chronyc` : "/usr/bin/chronyc";
  const r = await runCommand(bin, ["-n", ...args], { timeoutMs });
  return { code: r.code, out: r.stdout + r.stderr };
}

/** Each kind's chronyc against its own daemon (the user's view of each). */
function cmd(d: Record<Kind, Daemon>, args: string[]) {
  return both((k) => chronyc(["-h", d[k].socket, ...args], 10_000, k));
}

/** A chronyc session fed `input` on its standard input (not a terminal). */
async function session(kind: Kind, socket: string, input: string) {
  const bin = kind === "horae" ? `${ROOT}/bin/chronyc` : "/usr/bin/chronyc";
  const child = new Deno.Command(bin, {
    args: ["-n", "-h", socket],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 10_000);
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(input));
  await w.close();
  const o = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout) + dec.decode(o.stderr) };
}

/** `help`: lines per command entry (the command column, continuation lines). */
function helpBlocks(text: string): Map<string, number> {
  const m = new Map<string, number>();
  let key = "";
  // the help text ends where the next command's report (tracking) begins
  const end = text.search(/^Reference ID/m);
  for (const line of (end < 0 ? text : text.slice(0, end)).split("\n")) {
    if (line.trim() === "") continue;
    if (!line.startsWith(" ")) {
      key = line.slice(0, 28).trim();
      m.set(key, 1);
    } else if (key !== "") m.set(key, (m.get(key) ?? 0) + 1);
  }
  return m;
}

/** `Key : value` lines of tracking/ntpdata as a map (keys in order). */
function fields(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    const i = line.indexOf(":");
    if (i > 0 && /^[A-Z]/.test(line)) m.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return m;
}

/** The report rows of `sources`/`sourcestats`/`clients` (after the === line). */
function rows(text: string): string[] {
  const lines = text.split("\n");
  const i = lines.findIndex((l) => /^=+$/.test(l));
  return i < 0 ? [] : lines.slice(i + 1).filter((l) => l.trim() !== "");
}

/** Lines before the === line (title and, with -v, the legend). */
function head(text: string): string[] {
  const lines = text.split("\n");
  const i = lines.findIndex((l) => /^=+$/.test(l));
  return i < 0 ? lines : lines.slice(0, i + 1);
}

/** Polls `cmd` on `d` until `ok(output)` or the deadline; returns the last output. */
async function until(
  socket: string,
  args: string[],
  ok: (out: string) => boolean,
  ms: number,
): Promise<string> {
  const end = performance.now() + ms;
  let out = "";
  while (performance.now() < end) {
    out = (await chronyc(["-h", socket, ...args])).out;
    if (ok(out)) return out;
    await sleep(250);
  }
  return out;
}

/** Runs `fn` for both kinds at once; results by kind. */
async function both<T>(fn: (kind: Kind) => Promise<T>): Promise<Record<Kind, T>> {
  const [a, b] = await Promise.all(KINDS.map(fn));
  return { chronyd: a as T, horae: b as T };
}

/** Same value in both, with a message showing both outputs. */
function same<T>(what: string, r: Record<Kind, T>, extra = "") {
  assert.deepEqual(r.horae, r.chronyd, `${what} differs (horae vs chronyd)${extra}`);
}

/**
 * One guide case: a test whose `launch` is the module's, with every daemon it
 * starts stopped (and its directory removed) when the case ends, however it ends.
 */
function guide(name: string, fn: (launch: typeof launchDaemon) => Promise<void>) {
  Deno.test({
    name,
    ignore: !enabled,
    async fn() {
      const started: Daemon[] = [];
      try {
        await fn(async (kind, lines, flags) => {
          const d = await launchDaemon(kind, lines, flags);
          started.push(d);
          return d;
        });
      } finally {
        await Promise.all(started.map((d) => d.stop()));
      }
    },
  });
}

Deno.test({
  name: "guides: every example configuration parses (chronyd -p) in both",
  ignore: !enabled,
  async fn() {
    const dir = sharedPath("examples");
    const files = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".conf"))
      .sort();
    assert.ok(files.length >= 10, `examples in ${dir}`);
    const results = await Promise.all(files.map(async (f) => {
      const [c, h] = await Promise.all(
        KINDS.map((k) => runCommand(BINARY[k], ["-p", "-f", `${dir}/${f}`], { timeoutMs: 20_000 })),
      );
      return { f, c: c!, h: h! };
    }));
    for (const { f, c, h } of results) {
      assert.equal(c.code, 0, `${f}: chronyd -p: ${c.stderr}`);
      assert.equal(h.code, 0, `${f}: horae -p: ${h.stderr}`);
      assert.equal(h.stdout, c.stdout, `${f}: chronyd -p prints the configuration differently`);
      // what each logs while reading it (chronyd resolves the initstepslew names then)
      assert.deepEqual(logLines(h.stderr), logLines(c.stderr), `${f}: chronyd -p logs differently`);
    }
  },
});

guide(
  "guides: install and configure (distribution default), then the chronyc reports",
  async (launch) => {
    // The upstream server of both: one real chronyd, local stratum 1.
    const upPort = freePort();
    await launch("chronyd", [
      `port ${upPort}`,
      "bindaddress 127.0.0.1",
      "local stratum 1",
      "allow 127.0.0.0/8",
    ]);
    // centos-default.conf, adapted: the upstream on loopback, files in DIR.
    const conf = [
      `server 127.0.0.1 port ${upPort} iburst minpoll 0 maxpoll 0`,
      "driftfile DIR/drift",
      "makestep 1.0 3",
      "rtcsync",
      "keyfile DIR/chrony.keys",
      "leapsectz right/UTC",
      "logdir DIR/log/chrony",
      "log measurements statistics tracking",
      "stratumweight 0",
    ];
    const d = await both((k) => launch(k, conf));
    // the guide's ntpdate-like step `chronyd -q 'server ... iburst'`, with -x (never the
    // clock), beside the next steps (its iburst takes 4 s)
    const qRun = both((k) =>
      runCommand(BINARY[k], [
        "-q",
        "-x",
        "-u",
        "root",
        "-t",
        "10",
        // its own pidfile: the default one (/run/chrony) would clash with other tests
        `pidfile ${d[k].dir}/oneshot.pid`,
        `server 127.0.0.1 port ${upPort} iburst`,
      ], {
        timeoutMs: 20_000,
      })
    );
    const synced = await both((k) =>
      until(d[k].socket, ["tracking"], (o) => /Leap status\s*: Normal/.test(o), 20_000)
    );
    for (const k of KINDS) {
      assert.match(synced[k], /Leap status\s*: Normal/, `${k}: ${synced[k]}`);
    }
    const run = (args: string[]) => cmd(d, args);
    // chronyc tracking
    const tr = await run(["tracking"]);
    const tf = { chronyd: fields(tr.chronyd.out), horae: fields(tr.horae.out) };
    same("tracking layout", { chronyd: [...tf.chronyd.keys()], horae: [...tf.horae.keys()] });
    for (const key of ["Reference ID", "Stratum", "Leap status"]) {
      same(`tracking ${key}`, {
        chronyd: tf.chronyd.get(key),
        horae: tf.horae.get(key),
      }, `\n${tr.chronyd.out}\n${tr.horae.out}`);
    }
    // chronyc sources -v / sourcestats -v / activity -v
    for (const args of [["sources", "-v"], ["sourcestats", "-v"], ["activity", "-v"]]) {
      const r = await run(args);
      same(`${args.join(" ")} exit code`, { chronyd: r.chronyd.code, horae: r.horae.code });
      const hc = head(r.chronyd.out), hh = head(r.horae.out);
      same(`${args.join(" ")} legend line count`, { chronyd: hc.length, horae: hh.length });
      same(`${args.join(" ")} column header`, {
        chronyd: hc.slice(-2),
        horae: hh.slice(-2),
      });
    }
    const src = await run(["sources"]);
    const cut = (row: string) => row.slice(0, 38).replace(/\s+/g, " ").trim();
    same("sources row (MS, name, stratum, poll)", {
      chronyd: rows(src.chronyd.out).map(cut),
      horae: rows(src.horae.out).map(cut),
    });
    const act = await run(["activity"]);
    same("activity", act);
    // what each logged at start-up, in order (keyfile, root, leapsectz, the selected source)
    same("start-up log lines", {
      chronyd: logLines(d.chronyd.log()),
      horae: logLines(d.horae.log()),
    });
    // interactive chronyc: help, then a report, then quit
    const inter = await both((k) => session(k, d[k].socket, "help\ntracking\nquit\n"));
    same("interactive exit code", { chronyd: inter.chronyd.code, horae: inter.horae.code });
    const blocks = { chronyd: helpBlocks(inter.chronyd.out), horae: helpBlocks(inter.horae.out) };
    const common = [...blocks.chronyd.keys()].filter((c) => blocks.horae.has(c));
    assert.ok(common.length >= 0.9 * blocks.chronyd.size, `help entries: ${common.length}`);
    same("help entry heights", {
      chronyd: common.map((c) => [c, blocks.chronyd.get(c)]),
      horae: common.map((c) => [c, blocks.horae.get(c)]),
    });
    for (const k of KINDS) assert.match(inter[k].out, /Leap status\s*: Normal/);
    // chronyc -a makestep (under -x)
    const ms = await run(["-a", "makestep"]);
    same("makestep", ms);
    // under -x both log that the step could not be made
    const stepLines = (k: Kind) => logLines(d[k].log()).filter((l) => /step/.test(l));
    for (let i = 0; i < 20 && KINDS.some((k) => stepLines(k).length === 0); i++) await sleep(100);
    same("makestep log", { chronyd: stepLines("chronyd"), horae: stepLines("horae") });
    // the log files named by `log measurements statistics tracking`
    const logs = await both((k) =>
      Promise.resolve([...Deno.readDirSync(`${d[k].dir}/log/chrony`)].map((e) => e.name).sort())
    );
    same("logdir contents", logs);
    // each log's header (its first lines up to the === rule)
    const headers = await both(async (k) => {
      const out: string[] = [];
      for (const name of logs[k]) {
        const text = await Deno.readTextFile(`${d[k].dir}/log/chrony/${name}`);
        out.push(name, ...text.split("\n").slice(0, 3).filter((l) => !/^\d{4}-/.test(l)));
      }
      return out;
    });
    same("log headers", headers);
    const q = await qRun;
    same("chronyd -q -x exit code", { chronyd: q.chronyd.code, horae: q.horae.code });
    same("chronyd -q -x lines", {
      chronyd: oneshotLines(q.chronyd.stdout + q.chronyd.stderr),
      horae: oneshotLines(q.horae.stdout + q.horae.stderr),
    });
  },
);

/** `ss -tlunp` lines of a process's sockets, as `proto local-address:port`. */
async function listening(pid: number): Promise<string[]> {
  const r = await runCommand("ss", ["-H", "-tlunp"]);
  return r.stdout.split("\n").filter((l) => l.includes(`pid=${pid},`)).map((l) => {
    const f = l.trim().split(/\s+/);
    return `${f[0]} ${f[4]} ${/\("([^"]+)"/.exec(l)?.[1] ?? "?"}`;
  }).sort();
}

guide(
  "guides: LAN server (allow, local stratum 10 orphan) serves at stratum 10 without upstream",
  async (launch) => {
    // lan-server.conf, adapted: the lost upstream is a closed loopback port.
    const dead = freePort();
    const ports = { chronyd: freePort(), horae: freePort() };
    const servers = await both((k) =>
      launch(k, [
        // the guide's three pools, all one loopback address here
        `pool 127.0.0.1 port ${dead} iburst`,
        `pool 127.0.0.1 port ${dead} iburst`,
        `pool 127.0.0.1 port ${dead} iburst`,
        `port ${ports[k]}`,
        "bindaddress 127.0.0.1",
        "makestep 1.0 3",
        "minsources 2",
        "allow 127.0.0.0/8",
        "local stratum 10 orphan distance 0.1",
        "logdir DIR/log",
        "log measurements statistics tracking",
      ])
    );
    // the server's own tracking: the local reference at stratum 10
    const tr = await both((k) =>
      until(servers[k].socket, ["tracking"], (o) => /Stratum\s*: 10/.test(o), 15_000)
    );
    const tf = { chronyd: fields(tr.chronyd), horae: fields(tr.horae) };
    for (const key of ["Reference ID", "Stratum", "Leap status"]) {
      same(`server tracking ${key}`, {
        chronyd: tf.chronyd.get(key),
        horae: tf.horae.get(key),
      }, `\n${tr.chronyd}\n${tr.horae}`);
    }
    // ss -tlunp | grep chrony: the NTP port, named chronyd
    const ss = await both(async (k) => {
      const pid = Number((await Deno.readTextFile(`${servers[k].dir}/chronyd.pid`)).trim());
      return (await listening(pid)).map((l) => l.replace(String(ports[k]), "PORT"));
    });
    same("ss -tlunp", ss);
    // a client of each (the guide's node2) synchronises at stratum 11
    const clients = await both((k) =>
      launch(k, [`server 127.0.0.1 port ${ports[k]} iburst minpoll -2 maxpoll -2`])
    );
    const ct = await both((k) =>
      until(clients[k].socket, ["tracking"], (o) => /Leap status\s*: Normal/.test(o), 20_000)
    );
    const cf = { chronyd: fields(ct.chronyd), horae: fields(ct.horae) };
    for (const key of ["Reference ID", "Stratum", "Leap status"]) {
      same(`client tracking ${key}`, {
        chronyd: cf.chronyd.get(key),
        horae: cf.horae.get(key),
      }, `\n${ct.chronyd}\n${ct.horae}`);
    }
    assert.equal(cf.horae.get("Stratum"), "11");
    same("client log lines", {
      chronyd: logLines(clients.chronyd.log()),
      horae: logLines(clients.horae.log()),
    });
    // chronyc clients on the server: the client's row
    const cl = await cmd(servers, ["clients"]);
    same("clients exit code", { chronyd: cl.chronyd.code, horae: cl.horae.code });
    same("clients header", { chronyd: head(cl.chronyd.out), horae: head(cl.horae.out) });
    const first = (o: string) => rows(o).map((r) => r.split(/\s+/)[0]);
    same("clients rows", { chronyd: first(cl.chronyd.out), horae: first(cl.horae.out) });
    const sv = await cmd(servers, ["sources"]);
    same("server sources", sv);
    const ac = await cmd(servers, ["activity"]);
    same("server activity", ac);
    same("server log lines", {
      chronyd: logLines(servers.chronyd.log()),
      horae: logLines(servers.horae.log()),
    });
  },
);

guide(
  "guides: remote monitoring over the UDP command port (bindcmdaddress, cmdallow)",
  async (launch) => {
    // remote-monitoring.conf, adapted: loopback addresses, a high cmdport.
    const cport = { chronyd: freePort(), horae: freePort() };
    const d = await both((k) =>
      launch(k, [
        `server 127.0.0.1 port ${freePort()} iburst`,
        `cmdport ${cport[k]}`,
        "bindcmdaddress 127.0.0.1",
        "bindcmdaddress ::1",
        "cmdallow 127.0.0.0/8",
      ])
    );
    const ss = await both(async (k) => {
      const pid = Number((await Deno.readTextFile(`${d[k].dir}/chronyd.pid`)).trim());
      return (await listening(pid)).map((l) => l.replace(String(cport[k]), "PORT"));
    });
    same("ss -tlunp", ss);
    const monitoring = [
      ["tracking"],
      ["sources"],
      ["sourcestats"],
      ["activity"],
      ["manual", "list"],
      ["rtcdata"],
      ["smoothing"],
      ["waitsync", "1"],
    ];
    const controls = [["serverstats"], ["clients"], ["makestep"], ["ntpdata"], ["authdata"]];
    for (const host of ["127.0.0.1", "::1"]) {
      for (const args of [...monitoring, ...controls]) {
        const r = await both((k) =>
          chronyc(["-h", host, "-p", String(cport[k]), ...args], 10_000, k)
        );
        const label = `chronyc -h ${host} ${args.join(" ")}`;
        same(
          `${label}: exit code`,
          { chronyd: r.chronyd.code, horae: r.horae.code },
          `\n${r.chronyd.out}\n${r.horae.out}`,
        );
        const firstLine = (o: string) => o.split("\n")[0];
        same(`${label}: first line`, {
          chronyd: firstLine(r.chronyd.out),
          horae: firstLine(r.horae.out),
        }, `\n${r.chronyd.out}\n${r.horae.out}`);
      }
    }
  },
);

guide(
  "guides: troubleshooting: a server without `local` never synchronises its client",
  async (launch) => {
    const ports = { chronyd: freePort(), horae: freePort() };
    // the server of the note: allow, but no `local` and no reachable upstream
    const servers = await both((k) =>
      launch(k, [`port ${ports[k]}`, "bindaddress 127.0.0.1", "allow 127.0.0.0/8"])
    );
    const clients = await both((k) =>
      // minpoll -2: chronyd polls an unreachable source at 1 s (Poll 0), as horae
      launch(k, [`server 127.0.0.1 port ${ports[k]} iburst minpoll -2 maxpoll -2`], ["-4"])
    );
    // the iburst (1/4 s apart at poll 0) and a few polls
    await sleep(3500);
    const tr = await cmd(clients, ["tracking"]);
    const tf = { chronyd: fields(tr.chronyd.out), horae: fields(tr.horae.out) };
    same("tracking", {
      chronyd: [...tf.chronyd].filter(([k]) => k !== "Frequency" && k !== "Skew"),
      horae: [...tf.horae].filter(([k]) => k !== "Frequency" && k !== "Skew"),
    });
    const src = await cmd(clients, ["sources"]);
    same("sources", src);
    const act = await cmd(clients, ["activity"]);
    same("activity", act);
    const sst = await cmd(clients, ["sourcestats"]);
    same("sourcestats", sst);
    const nd = await cmd(clients, ["ntpdata"]);
    const nf = { chronyd: fields(nd.chronyd.out), horae: fields(nd.horae.out) };
    const agree = [
      "Remote address",
      "Local address",
      "Leap status",
      "Version",
      "Mode",
      "Stratum",
      "Poll interval",
      "Root delay",
      "Root dispersion",
      "Reference ID",
      "Offset",
      "Peer delay",
      "Response time",
      "NTP tests",
      "Interleaved",
      "Authenticated",
      "Total good RX",
    ];
    // horae's chronyc prints chronyc 4.8's ntpdata (the timestamp counters after 4.3's lines)
    same("ntpdata layout", {
      chronyd: [...nf.chronyd.keys()],
      horae: [...nf.horae.keys()].slice(0, nf.chronyd.size),
    });
    for (const key of agree) {
      same(`ntpdata ${key}`, { chronyd: nf.chronyd.get(key), horae: nf.horae.get(key) });
    }
    for (const k of KINDS) {
      assert.equal(nf[k].get("Total valid RX"), nf[k].get("Total RX"), `${k}: ${nd[k].out}`);
    }
    // the server's own view: unsynchronised
    const st = await cmd(servers, ["tracking"]);
    same("server tracking", st);
    // chronyd 4.6+ logs the start-up selection failure once a source has made 8 polls
    // (tests/interop/selection_log_test.ts beside chronyd 4.8); 4.3 logs none
    const startFailure = "Can't synchronise: no selectable sources (1 unreachable sources)";
    const clientLines = logLines(clients.horae.log());
    assert.ok(clientLines.includes(startFailure), clientLines.join("\n"));
    same("client log lines", {
      chronyd: logLines(clients.chronyd.log()),
      horae: clientLines.filter((l) => l !== startFailure),
    });
    same("server log lines", {
      chronyd: logLines(servers.chronyd.log()),
      horae: logLines(servers.horae.log()),
    });
  },
);

/** Log lines without time stamps, version banner and private directory names. */
function logLines(text: string): string[] {
  return text.split("\n").filter((l) => l.trim() !== "" && !/ version /.test(l)).map((l) =>
    l.replace(/^\S+Z /, "").replace(/\/tmp\/horae-guide-\w+-\w+/g, "DIR")
  );
}

/** A one-shot run's lines without the time stamps and the version banner. */
function oneshotLines(out: string): string[] {
  return out.split("\n").filter((l) => l.trim() !== "").map((l) =>
    l.replace(/^\S+Z /, "").replace(/-?\d+\.\d+ seconds/, "X seconds")
  ).filter((l) => !/ version /.test(l));
}

guide(
  "guides: NTS server (ntsserverkey/cert, ntsdumpdir) and NTS client (-N authdata, sources)",
  async (launch) => {
    const certDir = await Deno.makeTempDir({ prefix: "horae-guide-cert-" });
    await Deno.chmod(certDir, 0o700);
    const { cert, key } = await makeCert(certDir);
    const ports = { chronyd: freePort(), horae: freePort() };
    const ke = { chronyd: freePort(), horae: freePort() };
    const servers = await both((k) =>
      launch(k, [
        `port ${ports[k]}`,
        `ntsport ${ke[k]}`,
        "bindaddress 127.0.0.1",
        "local stratum 1",
        "allow 127.0.0.0/8",
        `ntsserverkey ${key}`,
        `ntsservercert ${cert}`,
        "ntsdumpdir DIR/lib/chrony",
      ])
    );
    try {
      // the guide's quick test: chronyd -Q -t 3 'server NAME iburst nts maxsamples 1'
      const q = await both((k) =>
        runCommand(BINARY[k], [
          "-Q",
          "-4",
          "-u",
          "root",
          "-t",
          "5",
          `pidfile ${servers[k].dir}/oneshot.pid`,
          `ntstrustedcerts ${cert}`,
          `server localhost port ${ports[k]} ntsport ${ke[k]} iburst nts maxsamples 1`,
        ], { timeoutMs: 20_000 })
      );
      same("chronyd -Q exit code", { chronyd: q.chronyd.code, horae: q.horae.code });
      same("chronyd -Q lines", {
        chronyd: oneshotLines(q.chronyd.stdout + q.chronyd.stderr),
        horae: oneshotLines(q.horae.stdout + q.horae.stderr),
      });
      // the guide's first failure cause: nothing listens on the NTS-KE port (chronyd gives
      // up after its iburst, ~8 s: run beside the next steps)
      const closed = freePort();
      const refusedRun = both((k) =>
        runCommand(BINARY[k], [
          "-Q",
          "-4",
          "-u",
          "root",
          `pidfile ${servers[k].dir}/refused.pid`,
          `ntstrustedcerts ${cert}`,
          `server localhost port ${ports[k]} ntsport ${closed} iburst nts maxsamples 1`,
        ], { timeoutMs: 30_000 })
      );
      // the guide's `-t 2` with the refused port: the timeout ends it in both ("Timeout reached");
      // and a silent NTP server without -t: both give up after their iburst (~10 s)
      const timedRun = both((k) =>
        runCommand(BINARY[k], [
          "-Q",
          "-4",
          "-u",
          "root",
          "-t",
          "2",
          `pidfile ${servers[k].dir}/timed.pid`,
          `ntstrustedcerts ${cert}`,
          `server localhost port ${ports[k]} ntsport ${closed} iburst nts maxsamples 1`,
        ], { timeoutMs: 30_000 })
      );
      const silentRun = both((k) =>
        runCommand(BINARY[k], [
          "-Q",
          "-u",
          "root",
          `pidfile ${servers[k].dir}/silent.pid`,
          `server 127.0.0.1 port ${freePort()} iburst`,
        ], { timeoutMs: 30_000 })
      );
      // the client: server ... iburst nts, ntsdumpdir; chronyc -N authdata / -N sources
      const clients = await both((k) =>
        launch(k, [
          `server localhost port ${ports[k]} ntsport ${ke[k]} iburst nts minpoll 0 maxpoll 0`,
          `ntstrustedcerts ${cert}`,
          "ntsdumpdir DIR/lib/chrony",
        ], ["-4"])
      );
      const synced = await both((k) =>
        until(clients[k].socket, ["tracking"], (o) => /Leap status\s*: Normal/.test(o), 20_000)
      );
      for (const k of KINDS) {
        assert.match(synced[k], /Leap status\s*: Normal/, `${k}: ${synced[k]}`);
      }
      const auth = await cmd(clients, ["-N", "authdata"]);
      same("authdata header", { chronyd: head(auth.chronyd.out), horae: head(auth.horae.out) });
      // Name, Mode, KeyID (then Type, KLen, Last, Atmp, NAK, Cook, CLen). Type/KLen/CLen: the
      // guide's check is "not zero"; horae to horae negotiates AES-128-GCM-SIV (30, 128, CLen
      // 68) first, as chrony 4.8 does, chronyd 4.3 only knows 15 (256, 100)
      const authRow = (o: string) =>
        rows(o).map((r) => {
          const f = r.trim().split(/\s+/);
          return [...f.slice(0, 3), f[3] !== "0", f[4] !== "0", f[7], f[9] !== "0"];
        });
      same("authdata row (name, mode, keyid, type/klen set, NAK, CLen set)", {
        chronyd: authRow(auth.chronyd.out),
        horae: authRow(auth.horae.out),
      }, `\n${auth.chronyd.out}\n${auth.horae.out}`);
      for (const k of KINDS) {
        assert.deepEqual(authRow(auth[k].out)[0]?.slice(3), [true, true, "0", true], auth[k].out);
      }
      const src = await cmd(clients, ["-N", "sources"]);
      const cut = (row: string) => row.slice(0, 38).replace(/\s+/g, " ").trim();
      same("sources row", {
        chronyd: rows(src.chronyd.out).map(cut),
        horae: rows(src.horae.out).map(cut),
      });
      const nd = await cmd(clients, ["ntpdata"]);
      const nf = { chronyd: fields(nd.chronyd.out), horae: fields(nd.horae.out) };
      for (const key of ["Remote address", "Mode", "Stratum", "Authenticated", "Interleaved"]) {
        same(`ntpdata ${key}`, { chronyd: nf.chronyd.get(key), horae: nf.horae.get(key) });
      }
      for (const k of KINDS) {
        assert.equal(nf[k].get("Remote port"), String(ports[k]), nd[k].out);
      }
      // on the server: chronyc serverstats
      const ss = await cmd(servers, ["serverstats"]);
      const sf = { chronyd: fields(ss.chronyd.out), horae: fields(ss.horae.out) };
      // horae's chronyc prints chronyc 4.8's longer report (the timestamp counters after 4.3's 11)
      const n43 = [...sf.chronyd.keys()].length;
      same("serverstats layout", {
        chronyd: [...sf.chronyd.keys()],
        horae: [...sf.horae.keys()].slice(0, n43),
      });
      for (const k of KINDS) {
        assert.ok(Number(sf[k].get("NTS-KE connections accepted")) >= 2, `${k}: ${ss[k].out}`);
        assert.ok(Number(sf[k].get("Authenticated NTP packets")) >= 1, `${k}: ${ss[k].out}`);
        same("serverstats NTS-KE connections dropped", {
          chronyd: sf.chronyd.get("NTS-KE connections dropped"),
          horae: sf.horae.get("NTS-KE connections dropped"),
        });
      }
      const refused = await refusedRun;
      same("chronyd -Q (NTS-KE refused) exit code", {
        chronyd: refused.chronyd.code,
        horae: refused.horae.code,
      });
      same("chronyd -Q (NTS-KE refused) lines", {
        chronyd: oneshotLines(refused.chronyd.stdout + refused.chronyd.stderr),
        horae: oneshotLines(refused.horae.stdout + refused.horae.stderr),
      });
      const ended = { "-t 2": await timedRun, "silent server": await silentRun };
      for (const [what, r] of Object.entries(ended)) {
        same(`chronyd -Q (${what}) exit code`, { chronyd: r.chronyd.code, horae: r.horae.code });
        same(`chronyd -Q (${what}) lines`, {
          chronyd: oneshotLines(r.chronyd.stdout + r.chronyd.stderr),
          horae: oneshotLines(r.horae.stdout + r.horae.stderr),
        });
      }
      for (const [what, ds] of [["client", clients], ["server", servers]] as const) {
        same(`${what} log lines`, {
          chronyd: logLines(ds.chronyd.log()),
          horae: logLines(ds.horae.log()),
        });
      }
      // ntsdumpdir: what each keeps there (server keys; the client's cookies on exit)
      await Promise.all([clients.chronyd.stop(), clients.horae.stop()]);
      const kept = await both((k) =>
        Promise.resolve(
          [...Deno.readDirSync(`${servers[k].dir}/lib/chrony`)].map((e) => e.name).sort(),
        )
      );
      same("server ntsdumpdir", kept);
    } finally {
      await Deno.remove(certDir, { recursive: true }).catch(() => {});
    }
  },
);

guide(
  "guides: interleaved mode on loopback (xleave, minpoll 0 maxpoll 0, clientloglimit)",
  async (launch) => {
    const ports = { chronyd: freePort(), horae: freePort() };
    const servers = await both((k) =>
      launch(k, [
        `port ${ports[k]}`,
        "bindaddress 127.0.0.1",
        "local stratum 1",
        "allow 127.0.0.0/8",
        "hwtimestamp *",
        "clientloglimit 100000000",
      ])
    );
    const clients = await both((k) =>
      launch(k, [
        `server 127.0.0.1 port ${ports[k]} iburst minpoll 0 maxpoll 0 xleave`,
        "hwtimestamp *",
      ])
    );
    const nd = await both((k) =>
      until(
        clients[k].socket,
        ["ntpdata"],
        (o) => /Interleaved\s*: Yes/.test(o) && /Total good RX\s*: ([4-9]|\d\d)/.test(o),
        20_000,
      )
    );
    const nf = { chronyd: fields(nd.chronyd), horae: fields(nd.horae) };
    // horae's chronyc prints chronyc 4.8's ntpdata (the timestamp counters after 4.3's lines)
    same("ntpdata layout", {
      chronyd: [...nf.chronyd.keys()],
      horae: [...nf.horae.keys()].slice(0, nf.chronyd.size),
    });
    for (
      const key of [
        "Remote address",
        "Local address",
        "Leap status",
        "Version",
        "Mode",
        "Stratum",
        "Poll interval",
        "Reference ID",
        "NTP tests",
        "Interleaved",
        "Authenticated",
        "TX timestamping",
        "RX timestamping",
      ]
    ) {
      same(
        `ntpdata ${key}`,
        { chronyd: nf.chronyd.get(key), horae: nf.horae.get(key) },
        `\n${nd.chronyd}\n${nd.horae}`,
      );
    }
    for (const k of KINDS) assert.equal(nf[k].get("Remote port"), String(ports[k]));
    const ss = await cmd(clients, ["sourcestats"]);
    same("sourcestats header", { chronyd: head(ss.chronyd.out), horae: head(ss.horae.out) });
    same("sourcestats names", {
      chronyd: rows(ss.chronyd.out).map((r) => r.split(/\s+/)[0]),
      horae: rows(ss.horae.out).map((r) => r.split(/\s+/)[0]),
    });
    // the server's client log: an interleaved client shows in `clients`
    const cl = await cmd(servers, ["clients"]);
    const first = (o: string) => rows(o).map((r) => r.split(/\s+/)[0]);
    same("server clients", { chronyd: first(cl.chronyd.out), horae: first(cl.horae.out) });
    for (const [what, ds] of [["client", clients], ["server", servers]] as const) {
      same(`${what} log lines`, {
        chronyd: logLines(ds.chronyd.log()),
        horae: logLines(ds.horae.log()),
      });
    }
  },
);

guide("guides: isolated network: manual master (settime), client at stratum 9", async (launch) => {
  const ports = { chronyd: freePort(), horae: freePort() };
  // isolated-master.conf, adapted: loopback, its own port; no initstepslew (its servers would
  // be polled on port 123: tests/interop/manual_test.ts runs it in a network namespace)
  const masters = await both((k) =>
    launch(k, [
      "driftfile DIR/drift",
      "commandkey 1",
      "keyfile DIR/chrony.keys",
      "local stratum 8",
      "manual",
      "allow 127.0.0.0/8",
      `port ${ports[k]}`,
      "bindaddress 127.0.0.1",
    ])
  );
  // the guide: the master's time is given by hand (settime), drift file updated
  // (numbers and signs masked: the offsets follow the moment of each command)
  const masked = (r: Record<Kind, { code: number; out: string }>) => ({
    chronyd: [r.chronyd.code, r.chronyd.out.replace(/-?\d+/g, "9")],
    horae: [r.horae.code, r.horae.out.replace(/-?\d+/g, "9")],
  });
  for (const args of [["manual", "on"], ["settime", "now"]]) {
    same(`chronyc ${args.join(" ")}`, masked(await cmd(masters, args)));
  }
  // (one settime, as the administrator types it: two a second apart at whole seconds
  // give a wild frequency, logged by chronyd as exceeding the allowed maximum)
  const ml = await cmd(masters, ["manual", "list"]);
  same("manual list header", { chronyd: head(ml.chronyd.out), horae: head(ml.horae.out) });
  same("manual list rows", {
    chronyd: rows(ml.chronyd.out).length,
    horae: rows(ml.horae.out).length,
  }, `\n${ml.chronyd.out}\n${ml.horae.out}`);
  // chronyd takes the local reference back on its own timer after the manual update
  // (a second or so; Reference ID 0 meanwhile): compare the settled state of both.
  let mt = await cmd(masters, ["tracking"]);
  for (let i = 0; i < 40; i++) {
    const settled = ["chronyd", "horae"].every((k) =>
      /^Reference ID\s+: 7F7F0101/m.test(mt[k as Kind].out)
    );
    if (settled) break;
    await new Promise((r) => setTimeout(r, 250));
    mt = await cmd(masters, ["tracking"]);
  }
  const mf = { chronyd: fields(mt.chronyd.out), horae: fields(mt.horae.out) };
  for (const key of ["Reference ID", "Stratum", "Leap status"]) {
    same(
      `master tracking ${key}`,
      { chronyd: mf.chronyd.get(key), horae: mf.horae.get(key) },
      `\n${mt.chronyd.out}\n${mt.horae.out}`,
    );
  }
  // isolated-client.conf, adapted: the master on loopback, files in DIR
  const clients = await both((k) =>
    launch(k, [
      `server 127.0.0.1 port ${ports[k]} iburst minpoll -2 maxpoll -2`,
      "driftfile DIR/drift",
      "logdir DIR/log",
      "log measurements statistics tracking",
      "keyfile DIR/chrony.keys",
      "commandkey 24",
      "local stratum 10",
      "allow 127.0.0.2",
    ])
  );
  const ct = await both((k) =>
    // `local stratum 10` answers at once: wait for the master (refid 127.0.0.1)
    until(clients[k].socket, ["tracking"], (o) => /^Stratum\s*: 9$/m.test(o), 20_000)
  );
  const cf = { chronyd: fields(ct.chronyd), horae: fields(ct.horae) };
  for (const key of ["Reference ID", "Stratum", "Leap status"]) {
    same(
      `client tracking ${key}`,
      { chronyd: cf.chronyd.get(key), horae: cf.horae.get(key) },
      `\n${ct.chronyd}\n${ct.horae}`,
    );
  }
  assert.equal(cf.horae.get("Stratum"), "9");
  assert.match(cf.horae.get("Reference ID") ?? "", /^7F000001 /);
  // (digits masked: the slews follow the settime offsets)
  for (const [what, ds] of [["master", masters], ["client", clients]] as const) {
    same(`${what} log lines`, {
      chronyd: logLines(ds.chronyd.log()).map((l) => l.replace(/-?\d+/g, "9")),
      horae: logLines(ds.horae.log()).map((l) => l.replace(/-?\d+/g, "9")),
    });
  }
});

/** A daemon run in the foreground until it exits (a fatal start) or `ms` pass. */
async function runFor(kind: Kind, lines: string[], ms: number) {
  const dir = await Deno.makeTempDir({ prefix: `horae-guide-${kind}-` });
  await Deno.chmod(dir, 0o700);
  try {
    const conf = [
      ...lines.map((l) => l.replaceAll("DIR", dir)),
      "cmdport 0",
      "port 0",
      `bindcmdaddress ${dir}/chronyd.sock`,
      `pidfile ${dir}/chronyd.pid`,
    ];
    await Deno.writeTextFile(`${dir}/chronyd.conf`, conf.join("\n") + "\n");
    const r = await runCommand(BINARY[kind], [
      "-d",
      "-x",
      "-u",
      "root",
      "-f",
      `${dir}/chronyd.conf`,
    ], {
      timeoutMs: ms,
    });
    return { code: r.code, lines: logLines(r.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name: "guides: a refclock SOCK whose directory is missing stops both (Fatal error)",
  ignore: !enabled,
  async fn() {
    const r = await both((k) =>
      runFor(k, ["refclock SOCK DIR/missing/gps.sock refid GPS"], 10_000)
    );
    same("exit code and log", r);
    assert.equal(r.horae.code, 1);
    assert.ok(r.horae.lines.includes("Fatal error : Could not open socket DIR/missing/gps.sock"));
  },
});

guide(
  "guides: a missing ntsservercert is logged and NTS-KE still listens, its handshakes fail",
  async (launch) => {
    const ports = { chronyd: freePort(), horae: freePort() };
    const ke = { chronyd: freePort(), horae: freePort() };
    const servers = await both((k) =>
      launch(k, [
        `port ${ports[k]}`,
        `ntsport ${ke[k]}`,
        "bindaddress 127.0.0.1",
        "local stratum 1",
        "allow 127.0.0.0/8",
        "ntsserverkey DIR/missing.key",
        "ntsservercert DIR/missing.crt",
      ])
    );
    // what a client gets: the real chronyd -Q against each (the TLS handshake fails)
    const q = await both((k) =>
      runCommand("/usr/sbin/chronyd", [
        "-Q",
        "-4",
        "-u",
        "root",
        "-t",
        "3",
        `pidfile ${servers[k].dir}/oneshot.pid`,
        `server 127.0.0.1 port ${ports[k]} ntsport ${ke[k]} iburst nts maxsamples 1`,
      ], { timeoutMs: 20_000 })
    );
    same("client exit code", { chronyd: q.chronyd.code, horae: q.horae.code });
    // (the reason after "failed :" follows a race in chronyd: the connection is closed as the
    // client's hello arrives, so "non-properly terminated" or "Error in the pull function")
    const reason = (l: string) => l.replace(/ failed : .*$/, " failed : X");
    same("client lines", {
      chronyd: oneshotLines(q.chronyd.stderr).map((l) =>
        reason(l.replace(`:${ke.chronyd} `, ":KE "))
      ),
      horae: oneshotLines(q.horae.stderr).map((l) => reason(l.replace(`:${ke.horae} `, ":KE "))),
    });
    assert.ok(
      oneshotLines(q.horae.stderr).some((l) => /^TLS handshake with .* failed/.test(l)),
      q.horae.stderr,
    );
    // and each one's own client (horae's logs the failed handshake in chronyd's words)
    const own = await both((k) =>
      runCommand(BINARY[k], [
        "-Q",
        "-4",
        "-u",
        "root",
        "-t",
        "3",
        `pidfile ${servers[k].dir}/own.pid`,
        `server 127.0.0.1 port ${ports[k]} ntsport ${ke[k]} iburst nts maxsamples 1`,
      ], { timeoutMs: 20_000 })
    );
    same("own client lines", {
      chronyd: oneshotLines(own.chronyd.stderr).map((l) =>
        reason(l.replace(`:${ke.chronyd} `, ":KE "))
      ),
      horae: oneshotLines(own.horae.stderr).map((l) => reason(l.replace(`:${ke.horae} `, ":KE "))),
    });
    // sorted: chronyd's NTS-KE helper process logs its line beside the main process's
    same("server log lines (sorted)", {
      chronyd: logLines(servers.chronyd.log()).sort(),
      horae: logLines(servers.horae.log()).sort(),
    });
    assert.ok(
      logLines(servers.horae.log()).includes(
        "Could not set credentials : Error while reading file.",
      ),
    );
  },
);

guide(
  "guides: a frequency beyond maxdrift is logged as exceeding the allowed maximum",
  async (launch) => {
    const d = await both((k) => launch(k, ["manual"]));
    const r = await cmd(d, ["dfreq", "600000"]);
    same("dfreq", r);
    same("log lines", { chronyd: logLines(d.chronyd.log()), horae: logLines(d.horae.log()) });
    assert.ok(
      logLines(d.horae.log()).includes("Frequency 600000.0 ppm exceeds allowed maximum"),
      d.horae.log(),
    );
  },
);
