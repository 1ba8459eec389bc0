/**
 * horae's daemon with an NTS source, against the real chronyd serving NTS-KE
 * and NTP on loopback; authdata read with the real chronyc and horae's.
 */
import assert from "node:assert/strict";
import { freePort, haveChrony, ROOT, runCommand, startChronyd } from "./harness.ts";

const enabled = haveChrony();

Deno.test({
  name: "daemon: an nts source synchronises to the real chronyd; authdata shows NTS, 15, 256",
  ignore: !enabled,
  async fn() {
    const ntsPort = freePort();
    const server = await startChronyd({ port: freePort(), ntsKePort: ntsPort });
    const dir = await Deno.makeTempDir({ prefix: "horae-ntsd-" });
    await Deno.chmod(dir, 0o700);
    await Deno.writeTextFile(
      `${dir}/chronyd.conf`,
      [
        `server localhost port ${server.port} iburst nts ntsport ${ntsPort} minpoll 0 maxpoll 1`,
        `ntstrustedcerts ${server.cert}`,
        `ntsdumpdir ${dir}`,
        "port 0",
        "cmdport 0",
        `bindcmdaddress ${dir}/chronyd.sock`,
        `pidfile ${dir}/chronyd.pid`,
      ].join("\n") + "\n",
    );
    const child = new Deno.Command(`${ROOT}/bin/chronyd`, {
      args: ["-4", "-d", "-x", "-f", `${dir}/chronyd.conf`],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const sock = `${dir}/chronyd.sock`;
    try {
      let row: string[] | null = null;
      for (let i = 0; i < 60 && row === null; i++) {
        await new Promise((r) => setTimeout(r, 500));
        const r = await runCommand("/usr/bin/chronyc", ["-h", sock, "-n", "-c", "sources"]);
        const f = r.stdout.trim().split(",");
        if (r.code === 0 && f[1] === "*") row = f;
      }
      assert.ok(row !== null, "no selected NTS source within 30 s");
      const real = await runCommand("/usr/bin/chronyc", ["-h", sock, "-N", "-c", "authdata"]);
      assert.equal(real.code, 0, real.stdout + real.stderr);
      // Name,Mode,KeyID,Type,KLen,Last,Atmp,NAK,Cook,CLen
      const a = real.stdout.trim().split(",");
      assert.equal(a[1], "NTS", real.stdout);
      assert.notEqual(a[2], "0", real.stdout);
      assert.equal(a[3], "15", real.stdout);
      assert.equal(a[4], "256", real.stdout);
      assert.ok(Number(a[8]) > 0, real.stdout);
      const ours = await runCommand(`${ROOT}/bin/chronyc`, ["-h", sock, "-N", "authdata"]);
      assert.equal(ours.code, 0, ours.stdout + ours.stderr);
      assert.match(
        ours.stdout,
        /Name\/IP address\s+Mode KeyID Type KLen Last Atmp {2}NAK Cook CLen/,
      );
      assert.match(ours.stdout, /localhost\s+NTS\s+\d+\s+15\s+256/);
    } finally {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.output();
      await server.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
