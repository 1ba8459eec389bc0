/**
 * Files, directories and start-up checks beside the real chronyd 4.3: each
 * case runs the real chronyd and horae's daemon (both `-d -x`) on the same
 * configuration in private directories and compares what they create,
 * write and log.
 */
import assert from "node:assert/strict";
import { freePort, haveChrony, makeCert, ROOT, runCommand, startChronyd } from "./harness.ts";

const enabled = haveChrony();

type Who = "chronyd" | "horae";
const WHO: Who[] = ["chronyd", "horae"];

interface Run {
  code: number;
  /** stderr, one entry per line, without the time stamps. */
  lines: string[];
}

async function privateDir(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  await Deno.chmod(dir, 0o700);
  return dir;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs one daemon in the foreground on `lines` (plus its own pidfile and
 * command socket in `dir`) until `until()` holds or it exits by itself, at
 * most `seconds`; then SIGTERM (SIGKILL after 5 s). `until` null: wait for
 * the process to exit by itself.
 */
async function runDaemon(
  who: Who,
  dir: string,
  lines: string[],
  until: (() => Promise<boolean>) | null,
  seconds = 20,
  user = "root",
): Promise<Run> {
  const conf = [
    ...lines,
    `pidfile ${dir}/pid`,
    `bindcmdaddress ${dir}/sock`,
    "cmdport 0",
    ...(lines.some((l) => l.startsWith("port ")) ? [] : ["port 0"]),
  ];
  await Deno.writeTextFile(`${dir}/chrony.conf`, conf.join("\n") + "\n");
  const [cmd, args] = who === "chronyd"
    ? ["/usr/sbin/chronyd", ["-x", "-u", user, "-d", "-f", `${dir}/chrony.conf`]]
    : [`${ROOT}/bin/chronyd`, ["-x", "-d", "-f", `${dir}/chrony.conf`, "-u", user]];
  const child = new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).spawn();
  const output = child.output();
  let exited = false;
  output.finally(() => exited = true);
  const end = performance.now() + seconds * 1000;
  while (!exited && performance.now() < end) {
    if (until !== null && await until()) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const kill = (sig: Deno.Signal) => {
    try {
      child.kill(sig);
    } catch { /* gone */ }
  };
  if (!exited) kill("SIGTERM");
  const timer = setTimeout(() => kill("SIGKILL"), 5000);
  const o = await output;
  clearTimeout(timer);
  const text = new TextDecoder().decode(o.stderr);
  return {
    code: o.code,
    lines: text.split("\n").filter((l) => l !== "").map((l) => l.replace(/^\S+Z /, "")),
  };
}

/** The daemon of `dir` answers on its command socket (fully started, signals handled). */
async function answers(dir: string): Promise<boolean> {
  const r = await runCommand("/usr/bin/chronyc", ["-n", "-h", `${dir}/sock`, "tracking"], {
    timeoutMs: 3000,
  });
  return r.code === 0;
}

function mode(path: string): number {
  return (Deno.statSync(path).mode ?? 0) & 0o7777;
}

Deno.test({
  name: "files: allow 10.0.0.0/99 stops both daemons at start-up with Bad subnet",
  ignore: !enabled,
  async fn() {
    for (const who of WHO) {
      const dir = await privateDir("horae-files-");
      try {
        const r = await runDaemon(who, dir, [
          `port ${freePort()}`,
          "bindaddress 127.0.0.1",
          "allow 10/99",
        ], null);
        assert.equal(r.code, 1, `${who}: ${r.lines.join("\n")}`);
        assert.ok(
          r.lines.includes("Fatal error : Bad subnet in 10.0.0.0/99"),
          `${who}: ${r.lines.join("\n")}`,
        );
        // The one-shot mode refuses it too.
        const q = await runCommand(
          who === "chronyd" ? "/usr/sbin/chronyd" : `${ROOT}/bin/chronyd`,
          ["-Q", "-t", "1", "-u", "root", "-f", `${dir}/chrony.conf`],
          { timeoutMs: 10_000 },
        );
        assert.equal(q.code, 1, `${who} -Q: ${q.stderr}`);
        assert.match(q.stderr, /Fatal error : Bad subnet in 10\.0\.0\.0\/99/, `${who} -Q`);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  },
});

Deno.test({
  name:
    "files: missing nested logdir/dumpdir/ntsdumpdir are created as chronyd creates them, and log measurements writes the file",
  ignore: !enabled,
  async fn() {
    const server = await startChronyd({ port: freePort() });
    const modes: Record<string, string[]> = {};
    try {
      for (const who of WHO) {
        const dir = await privateDir("horae-files-");
        try {
          const log = `${dir}/l/a/b/measurements.log`;
          const r = await runDaemon(who, dir, [
            `server 127.0.0.1 port ${server.port} iburst minpoll 0 maxpoll 0`,
            `logdir ${dir}/l/a/b`,
            `dumpdir ${dir}/dump/x`,
            `ntsdumpdir ${dir}/nts/y`,
            "log measurements",
            `driftfile ${dir}/drift`,
          ], async () => {
            try {
              return (await Deno.readTextFile(log)).split("\n").some((l) => /^\d{4}-/.test(l));
            } catch {
              return false;
            }
          });
          const text = await Deno.readTextFile(log).catch(() => "");
          assert.match(
            text,
            /^\d{4}-\d\d-\d\d \S+ 127\.0\.0\.1 /m,
            `${who}: ${r.lines.join("\n")}`,
          );
          modes[who] = ["l", "l/a", "l/a/b", "dump", "dump/x", "nts", "nts/y"].map((p) =>
            `${p} ${mode(`${dir}/${p}`).toString(8)}`
          );
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      }
    } finally {
      await server.stop();
    }
    assert.deepEqual(modes.horae, modes.chronyd);
  },
});

Deno.test({
  name:
    "files: with -u, a created directory (not its parents) is given to the user, as chronyd does",
  ignore: !enabled || Deno.uid() !== 0,
  async fn() {
    const owners: Record<string, string[]> = {};
    for (const who of WHO) {
      const dir = await Deno.makeTempDir({ prefix: "horae-files-" });
      await Deno.chmod(dir, 0o755); // the user must reach it
      try {
        const leaf = `${dir}/l/a/b`;
        const r = await runDaemon(
          who,
          dir,
          [
            `logdir ${leaf}`,
            `ntsdumpdir ${dir}/nts/y`,
          ],
          () => exists(`${dir}/nts/y`),
          20,
          "nobody",
        );
        owners[who] = ["l", "l/a", "l/a/b", "nts", "nts/y"].map((p) => {
          const st = Deno.statSync(`${dir}/${p}`);
          return `${p} ${st.uid}:${st.gid} ${((st.mode ?? 0) & 0o7777).toString(8)}`;
        });
        assert.equal(owners[who]!.length, 5, `${who}: ${r.lines.join("\n")}`);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
    assert.deepEqual(owners.horae, owners.chronyd);
    assert.match(owners.horae![2]!, /^l\/a\/b 65534:/);
  },
});

Deno.test({
  name: "files: logdir pointing at a file is reported as chronyd reports it",
  ignore: !enabled,
  async fn() {
    const server = await startChronyd({ port: freePort() });
    try {
      for (const who of WHO) {
        const dir = await privateDir("horae-files-");
        try {
          await Deno.writeTextFile(`${dir}/afile`, "");
          // Until the first measurement has been made (and its log line tried).
          let reached = 0;
          const measured = async () => {
            const r = await runCommand("/usr/bin/chronyc", ["-n", "-h", `${dir}/sock`, "sources"], {
              timeoutMs: 3000,
            });
            const m = r.stdout.match(/^\^. 127\.0\.0\.1\s+\d+\s+\d+\s+(\d+)/m);
            if (m && m[1] !== "0") reached++;
            return reached > 2;
          };
          const r = await runDaemon(who, dir, [
            `server 127.0.0.1 port ${server.port} iburst minpoll 0 maxpoll 0`,
            `logdir ${dir}/afile`,
            "log measurements",
          ], measured);
          const all = r.lines.join("\n");
          assert.ok(r.lines.includes(`${dir}/afile is not directory`), `${who}: ${all}`);
          const open = `Could not open ${dir}/afile/measurements.log : Not a directory`;
          assert.equal(r.lines.filter((l) => l === open).length, 1, `${who}: ${all}`);
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      }
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name: "files: a restarted NTS server with a missing ntsdumpdir keeps its keys (ntskeys written)",
  ignore: !enabled,
  async fn() {
    for (const who of WHO) {
      const dir = await privateDir("horae-files-");
      try {
        const { cert, key } = await makeCert(dir);
        const keys = `${dir}/nts/keys/ntskeys`;
        const lines = [
          `port ${freePort()}`,
          "bindaddress 127.0.0.1",
          "allow 127.0.0.1",
          "local stratum 1",
          `ntsport ${freePort()}`,
          `ntsservercert ${cert}`,
          `ntsserverkey ${key}`,
          `ntsdumpdir ${dir}/nts/keys`,
        ];
        const first = await runDaemon(who, dir, lines, () => exists(keys));
        assert.ok(await exists(keys), `${who}: ${first.lines.join("\n")}`);
        // The keys: the long hexadecimal words (chronyd's file also holds its age).
        const keyWords = async () =>
          (await Deno.readTextFile(keys)).match(/\b[0-9A-Fa-f]{32,}\b/g)?.sort() ?? [];
        const before = await keyWords();
        assert.ok(before.length > 0, `${who}: no key in ntskeys`);
        // Running again: the keys are read back, not replaced.
        const second = await runDaemon(who, dir, lines, () => answers(dir));
        assert.deepEqual(await keyWords(), before, `${who}: ${second.lines.join("\n")}`);
        assert.equal(mode(keys), 0o600);
        if (who === "horae") {
          // A 10 MB line in the key file, the fourth key's (lines after it are not
          // read, as chronyd): logged cut and escaped, not whole.
          const text = (await Deno.readTextFile(keys)).split("\n");
          text[5] = "k\u001b".repeat(5 * 1024 * 1024);
          await Deno.writeTextFile(keys, text.join("\n"));
          const third = await runDaemon(who, dir, lines, () => answers(dir));
          const longest = Math.max(...third.lines.map((l) => l.length));
          assert.ok(longest < 4096, `a log line of ${longest} characters`);
          assert.ok(!third.lines.some((l) => l.includes("\u001b")), "a raw control character");
          assert.ok(third.lines.some((l) => l.includes("k\\x1bk")), "the bad line is not logged");
        }
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
  },
});

// Each was run through chronyd 4.3 by hand first; the test keeps checking it.
const DRIFTFILES = [
  "garbage\n",
  "1e9 1\n",
  "-12.5 0.3 extra\n",
  "5 nan\n",
  "5 -nan\n",
  "-nan 1\n",
  "12.5 -1\n",
  "1,5 2\n",
  "\xef\xbb\xbf1 2\n",
  "\n 0x10 1e\n",
  null, // no driftfile
];

Deno.test({
  name:
    "files: a corrupt driftfile is logged and rewritten at exit as chronyd 4.3 does; stale temporary files go",
  ignore: !enabled,
  async fn() {
    const results = await Promise.all(DRIFTFILES.map(async (content) => {
      const out: Record<Who, string> = { chronyd: "", horae: "" };
      for (const who of WHO) {
        const dir = await privateDir("horae-files-");
        try {
          const drift = `${dir}/drift`;
          if (content !== null) {
            await Deno.writeFile(drift, Uint8Array.from(content, (c) => c.charCodeAt(0)));
          }
          // Left by a writer killed before its rename (the PID-named one by older horae).
          if (who === "horae") {
            await Deno.writeTextFile(`${drift}.tmp`, "stale");
            await Deno.writeTextFile(`${drift}.tmp4242`, "stale");
          }
          const r = await runDaemon(who, dir, [`driftfile ${drift}`], () => answers(dir));
          const said = r.lines.filter((l) => /Frequency|driftfile/.test(l))
            .map((l) => l.replaceAll(dir, "DIR"));
          const written = await Deno.readTextFile(drift).catch((e) => `${e}`);
          out[who] = [...said, `wrote [${written}]`].join("\n");
          if (who === "horae") {
            const left = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) =>
              n.includes(".tmp")
            );
            assert.deepEqual(left, [], "stale temporary files");
          }
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      }
      return { content, ...out };
    }));
    for (const r of results) {
      assert.equal(r.horae, r.chronyd, `driftfile ${JSON.stringify(r.content)}`);
    }
  },
});

Deno.test({
  name: "files: chronyd -p of an empty configuration or of a directory prints nothing",
  ignore: !enabled,
  async fn() {
    const dir = await privateDir("horae-files-");
    try {
      for (const path of ["/dev/null", dir]) {
        for (const cmd of ["/usr/sbin/chronyd", `${ROOT}/bin/chronyd`]) {
          const r = await runCommand(cmd, ["-p", "-f", path]);
          assert.deepEqual([r.code, r.stdout], [0, ""], `${cmd} -p -f ${path}: ${r.stderr}`);
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "files: a sourcedir file is read up to its first NUL or over-long line, as chronyd 4.3 reads it",
  ignore: !enabled,
  async fn() {
    const seen: Record<string, string[]> = {};
    for (const who of WHO) {
      const dir = await privateDir("horae-files-");
      try {
        await Deno.mkdir(`${dir}/sources`);
        const port = freePort(); // nothing answers: only the list of sources matters
        const src = (n: number) => `server 127.0.0.${n} port ${port}`;
        const files: Record<string, string> = {
          "a.sources": `${src(1)}\n${src(2)}\0\n${src(3)}\n`,
          "b.sources": `${src(4)}\n${src(5)}${" iburst".repeat(400)}\n${src(6)}\n`,
          "c.sources": `${src(7)}\nfoo\n${src(8)}\n`,
        };
        for (const [name, text] of Object.entries(files)) {
          await Deno.writeTextFile(`${dir}/sources/${name}`, text);
        }
        let listed: string[] = [];
        await runDaemon(who, dir, [`sourcedir ${dir}/sources`], async () => {
          const r = await runCommand("/usr/bin/chronyc", ["-n", "-h", `${dir}/sock`, "sources"], {
            timeoutMs: 3000,
          });
          if (r.code !== 0) return false;
          listed = [...r.stdout.matchAll(/^\^. (127\.0\.0\.\d+)/gm)].map((m) => m[1]!).sort();
          return true;
        });
        seen[who] = listed;
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
    assert.deepEqual(seen.chronyd, ["127.0.0.1", "127.0.0.4", "127.0.0.7", "127.0.0.8"]);
    assert.deepEqual(seen.horae, seen.chronyd);
  },
});

Deno.test({
  name: "files: tracking.log starts with chronyd's unsynchronised entry (driftfile values or none)",
  ignore: !enabled,
  async fn() {
    for (const drift of ["-12.5 0.3\n", null]) {
      const entries: Record<string, string> = {};
      for (const who of WHO) {
        const dir = await privateDir("horae-files-");
        try {
          if (drift !== null) await Deno.writeTextFile(`${dir}/drift`, drift);
          const r = await runDaemon(who, dir, [
            `driftfile ${dir}/drift`,
            `logdir ${dir}/log`,
            "log tracking",
          ], () => answers(dir));
          const text = await Deno.readTextFile(`${dir}/log/tracking.log`).catch(() => "");
          const first = text.split("\n").find((l) => /^\d{4}-/.test(l)) ?? "";
          // Date, time and the remaining correction (a few 1e-11 s of slewing) left out.
          entries[who] = first.trim().split(/\s+/).filter((_, i) => i > 1 && i !== 10).join(" ");
          assert.notEqual(entries[who], "", `${who}: ${r.lines.join("\n")}`);
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      }
      assert.equal(entries.horae, entries.chronyd, `driftfile ${JSON.stringify(drift)}`);
    }
  },
});

Deno.test({
  name: "files: chronyd -Q creates the missing directories too",
  ignore: !enabled,
  async fn() {
    const made: Record<string, string[]> = {};
    for (const who of WHO) {
      const dir = await privateDir("horae-files-");
      try {
        await Deno.writeTextFile(
          `${dir}/chrony.conf`,
          [
            `bindcmdaddress ${dir}/s/sock`,
            `logdir ${dir}/l/x`,
            `dumpdir ${dir}/d`,
            `ntsdumpdir ${dir}/n`,
            `server 127.0.0.1 port ${freePort()}`,
          ].join("\n") + "\n",
        );
        await runCommand(
          who === "chronyd" ? "/usr/sbin/chronyd" : `${ROOT}/bin/chronyd`,
          ["-Q", "-t", "1", "-u", "root", "-f", `${dir}/chrony.conf`],
          { timeoutMs: 10_000 },
        );
        made[who] = ["s", "l", "l/x", "d", "n"].filter((p) => {
          try {
            return Deno.statSync(`${dir}/${p}`).isDirectory;
          } catch {
            return false;
          }
        });
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
    assert.deepEqual(made.chronyd, ["s", "l", "l/x", "d", "n"]);
    assert.deepEqual(made.horae, made.chronyd);
  },
});
