/**
 * systemd socket activation (chronyd(8) 4.5+, LISTEN_FDS) beside the real
 * chronyd 4.8: `systemd-socket-activate --datagram` binds the NTP port, the
 * UDP command port and one port nothing asks for, and starts the daemon when
 * the first NTP request arrives. Both daemons answer that request (it waited
 * in the passed socket), serve NTP and chronyc 4.8 on the passed sockets
 * (descriptors 3 and 4, no second socket on those ports), keep the third
 * open unused, and log nothing about it.
 *
 * Safety: -x, loopback, ports above 10000, private chmod-700 directories;
 * every daemon is stopped by its own PID.
 */
import assert from "node:assert/strict";
import { CHRONYC48, CHRONYD48, freePort, haveChrony48, ROOT, runCommand } from "./harness.ts";

const ACTIVATE = "/usr/bin/systemd-socket-activate";
const haveActivate = (() => {
  try {
    return Deno.statSync(ACTIVATE).isFile;
  } catch {
    return false;
  }
})();
if (!haveActivate && Deno.env.get("CI")) throw new Error(`missing ${ACTIVATE}`);
const enabled = haveChrony48() && haveActivate;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One NTP client request; the reply's mode and stratum, or null on timeout. */
async function ntpQuery(port: number, timeoutMs: number): Promise<string | null> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const req = new Uint8Array(48);
    req[0] = 0x23; // version 4, client
    crypto.getRandomValues(req.subarray(40, 48));
    await sock.send(req, { transport: "udp", hostname: "127.0.0.1", port });
    const timer = sleep(timeoutMs).then(() => null);
    const got = await Promise.race([sock.receive().then(([b]) => b), timer]);
    if (got === null) return null;
    const originOk = got.subarray(24, 32).every((b, i) => b === req[40 + i]);
    return `mode ${got[0]! & 7} stratum ${got[1]} origin ${originOk ? "ours" : "other"}`;
  } finally {
    sock.close();
  }
}

/** The daemon's UDP sockets bound to 127.0.0.1:`port` (ss), as "fd=N". */
async function socketsOn(pid: number, port: number): Promise<string[]> {
  const r = await runCommand("ss", ["-uanpH"], { timeoutMs: 5000 });
  return r.stdout.split("\n").filter((l) =>
    l.includes(`127.0.0.1:${port} `) && l.includes(`pid=${pid},`)
  )
    .map((l) => l.match(/pid=\d+,fd=(\d+)/)?.[1] ?? "?").map((fd) => `fd=${fd}`);
}

Deno.test({
  name: "socket activation: NTP and command sockets passed in LISTEN_FDS, as chronyd 4.8",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    for (const kind of ["chronyd 4.8", "horae"] as const) {
      const dir = await Deno.makeTempDir({ prefix: "horae-activate-" });
      await Deno.chmod(dir, 0o700);
      const [ntp, cmd, spare] = [freePort(), freePort(), freePort()];
      await Deno.writeTextFile(
        `${dir}/chronyd.conf`,
        [
          `port ${ntp}`,
          "bindaddress 127.0.0.1",
          "allow 127.0.0.0/8",
          "local stratum 1",
          `cmdport ${cmd}`,
          "bindcmdaddress 127.0.0.1",
          `bindcmdaddress ${dir}/chronyd.sock`,
          `pidfile ${dir}/chronyd.pid`,
        ].join("\n") + "\n",
      );
      const daemon = kind === "horae"
        ? [`${ROOT}/bin/chronyd`, "-d", "-x", "-f", `${dir}/chronyd.conf`]
        : [CHRONYD48, "-d", "-x", "-u", "root", "-f", `${dir}/chronyd.conf`];
      const child = new Deno.Command(ACTIVATE, {
        args: [
          "--datagram",
          ...[ntp, cmd, spare].flatMap((p) => ["-l", `127.0.0.1:${p}`]),
          ...daemon,
        ],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      let log = "";
      try {
        // the launcher listens first; the first request starts the daemon and is answered
        await sleep(500);
        assert.equal(await ntpQuery(ntp, 15_000), "mode 4 stratum 1 origin ours", kind);
        assert.equal(await ntpQuery(ntp, 5_000), "mode 4 stratum 1 origin ours", kind);
        const tracking = await runCommand(CHRONYC48, [
          "-n",
          "-h",
          "127.0.0.1",
          "-p",
          String(cmd),
          "tracking",
        ], { timeoutMs: 10_000 });
        assert.match(
          tracking.stdout,
          /^Reference ID {4}: 7F7F0101/m,
          `${kind}: ${tracking.stderr}`,
        );
        // the launcher exec'd the daemon: its pid is the child's
        assert.deepEqual(await socketsOn(child.pid, ntp), ["fd=3"], kind);
        assert.deepEqual(await socketsOn(child.pid, cmd), ["fd=4"], kind);
        assert.deepEqual(await socketsOn(child.pid, spare), ["fd=5"], `${kind}: left open`);
      } finally {
        child.kill("SIGTERM");
        await child.status;
        log = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
        await Deno.remove(dir, { recursive: true });
      }
      // nothing said about the sockets, no error
      assert.doesNotMatch(
        log.replace(/Listening on .*\n|Communication attempt.*\n/g, ""),
        /socket|LISTEN|Could not|rror/i,
        `${kind}: ${log}`,
      );
    }
  },
});
