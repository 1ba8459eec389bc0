/**
 * horae's daemon with a SOCK refclock, fed by this test (system time plus a
 * 2 us offset, 4 samples a second, as gpsd would send them), seen through
 * the REAL chronyc: `sources` shows `#* GPS` within a bounded time,
 * `sourcestats` and `selectdata` list GPS with samples, in the real chronyc
 * and in horae's.
 *
 * Safety: -x (the clock is never changed), no NTP port, a private chmod-700
 * directory for the command and refclock sockets; the daemon is stopped by
 * its own PID.
 */
import assert from "node:assert/strict";
import { realNow } from "../../lib/io/realtime.ts";
import { encodeSockSample } from "../../lib/refclock/sock.ts";
import { type CommandResult, haveChrony, ROOT, runCommand } from "./harness.ts";

const enabled = haveChrony();

function chronyc(sock: string, cmd: string): Promise<CommandResult> {
  return runCommand("/usr/bin/chronyc", ["-h", sock, "-n", ...cmd.split(" ")], {
    timeoutMs: 10_000,
  });
}

Deno.test({
  name: "refclock SOCK: the real chronyc shows '#* GPS' selected from samples sent to the socket",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "horae-refclock-" });
    await Deno.chmod(dir, 0o700);
    const cmdSock = `${dir}/chronyd.sock`;
    const gpsSock = `${dir}/gps.sock`;
    await Deno.writeTextFile(
      `${dir}/chronyd.conf`,
      [
        `refclock SOCK ${gpsSock} refid GPS poll 1 dpoll 0`,
        "port 0",
        "cmdport 0",
        `bindcmdaddress ${cmdSock}`,
        `pidfile ${dir}/chronyd.pid`,
      ].join("\n") + "\n",
    );
    const child = new Deno.Command(`${ROOT}/bin/chronyd`, {
      args: ["-d", "-x", "-f", `${dir}/chronyd.conf`],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const feeder = Deno.listenDatagram({ transport: "unixpacket", path: `${dir}/feed.sock` });
    let feeding = true;
    const feed = (async () => {
      while (feeding) {
        const bytes = encodeSockSample({
          systemTime: realNow(),
          offset: 2e-6,
          leap: 0,
          pulse: false,
        });
        await feeder.send(bytes, { transport: "unixpacket", path: gpsSock }).catch(() => {});
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    let stderr = "";
    try {
      let sources = "";
      const end = performance.now() + 40_000;
      while (performance.now() < end) {
        const r = await chronyc(cmdSock, "sources").catch(() => null);
        sources = r?.stdout ?? "";
        if (/^#\* GPS +0 +1 /m.test(sources)) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.match(sources, /^#\* GPS +0 +1 /m, sources);
      const stats = await chronyc(cmdSock, "sourcestats");
      assert.equal(stats.code, 0, stats.stderr);
      const row = stats.stdout.split("\n").find((l) => l.startsWith("GPS "));
      assert.ok(row, stats.stdout);
      assert.ok(Number(row.split(/\s+/)[1]) >= 3, row);
      const sel = await chronyc(cmdSock, "selectdata");
      assert.match(sel.stdout, /^\* GPS +N /m, sel.stdout);
      // horae's own chronyc names the reference clock the same way.
      const ours = await new Deno.Command(`${ROOT}/bin/chronyc`, {
        args: ["-h", cmdSock, "sources"],
        stdout: "piped",
      }).output();
      assert.match(new TextDecoder().decode(ours.stdout), /^#\* GPS +0 +1 /m);
      // ... in every report, not only `sources` (it printed "[UNSPEC]" in sourcestats/selectdata).
      for (const [cmd, row] of [["sourcestats", /^GPS +\d+ /m], ["selectdata", /^\* GPS +N /m]]) {
        const o = await runCommand(`${ROOT}/bin/chronyc`, ["-h", cmdSock, "-n", cmd as string], {
          timeoutMs: 10_000,
        });
        assert.match(o.stdout, row as RegExp, o.stdout);
        assert.doesNotMatch(o.stdout, /UNSPEC/, o.stdout);
      }
      const tracking = await chronyc(cmdSock, "tracking");
      assert.match(tracking.stdout, /^Reference ID\s+: 47505300 \(GPS\)$/m, tracking.stdout);
      assert.match(tracking.stdout, /^Stratum\s+: 1$/m);
    } finally {
      feeding = false;
      await feed;
      feeder.close();
      child.kill("SIGTERM");
      const status = await child.status;
      stderr = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
      assert.ok(status.success || status.signal === "SIGTERM", stderr);
      await Deno.remove(dir, { recursive: true });
    }
    assert.doesNotMatch(stderr, /not supported yet/, stderr);
  },
});
