/**
 * horae's daemon with an NTS source, against the real chronyd serving NTS-KE
 * and NTP on loopback; authdata read with the real chronyc and horae's.
 */
import assert from "node:assert/strict";
import { freePort, haveChrony, ROOT, runCommand, startChronyd, startHorae } from "./harness.ts";

const enabled = haveChrony();

Deno.test({
  name: "daemon: an nts source synchronises to the real chronyd; authdata shows NTS, 15, 256",
  ignore: !enabled,
  async fn() {
    const ntsPort = freePort();
    const server = await startChronyd({ port: freePort(), ntsKePort: ntsPort });
    const horae = await startHorae([
      `server localhost port ${server.port} iburst nts ntsport ${ntsPort} minpoll 0 maxpoll 1`,
      `ntstrustedcerts ${server.cert}`,
      "ntsdumpdir DIR",
    ], { flags: ["-4"] });
    const sock = horae.socket;
    try {
      let row: string[] | null = null;
      for (let i = 0; i < 60 && row === null; i++) {
        await new Promise((r) => setTimeout(r, 500));
        const r = await runCommand("/usr/bin/chronyc", ["-h", sock, "-n", "-c", "sources"]);
        const f = r.stdout.trim().split(",");
        if (r.code === 0 && f[1] === "*") row = f;
      }
      assert.ok(row !== null, "no selected NTS source within 30 s");
      const real = await runCommand("/usr/bin/chronyc", ["-n", "-h", sock, "-N", "-c", "authdata"]);
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
      await horae.stop();
      await server.stop();
    }
  },
});
