/**
 * cmdmon interop with Debian's chrony 4.3: horae's chronyc against the real
 * chronyd (Unix socket and UDP) prints the real chronyc's layout (digits
 * masked, since values change between calls), and the real chronyc against
 * horae's handlers (FakeBackend over lib/io/cmdmon_server.ts) gets valid
 * replies for every report command.
 * @module
 */
import assert from "node:assert/strict";
import { runChronyc } from "../../lib/cmdmon/chronyc.ts";
import { chronycIo } from "../../lib/io/cmdmon_client.ts";
import { startCmdmonServer } from "../../lib/io/cmdmon_server.ts";
import { FakeBackend } from "../cmdmon/fake_backend.ts";

const have = await Deno.stat("/usr/sbin/chronyd").then(() => true, () => false) &&
  await Deno.stat("/usr/bin/chronyc").then(() => true, () => false);
if (!have && Deno.env.get("CI")) throw new Error("chronyd/chronyc missing and CI is set");
if (!have) console.log("skipping cmdmon interop: chronyd/chronyc not installed");

async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  return new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
}

async function horae(args: string[]): Promise<string> {
  let text = "";
  const io = {
    ...chronycIo(),
    stdout: (t: string) => (text += t),
    stderr: (t: string) => (text += t),
  };
  await runChronyc(args, io);
  return text;
}

/** Values change between calls: mask digits, signs and fast/slow, keep layout and labels. */
const mask = (s: string) =>
  s.replace(/[0-9]/g, "9").replace(/[+-](?=9)/g, "±").replace(/ (?=9+ns|9+us)/g, " ").replace(
    /fast|slow/g,
    "fast",
  );

/** Starts a reference server and a client chronyd of it (both -x); returns dir, ports, pids. */
async function startChronyd() {
  const dir = await Deno.makeTempDir({ prefix: "horae-cmdmon-" });
  await Deno.chmod(dir, 0o700);
  const base = 20000 + Math.floor(Math.random() * 20000);
  const ntpPort = base;
  const cmdPort = base + 1;
  const server =
    `port ${ntpPort}\nbindaddress 127.0.0.1\ncmdport 0\nbindcmdaddress ${dir}/s.sock\n` +
    `pidfile ${dir}/s.pid\nlocal stratum 1\nallow 127.0.0.0/8\n`;
  const client = `server 127.0.0.1 port ${ntpPort} iburst minpoll 0 maxpoll 0\nport 0\n` +
    `cmdport ${cmdPort}\nbindcmdaddress 127.0.0.1\nbindcmdaddress ${dir}/chronyd.sock\n` +
    `pidfile ${dir}/c.pid\n`;
  await Deno.writeTextFile(`${dir}/s.conf`, server);
  await Deno.writeTextFile(`${dir}/c.conf`, client);
  await run("/usr/sbin/chronyd", ["-x", "-u", "root", "-f", `${dir}/s.conf`, "-l", `${dir}/s.log`]);
  await run("/usr/sbin/chronyd", ["-x", "-u", "root", "-f", `${dir}/c.conf`, "-l", `${dir}/c.log`]);
  const pids: number[] = [];
  for (const f of ["s.pid", "c.pid"]) {
    for (let i = 0; i < 50; i++) {
      const t = await Deno.readTextFile(`${dir}/${f}`).catch(() => "");
      if (t.trim()) {
        pids.push(Number(t.trim()));
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  // wait until the client has selected its source
  for (let i = 0; i < 60; i++) {
    if (
      (await run("/usr/bin/chronyc", ["-h", `${dir}/chronyd.sock`, "-n", "sources"])).includes("^*")
    ) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    dir,
    cmdPort,
    async stop() {
      for (const pid of pids) {
        try {
          Deno.kill(pid, "SIGTERM");
        } catch { /* already gone */ }
      }
      await new Promise((r) => setTimeout(r, 200));
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

Deno.test({
  name: "horae chronyc prints the real chronyc's layout against the real chronyd",
  ignore: !have,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const d = await startChronyd();
    try {
      const sock = ["-h", `${d.dir}/chronyd.sock`, "-n"];
      const reports = [
        ["tracking"],
        ["sources", "-v"],
        ["sourcestats", "-v"],
        ["activity"],
        ["serverstats"],
        ["clients"],
        ["ntpdata"],
        ["authdata"],
        ["selectdata", "-v"],
      ];
      for (const r of [...reports, ["-c", "sources"], ["-c", "tracking"]]) {
        const args = r[0] === "-c" ? [...sock, ...r] : [...sock, ...r];
        const mine = mask(await horae(args));
        const theirs = mask(await run("/usr/bin/chronyc", args));
        assert.equal(mine, theirs, r.join(" "));
      }
      // UDP: monitoring commands answer, others are refused like chronyd does
      const udp = ["-h", "127.0.0.1", "-p", String(d.cmdPort), "-n"];
      for (const r of [["tracking"], ["sources"], ["serverstats"]]) {
        assert.equal(
          mask(await horae([...udp, ...r])),
          mask(await run("/usr/bin/chronyc", [...udp, ...r])),
          `udp ${r.join(" ")}`,
        );
      }
    } finally {
      await d.stop();
    }
  },
});

Deno.test({
  name: "the real chronyc gets valid replies from horae's cmdmon server for every report",
  ignore: !have,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "horae-cmdsrv-" });
    await Deno.chmod(dir, 0o700);
    const port = 20000 + Math.floor(Math.random() * 20000);
    const server = await startCmdmonServer(new FakeBackend(), {
      socketPath: `${dir}/chronyd.sock`,
      port,
      addresses: ["127.0.0.1"],
    });
    try {
      const sock = ["-h", `${dir}/chronyd.sock`, "-n"];
      for (
        const r of [
          "tracking",
          "sources -v",
          "sourcestats -v",
          "activity",
          "serverstats",
          "clients",
          "ntpdata",
          "authdata",
          "selectdata -v",
          "sources -N",
          "-c sources",
        ]
      ) {
        const out = await run("/usr/bin/chronyc", [...sock, ...r.split(" ")]);
        assert.doesNotMatch(out, /Invalid|Bad|Cannot talk|\b5[0-9]{2} [A-Z]/, `${r}: ${out}`);
        assert.ok(out.trim().length > 0, r);
        // horae's chronyc prints the same thing from the same server (serverstats aside:
        // horae's longer request gets the newer SERVER_STATS4 layout with six more lines)
        if (r !== "serverstats") assert.equal(await horae([...sock, ...r.split(" ")]), out, r);
      }
      const dump = await run("/usr/bin/chronyc", [...sock, "dump"]);
      assert.match(dump, /200 OK/);
      const udp = await run("/usr/bin/chronyc", ["-h", "127.0.0.1", "-p", String(port), "dump"]);
      assert.match(udp, /501 Not authorised/);
      const tr = await run("/usr/bin/chronyc", [
        "-h",
        "127.0.0.1",
        "-p",
        String(port),
        "-n",
        "tracking",
      ]);
      assert.ok(tr.includes("Reference ID    : C0000201 (192.0.2.1)"), tr);
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
