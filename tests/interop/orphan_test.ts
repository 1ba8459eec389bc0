/**
 * Orphan mode among three horae daemons on loopback (chrony.conf(5)
 * `local stratum 10 orphan`): each serves NTP on its own address
 * 127.0.0.11/12/13 (`bindaddress`, so the reference IDs differ) and polls
 * the other two. The one with the smallest reference ID (127.0.0.11) keeps
 * its local reference, the others synchronise to it at stratum 11; when it
 * is stopped, 127.0.0.12 takes over. Observed with the real chronyc.
 *
 * The local reference activates after the sources are lost only when the
 * root distance reaches `distance`; `maxclockerror 1000` (ppm) makes the
 * distance grow by 1 ms/s so the take-over happens within seconds.
 */
import assert from "node:assert/strict";
import { freePort, haveChrony, ROOT, runCommand } from "./harness.ts";

const enabled = haveChrony();
const HOSTS = [11, 12, 13] as const;

interface Node {
  host: number;
  dir: string;
  child: Deno.ChildProcess;
  pid: number;
  /** Its stderr once stopped. */
  stopped: Promise<string> | null;
}

/** A port free on all three addresses. */
function commonPort(): number {
  for (let i = 0; i < 50; i++) {
    const port = freePort();
    try {
      for (const h of HOSTS) {
        Deno.listenDatagram({ transport: "udp", hostname: `127.0.0.${h}`, port }).close();
      }
      return port;
    } catch { /* taken on one of them: try another */ }
  }
  throw new Error("no common free port");
}

async function startNode(host: number, port: number): Promise<Node> {
  const dir = await Deno.makeTempDir({ prefix: `horae-orphan-${host}-` });
  await Deno.chmod(dir, 0o700);
  const lines = [
    `port ${port}`,
    `bindaddress 127.0.0.${host}`,
    "cmdport 0",
    `bindcmdaddress ${dir}/chronyd.sock`,
    `pidfile ${dir}/chronyd.pid`,
    "local stratum 10 orphan distance 0.01",
    "maxclockerror 1000",
    "allow all",
    ...HOSTS.filter((h) => h !== host).map((h) =>
      `server 127.0.0.${h} port ${port} iburst minpoll 0 maxpoll 1`
    ),
  ];
  await Deno.writeTextFile(`${dir}/chronyd.conf`, lines.join("\n") + "\n");
  const child = new Deno.Command(`${ROOT}/bin/chronyd`, {
    args: ["-4", "-d", "-x", "-f", `${dir}/chronyd.conf`],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  return { host, dir, child, pid: child.pid, stopped: null };
}

/** Stops a node by its PID (SIGKILL after 5 s); resolves with its stderr. */
function stopNode(n: Node): Promise<string> {
  n.stopped ??= (async () => {
    try {
      Deno.kill(n.pid, "SIGTERM");
    } catch { /* gone */ }
    const timer = setTimeout(() => {
      try {
        Deno.kill(n.pid, "SIGKILL");
      } catch { /* gone */ }
    }, 5000);
    const out = await n.child.output();
    clearTimeout(timer);
    await Deno.remove(n.dir, { recursive: true }).catch(() => {});
    return new TextDecoder().decode(out.stderr);
  })();
  return n.stopped;
}

/** `chronyc -c tracking` of a node: reference ID (hex), stratum; null if no answer. */
async function tracking(n: Node): Promise<{ refId: string; stratum: number } | null> {
  const r = await runCommand(
    "/usr/bin/chronyc",
    ["-n", "-h", `${n.dir}/chronyd.sock`, "-c", "tracking"],
    {
      timeoutMs: 5000,
    },
  );
  if (r.code !== 0) return null;
  const f = r.stdout.trim().split(",");
  return { refId: f[0]!, stratum: Number(f[2]) };
}

/** Hex reference ID of 127.0.0.h. */
function refIdOf(host: number): string {
  return (0x7f000000 + host).toString(16).toUpperCase();
}

const LOCAL = "7F7F0101";

/** Waits until `nodes` show `leader` with its local reference and the rest synchronised to it. */
async function waitForLeader(nodes: Node[], leader: number, seconds: number): Promise<string> {
  const end = performance.now() + seconds * 1000;
  let last = "";
  while (performance.now() < end) {
    const states = await Promise.all(nodes.map(tracking));
    last = JSON.stringify(nodes.map((n, i) => [n.host, states[i]]));
    const ok = nodes.every((n, i) => {
      const t = states[i];
      if (!t) return false;
      return n.host === leader
        ? t.refId === LOCAL && t.stratum === 10
        : t.refId === refIdOf(leader) && t.stratum === 11;
    });
    if (ok) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`no agreement on 127.0.0.${leader} within ${seconds} s: ${last}`);
}

Deno.test({
  name: "orphan: three horae daemons agree on the smallest reference ID; the next takes over",
  ignore: !enabled,
  async fn() {
    const port = commonPort();
    const nodes = await Promise.all(HOSTS.map((h) => startNode(h, port)));
    try {
      await waitForLeader(nodes, 11, 25);
      // A follower's sources: the leader selected, the other follower O (`?` in sources).
      const sock = `${nodes[2]!.dir}/chronyd.sock`;
      let shown = "";
      const end = performance.now() + 10_000;
      for (;;) {
        const r = await runCommand("/usr/bin/chronyc", ["-h", sock, "-n", "-c", "sources"]);
        const rows = r.stdout.trim().split("\n").map((l) => l.split(","));
        const mark = (addr: string) => rows.find((f) => f[2] === addr)?.[1];
        // `?` is also what a source without samples yet shows (M): wait for O itself.
        const sd = await runCommand("/usr/bin/chronyc", ["-h", sock, "-n", "selectdata"]);
        shown = r.stdout + sd.stdout;
        if (
          mark("127.0.0.11") === "*" && mark("127.0.0.12") === "?" &&
          /^O 127\.0\.0\.12 /m.test(sd.stdout)
        ) break;
        assert.ok(performance.now() < end, `follower sources: ${shown}`);
        await new Promise((r) => setTimeout(r, 500));
      }

      await stopNode(nodes[0]!);
      await waitForLeader(nodes.slice(1), 12, 30);
    } finally {
      await Promise.all(nodes.map(stopNode));
    }
  },
});
