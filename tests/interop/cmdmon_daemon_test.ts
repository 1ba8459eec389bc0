/**
 * horae's chronyd (a client of a real chronyd server on loopback) driven by
 * the REAL chronyc: every report command and every control command horae
 * implements gets a valid reply over the Unix socket (exit code 0, or the
 * same code and message the real chronyd gives in the same situation, checked
 * against the reference chronyd's own socket), never Invalid/Bad/Unrecognized;
 * over UDP the monitoring commands work and a control command gets
 * "501 Not authorised".
 *
 * Safety: horae runs with -x (read-only clock), so `makestep` never touches
 * the system clock; the real chronyd also runs with -x, where `makestep`
 * fails (it is sent there only to compare the answer), and nothing else that
 * could change the clock is sent to it.
 */
import assert from "node:assert/strict";
import {
  type CommandResult,
  freePort,
  haveChrony,
  ROOT,
  runCommand,
  startChronyd,
} from "./harness.ts";

const enabled = haveChrony();
const CHRONYC = "/usr/bin/chronyc";
/** Words chronyc prints for a reply it could not use or a command it refused. */
const BAD = /Invalid|Bad|Unrecognized|Unknown/;

async function waitFor<T>(
  what: string,
  seconds: number,
  probe: () => Promise<T | null>,
): Promise<T> {
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const v = await probe().catch(() => null);
    if (v !== null) return v;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The real chronyc on a socket path or `host port`; `cmd` split on spaces. */
function chronyc(target: string[], cmd: string): Promise<CommandResult> {
  return runCommand(CHRONYC, [...target, "-n", ...cmd.split(" ")], { timeoutMs: 15_000 });
}

function text(r: CommandResult): string {
  return r.stdout + r.stderr;
}

function assertClean(cmd: string, r: CommandResult): void {
  assert.doesNotMatch(text(r), BAD, `${cmd}: ${text(r)}`);
}

Deno.test({
  name: "cmdmon: the real chronyc drives horae's daemon (reports, controls, UDP permissions)",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ref = await startChronyd({ port: freePort() });
    const dead = freePort();
    const dir = await Deno.makeTempDir({ prefix: "horae-cmdmon-" });
    await Deno.chmod(dir, 0o700);
    await Deno.mkdir(`${dir}/src`);
    await Deno.mkdir(`${dir}/dump`);
    const cmdPort = freePort();
    const sock = `${dir}/chronyd.sock`;
    const conf = [
      `server 127.0.0.1 port ${ref.port} iburst minpoll 0 maxpoll 1`,
      `port ${freePort()}`,
      "bindaddress 127.0.0.1",
      "allow 127.0.0.0/8",
      `cmdport ${cmdPort}`,
      "bindcmdaddress 127.0.0.1",
      `bindcmdaddress ${sock}`,
      `pidfile ${dir}/chronyd.pid`,
      `driftfile ${dir}/drift`,
      `logdir ${dir}`,
      "log measurements statistics tracking",
      `dumpdir ${dir}/dump`,
      `sourcedir ${dir}/src`,
    ].join("\n");
    await Deno.writeTextFile(`${dir}/chronyd.conf`, conf + "\n");
    const child = new Deno.Command(`${ROOT}/bin/chronyd`, {
      args: ["-d", "-x", "-f", `${dir}/chronyd.conf`],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const unix = ["-h", sock];
    const udp = ["-h", "127.0.0.1", "-p", String(cmdPort)];
    const refUnix = ["-h", ref.socket];
    let exited = false;
    try {
      await waitFor("horae to select the real server", 30, async () => {
        const r = await chronyc(unix, "sources");
        return /^\^\* 127\.0\.0\.1/m.test(r.stdout) ? true : null;
      });

      /** Runs `cmd` on horae: exit 0 and clean output. */
      const ok = async (cmd: string, expect?: RegExp): Promise<CommandResult> => {
        const r = await chronyc(unix, cmd);
        assert.equal(r.code, 0, `${cmd}: ${text(r)}`);
        assertClean(cmd, r);
        if (expect) assert.match(text(r), expect, `${cmd}: ${text(r)}`);
        return r;
      };
      /** Runs `cmd` on horae and on the reference: same exit code and same message. */
      const same = async (cmd: string, onRef = cmd): Promise<CommandResult> => {
        const h = await chronyc(unix, cmd);
        const r = await chronyc(refUnix, onRef);
        assertClean(cmd, h);
        assert.equal(h.code, r.code, `${cmd}: horae ${text(h)} / chronyd ${text(r)}`);
        assert.equal(text(h).trim(), text(r).trim(), cmd);
        return h;
      };

      // ---- reports ----
      await ok("tracking", /^Reference ID\s+: 7F000001 \(127\.0\.0\.1\)$/m);
      await ok("sources -v", /^\^\* 127\.0\.0\.1 /m);
      await ok("sourcestats -v", /^127\.0\.0\.1 /m);
      await ok("selectdata -v", /^\* 127\.0\.0\.1 +N ----- -----/m);
      await ok("activity", /^0 sources offline$/m);
      await ok("ntpdata", /^NTP tests\s+: 111 111 1111$/m);
      await ok("authdata", /^127\.0\.0\.1 +- +0 +0 +0 +- +0 +0 +0 +0$/m);
      await ok("serverstats", /^NTP packets received/m);
      await ok("clients", /^Hostname/m);
      await ok("sourcename 127.0.0.1", /^127\.0\.0\.1$/m);
      await same("manual list");
      await same("rtcdata"); // 513 RTC driver not running
      await same("smoothing"); // 505 Facility not enabled in daemon
      await same("sourcename 127.0.0.9"); // 503 No such source

      // ---- UDP: monitoring works, control is refused ----
      for (const cmd of ["tracking", "sources", "sourcestats", "activity", "manual list"]) {
        const r = await chronyc(udp, cmd);
        assert.equal(r.code, 0, `udp ${cmd}: ${text(r)}`);
        assertClean(cmd, r);
      }
      for (const cmd of ["burst 4/8", "reselect", "serverstats"]) {
        const r = await chronyc(udp, cmd);
        assert.notEqual(r.code, 0, `udp ${cmd}`);
        assert.match(text(r), /501 Not authorised/, `udp ${cmd}: ${text(r)}`);
      }

      // ---- sources: add, duplicate, modify, delete ----
      await ok(`add server 127.0.0.2 port ${dead} minpoll 0 maxpoll 2`, /200 OK/);
      const dup = await chronyc(unix, `add server 127.0.0.2 port ${dead}`);
      assert.equal(dup.code, 1);
      assert.match(text(dup), /511 Source already present/);
      await ok("sources", /^\^\? 127\.0\.0\.2 /m);
      await ok("minpoll 127.0.0.2 1");
      await ok("maxpoll 127.0.0.2 3");
      await ok("maxdelay 127.0.0.2 0.5");
      await ok("maxdelayratio 127.0.0.2 2");
      await ok("maxdelaydevratio 127.0.0.2 3");
      await ok("minstratum 127.0.0.2 2");
      await ok("polltarget 127.0.0.2 10");
      await ok("sourcename 127.0.0.2", /^127\.0\.0\.2$/m);
      await ok("selectdata", /^[MN] 127\.0\.0\.2 /m);
      await ok("offline 127.0.0.2");
      await ok("activity", /^1 sources offline$/m);
      await ok("online 255.255.255.0/127.0.0.0");
      await ok("activity", /^0 sources offline$/m);
      await ok("delete 127.0.0.2");
      await same("delete 127.0.0.2"); // 503 No such source
      await same("minpoll 127.0.0.2 3");
      await ok(`add peer 127.0.0.4 port ${dead}`);
      await ok("sources", /^=\? 127\.0\.0\.4 /m);
      await ok("delete 127.0.0.4");

      // ---- polling ----
      await ok("burst 4/8");
      await ok("offline");
      await ok("online");
      await ok("onoffline");

      // ---- clock and selection settings (horae runs -x: nothing reaches the system clock) ----
      await ok("maxupdateskew 100");
      await ok("makestep 0.1 3");
      // chronyd -x cannot step the clock: makestep fails there ("500 Failure"), and here
      await same("makestep");
      await ok("local stratum 3 orphan distance 0.5");
      await ok("local off");
      await ok("reselect");
      await ok("reselectdist 0.0001");
      await ok("refresh");
      await ok("rekey");
      await ok("cyclelogs");

      // ---- access tables ----
      await ok("allow 10.0.0.0/8");
      await ok("deny 10.1.0.0/16");
      await ok("accheck 10.2.3.4", /208 Access allowed/);
      await ok("accheck 10.1.3.4", /209 Access denied/);
      await ok("accheck 127.0.0.1", /208 Access allowed/);
      await ok("cmdallow 10.0.0.0/8");
      await ok("cmddeny 10.1.0.0/16");
      await ok("cmdaccheck 10.2.3.4", /208 Access allowed/);
      await ok("cmdaccheck 10.1.2.3", /209 Access denied/);
      await ok("deny all 10.0.0.0/8");
      await ok("accheck 10.1.3.4", /209 Access denied/);
      await ok("accheck 10.2.3.4", /209 Access denied/);

      // ---- sourcedir reload ----
      await Deno.writeTextFile(`${dir}/src/a.sources`, `server 127.0.0.5 port ${dead}\n`);
      await ok("reload sources");
      await waitFor("the sourcedir source", 10, async () => {
        const r = await chronyc(unix, "sources");
        return /127\.0\.0\.5/.test(r.stdout) ? true : null;
      });
      await Deno.remove(`${dir}/src/a.sources`);
      await ok("reload sources");
      const after = await ok("sources");
      assert.doesNotMatch(after.stdout, /127\.0\.0\.5/);

      // ---- statistics ----
      await ok("dump");
      const dumped = await Deno.readTextFile(`${dir}/dump/127.0.0.1.dat`);
      assert.match(dumped, /^horae-history 1\nsource 127\.0\.0\.1\n/);
      await ok("reset sources");
      await ok("sourcestats", /^127\.0\.0\.1 +0 +0 /m);
      await waitFor("a new sample after reset", 15, async () => {
        const r = await chronyc(unix, "sourcestats");
        return /^127\.0\.0\.1 +[1-9]/m.test(r.stdout) ? true : null;
      });
      await same("trimrtc"); // 513 RTC driver not running
      await same("writertc");

      // ---- client side ----
      await ok("waitsync 20 0.01");

      // ---- shutdown ----
      await ok("shutdown", /200 OK/);
      const status = await Promise.race([
        child.status,
        new Promise<null>((r) => setTimeout(() => r(null), 10_000)),
      ]);
      assert.ok(status !== null, "horae did not exit after shutdown");
      exited = true;
      assert.equal(status.code, 0);
    } finally {
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch { /* gone */ }
      }
      await child.output().catch(() => null);
      await ref.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
