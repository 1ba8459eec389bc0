/**
 * Issue 16 items 12 and 13, each beside the real chrony 4.3 on loopback:
 * zero values' slow/fast words, `makestep` under `-x`, `clients` Int/IntL,
 * `serverstats` layouts, one-shot `-Q` messages, no "Can't synchronise" at
 * start-up, the interactive banner's layout, and what `tracking` says under
 * `-x` when the server's clock is 5 ms ahead (a small fake NTP server here).
 */
import assert from "node:assert/strict";
import {
  type CommandResult,
  fakeServer,
  freePort,
  haveChrony,
  ROOT,
  runCommand,
  startChronyd,
  startHorae,
} from "./harness.ts";

const enabled = haveChrony();
const CHRONYC = "/usr/bin/chronyc";
const HORAEC = `${ROOT}/bin/chronyc`;

function chronyc(bin: string, socket: string, cmd: string): Promise<CommandResult> {
  return runCommand(bin, ["-h", socket, "-n", ...cmd.split(" ")], { timeoutMs: 15_000 });
}

async function until<T>(what: string, seconds: number, probe: () => Promise<T | null>) {
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const v = await probe().catch(() => null);
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test({
  name: "fidelity: zero tracking values print fast/slow as chronyc does; makestep fails under -x",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ref = await startChronyd();
    const horae = await startHorae([]);
    try {
      // horae's chronyc prints what chronyc prints for the same (all-zero) report
      const theirs = await chronyc(CHRONYC, ref.socket, "tracking");
      const mine = await chronyc(HORAEC, ref.socket, "tracking");
      assert.match(theirs.stdout, /^System time +: 0\.000000000 seconds fast of NTP time$/m);
      assert.equal(mine.stdout, theirs.stdout);
      const ours = await chronyc(HORAEC, horae.socket, "tracking");
      for (const label of ["System time", "Frequency"]) {
        const line = (s: string) => s.split("\n").find((l) => l.startsWith(label));
        assert.equal(line(ours.stdout), line(theirs.stdout), label);
      }
      // chronyd -x cannot step the clock: "500 Failure", exit code 1, from both
      const a = await chronyc(CHRONYC, ref.socket, "makestep");
      const b = await chronyc(CHRONYC, horae.socket, "makestep");
      assert.equal(a.stdout.trim(), "500 Failure");
      assert.deepEqual([b.code, b.stdout.trim()], [a.code, a.stdout.trim()]);
    } finally {
      await horae.stop();
      await ref.stop();
    }
  },
});

/** Sends a client request from `source` to each server, then one more after each gap (ms). */
async function probe(source: string, servers: number[], gapsMs: number[]): Promise<void> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: source, port: 0 });
  try {
    const req = new Uint8Array(48);
    req[0] = 0x23; // version 4, client
    for (let i = 0; i <= gapsMs.length; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, gapsMs[i - 1]));
      crypto.getRandomValues(req.subarray(40, 48));
      for (const port of servers) {
        await sock.send(req, { transport: "udp", hostname: "127.0.0.1", port });
      }
    }
  } finally {
    sock.close();
  }
}

/** `clients -c` rows by address: [NTP hits, drops, Int, IntL]. */
async function clientRows(socket: string): Promise<Map<string, string[]>> {
  const r = await runCommand(CHRONYC, ["-h", socket, "-n", "-c", "clients"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const rows = new Map<string, string[]>();
  for (const line of r.stdout.trim().split("\n").filter((l) => l)) {
    const f = line.split(",");
    rows.set(f[0]!, f.slice(1, 5));
  }
  return rows;
}

Deno.test({
  name: "fidelity: clients Int and IntL as chronyd shows them, with and without ratelimit",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    for (const limited of [false, true]) {
      const lines = limited ? ["ratelimit interval 1 burst 4"] : [];
      const refPort = freePort();
      const ref = await startChronyd({ port: refPort, lines });
      const port = freePort();
      const horae = await startHorae([
        `port ${port}`,
        "bindaddress 127.0.0.1",
        "local stratum 1",
        "allow 127.0.0.0/8",
        ...lines,
      ]);
      try {
        // [source address, gaps between requests (ms)]: the same instants to both servers;
        // steady and changing paces (the average follows faster and slower ones differently)
        const n = (count: number, ms: number) => new Array<number>(count).fill(ms);
        const patterns: [string, number[]][] = limited
          ? [["127.0.2.1", n(15, 250)], ["127.0.2.2", n(23, 100)]]
          : [
            ["127.0.2.1", n(2, 250)],
            ["127.0.2.2", n(2, 500)],
            ["127.0.2.3", [2000]],
            ["127.0.2.4", []],
            ["127.0.2.5", [...n(5, 250), 2000]],
            ["127.0.2.6", [2000, 2000, 250, 250]],
            ["127.0.2.7", [...n(4, 125), 4000]],
          ];
        await Promise.all(patterns.map(([a, gaps]) => probe(a, [refPort, port], gaps)));
        await new Promise((r) => setTimeout(r, 300));
        const theirs = await clientRows(ref.socket);
        const ours = await clientRows(horae.socket);
        for (const [a] of patterns) {
          const t = theirs.get(a), o = ours.get(a);
          assert.ok(t && o, `${a}: chronyd ${t} horae ${o}`);
          // Int always (exactly without ratelimit; with it, drops are random and take part
          // in the average, so within one log2 step); IntL is "-" (127) until a request
          // was limited, as in chronyd
          if (!limited) assert.equal(o[2], t[2], `${a} Int: chronyd ${t} horae ${o}`);
          else assert.ok(Math.abs(Number(o[2]) - Number(t[2])) <= 1, `${a} Int: ${t} / ${o}`);
          if (limited) {
            assert.ok(Number(t[1]) > 0 && Number(o[1]) > 0, `${a} drops: ${t} / ${o}`);
            // which requests are limited is random (leak), so the two servers average over
            // different requests: IntL is known in both and within one log2 step
            assert.ok(o[3] !== "127" && t[3] !== "127", `${a} IntL: chronyd ${t} horae ${o}`);
            assert.ok(Math.abs(Number(o[3]) - Number(t[3])) <= 1, `${a}: chronyd ${t} horae ${o}`);
          } else {
            assert.deepEqual([o[3], t[3]], ["127", "127"], `${a} IntL`);
          }
        }
      } finally {
        await horae.stop();
        await ref.stop();
      }
    }
  },
});

Deno.test({
  name: "fidelity: serverstats prints 4.3's eleven lines between chronyc 4.3 and horae",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ref = await startChronyd();
    const horae = await startHorae([]);
    try {
      const labels = (s: string) => s.trim().split("\n").map((l) => l.split(":")[0]);
      const reference = labels((await chronyc(CHRONYC, ref.socket, "serverstats")).stdout);
      assert.equal(reference.length, 11);
      // chronyc 4.3 asking horae's daemon, horae's chronyc asking chronyd 4.3
      const a = await chronyc(CHRONYC, horae.socket, "serverstats");
      const b = await chronyc(HORAEC, ref.socket, "serverstats");
      assert.deepEqual(labels(a.stdout), reference);
      assert.deepEqual(labels(b.stdout), reference);
    } finally {
      await horae.stop();
      await ref.stop();
    }
  },
});

/**
 * chronyd's log lines without the time stamp, the version line and the measured number (and
 * the real chronyd -q's complaints about this machine's /run/chrony, its default socket's
 * directory, which belongs to another user here).
 */
function messages(stderr: string): string[] {
  return stderr.trim().split("\n")
    .map((l) => l.replace(/^\S+Z /, "").replace(/wrong by -?\d+\.\d+/, "wrong by X"))
    .filter((l) => !/^chronyd version |\/run\/chrony/.test(l));
}

Deno.test({
  name: "fidelity: one-shot -Q and -q -x print only what chronyd prints (answered and timed out)",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const server = await startChronyd({ port: freePort() });
    try {
      for (const [mode, port] of [["-Q", server.port], ["-Q", freePort()], ["-q", server.port]]) {
        const line = `server 127.0.0.1 port ${port} iburst maxsamples 1`;
        // -q only with -x: the clock is never stepped ("Could not step system clock")
        const args = [
          ...(mode === "-q" ? ["-q", "-x"] : ["-Q"]),
          "-t",
          "3",
          "-f",
          "/dev/null",
          line,
        ];
        const [ours, real] = await Promise.all([
          runCommand(`${ROOT}/bin/chronyd`, args, { timeoutMs: 20_000 }),
          runCommand("/usr/sbin/chronyd", args, { timeoutMs: 20_000 }),
        ]);
        assert.equal(ours.code, real.code, `${ours.stderr}\n---\n${real.stderr}`);
        assert.equal(ours.stdout, real.stdout);
        assert.deepEqual(messages(ours.stderr), messages(real.stderr));
      }
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name: "fidelity: no Can't synchronise line at start-up, as chronyd logs none",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const server = await startChronyd({ port: freePort() });
    const dead = freePort();
    const lines = [
      `server 127.0.0.1 port ${server.port} iburst minpoll 0 maxpoll 0`,
      `server 127.0.0.2 port ${dead} iburst minpoll 0 maxpoll 0`,
    ];
    const ref = await startChronyd({ lines });
    const horae = await startHorae(lines);
    let log = "";
    try {
      for (const socket of [ref.socket, horae.socket]) {
        await until("selection", 30, async () => {
          const r = await chronyc(CHRONYC, socket, "sources");
          return /^\^\* 127\.0\.0\.1 /m.test(r.stdout) ? true : null;
        });
      }
      const theirs = await Deno.readTextFile(`${ref.dir}/log`);
      assert.match(theirs, /Selected source 127\.0\.0\.1/);
      assert.doesNotMatch(theirs, /Can't synchronise/);
    } finally {
      log = await horae.stop();
      await ref.stop();
      await server.stop();
    }
    assert.match(log, /Selected source 127\.0\.0\.1/);
    assert.doesNotMatch(log, /Can't synchronise/);
  },
});

Deno.test({
  name: "fidelity: interactive chronyc starts with a banner laid out as chronyc's",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ref = await startChronyd();
    try {
      // `script` gives chronyc a terminal; "quit" ends the session. It is typed only once the
      // prompt is out: typed earlier, the terminal (not yet in the line editor's raw mode)
      // echoes it wherever the program's output has got to, before or after the banner (seen
      // with chronyc under load: 2 runs in 20).
      const banner = async (bin: string) => {
        const child = new Deno.Command("script", {
          args: ["-qc", `${bin} -n -h ${ref.socket}`, "/dev/null"],
          stdin: "piped",
          stdout: "piped",
          stderr: "null",
        }).spawn();
        const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
        const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
        let out = "";
        const readUntil = async (done: () => boolean) => {
          while (!done()) {
            const r = await reader.read();
            if (r.done) return;
            out += r.value;
          }
        };
        await readUntil(() => out.includes("chronyc>"));
        if (out.includes("chronyc>")) { // else it ended (or timed out): said below
          const w = child.stdin.getWriter();
          await w.write(new TextEncoder().encode("quit\n"));
          await w.close();
        }
        await readUntil(() => false);
        await child.status;
        clearTimeout(timer);
        const lines = out.replaceAll("\r", "").split("\n");
        const prompt = lines.findIndex((l) => l.includes("chronyc>"));
        assert.ok(prompt > 0, out);
        // from the version line to the prompt
        const first = lines.findIndex((l) => /version/.test(l));
        assert.ok(first >= 0 && first < prompt, out);
        return lines.slice(first, prompt);
      };
      const theirs = await banner(CHRONYC);
      const ours = await banner(HORAEC);
      assert.equal(ours.length, theirs.length, ours.join("\n"));
      assert.deepEqual(ours.map((l) => l === ""), theirs.map((l) => l === ""));
      assert.match(ours[0]!, /^horae version \S+/);
      assert.doesNotMatch(ours.join("\n"), /chrony |Curnow/); // horae's own words
    } finally {
      await ref.stop();
    }
  },
});

/**
 * System time of `tracking -c` with chrony's sign (positive = slow), and the root delay: a
 * measurement's offset is off by at most half its delay, which grows on a loaded machine.
 */
async function systemTime(socket: string): Promise<{ offset: number; delay: number } | null> {
  const r = await runCommand(CHRONYC, ["-h", socket, "-n", "-c", "tracking"]);
  const f = r.stdout.trim().split(",");
  return f[0] === "7F000001" ? { offset: Number(f[4]), delay: Number(f[10]) } : null;
}

Deno.test({
  name: "fidelity: under -x tracking tells the real clock's offset (server 5 ms ahead) as chronyd",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const port = freePort();
    const server = fakeServer(port, 0.005);
    const lines = [`server 127.0.0.1 port ${port} iburst minpoll 0 maxpoll 0`];
    const ref = await startChronyd({ lines });
    const horae = await startHorae([...lines, "logdir DIR", "log tracking"]);
    try {
      // wait until both have made several updates (the virtual clock has slewed by then)
      const settled = async (socket: string) =>
        await until("updates", 40, async () => {
          const r = await chronyc(CHRONYC, socket, "sourcestats");
          const np = Number(r.stdout.match(/^127\.0\.0\.1 +(\d+)/m)?.[1] ?? 0);
          return np >= 8 ? true : null;
        });
      await Promise.all([settled(ref.socket), settled(horae.socket)]);
      const theirs = await systemTime(ref.socket);
      const ours = await systemTime(horae.socket);
      assert.ok(theirs !== null && ours !== null, `${theirs} / ${ours}`);
      // the system clock is 5 ms slow of the server: positive, "slow", in both, each within
      // 1 ms plus half its root delay (a few µs on a quiet machine, ms under heavy load)
      const near = (t: { offset: number; delay: number }) =>
        Math.abs(t.offset - 0.005) < 0.001 + t.delay / 2;
      assert.ok(near(theirs), `chronyd -x System time ${JSON.stringify(theirs)}`);
      assert.ok(near(ours), `horae -x System time ${JSON.stringify(ours)}`);
      assert.ok(
        Math.abs(ours.offset - theirs.offset) < 0.001 + (ours.delay + theirs.delay) / 2,
        `horae ${JSON.stringify(ours)} vs chronyd ${JSON.stringify(theirs)}`,
      );
      const text = (await chronyc(HORAEC, horae.socket, "tracking")).stdout;
      assert.match(text, /^System time +: 0\.00[456]\d+ seconds slow of NTP time$/m);
      // tracking.log's Rem. corr. (the 11th column) says the same
      const last = (await Deno.readTextFile(`${horae.dir}/tracking.log`)).trim().split("\n")
        .at(-1)!.trim().split(/\s+/);
      assert.ok(Math.abs(Number(last[10]) - 0.005) < 0.0015, last.join(" "));
      // ... and Max. error (the last column) includes that remainder, as chronyd's does
      assert.ok(Number(last[13]) > Number(last[10]), last.join(" "));
    } finally {
      await horae.stop();
      await ref.stop();
      await server.stop();
    }
  },
});
