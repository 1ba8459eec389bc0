/**
 * horae's `chronyd -Q` with an NTS source against the real chronyd serving
 * NTS-KE and NTP on loopback.
 */
import assert from "node:assert/strict";
import {
  freePort,
  haveChrony,
  makeCert,
  ROOT,
  runCommand,
  startChronyd,
  wrongBy,
} from "./harness.ts";

const enabled = haveChrony();

Deno.test({
  name: "chronyd -Q with nts synchronises to the real chronyd NTS server within 1 ms",
  ignore: !enabled,
  async fn() {
    const ntsPort = freePort();
    const server = await startChronyd({ port: freePort(), ntsKePort: ntsPort });
    try {
      const dump = await Deno.makeTempDir({ prefix: "horae-nts-dump-" });
      const args = [
        "-Q",
        "-t",
        "5",
        `server localhost port ${server.port} iburst nts ntsport ${ntsPort} maxsamples 1`,
        `ntstrustedcerts ${server.cert}`,
        `ntsdumpdir ${dump}`,
      ];
      const ours = await runCommand(`${ROOT}/bin/chronyd`, args, { timeoutMs: 20_000 });
      assert.equal(ours.code, 0, ours.stderr);
      const x = wrongBy(ours.stderr);
      assert.ok(x !== null, `no offset in: ${ours.stderr}`);
      assert.ok(Math.abs(x) < 1e-3, `horae offset ${x}`);
      // Cookies were saved at exit and are used again without a new NTS-KE.
      const files = [...Deno.readDirSync(dump)].map((e) => e.name);
      assert.deepEqual(files, [`localhost:${ntsPort}.nts`]);
      const text = Deno.readTextFileSync(`${dump}/${files[0]}`);
      assert.match(text, /^horae-nts-client 1\n/);
      assert.ok((text.match(/^cookie /gm) ?? []).length >= 1);
      const again = await runCommand(`${ROOT}/bin/chronyd`, ["-d", "-d", ...args], {
        timeoutMs: 20_000,
      });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /Loaded \d+ NTS cookies for localhost/);
      assert.doesNotMatch(again.stderr, /NTS-KE with localhost done/);
      await Deno.remove(dump, { recursive: true });
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name: "chronyd -Q with nts: a wrong host name or an untrusted certificate is logged, exit 1",
  ignore: !enabled,
  async fn() {
    const ntsPort = freePort();
    const server = await startChronyd({ port: freePort(), ntsKePort: ntsPort });
    // A second server whose certificate names only other.example.
    const otherPort = freePort();
    const certDir = await Deno.makeTempDir({ prefix: "horae-nts-cert-" });
    const gen = await makeCert(certDir, "other.example", "DNS:other.example");
    const other = await startChronyd({
      port: freePort(),
      lines: [
        `ntsport ${otherPort}`,
        `ntsserverkey ${gen.key}`,
        `ntsservercert ${gen.cert}`,
      ],
    });
    try {
      const wrong = await runCommand(`${ROOT}/bin/chronyd`, [
        "-Q",
        "-t",
        "5",
        `server localhost port ${other.port} iburst nts ntsport ${otherPort} maxsamples 1`,
        `ntstrustedcerts ${gen.cert}`,
      ], { timeoutMs: 20_000 });
      assert.equal(wrong.code, 1, wrong.stderr);
      assert.match(wrong.stderr, /NTS-KE with localhost .*failed : .*does not match host name/);
      assert.equal(wrongBy(wrong.stderr), null);
      const untrusted = await runCommand(`${ROOT}/bin/chronyd`, [
        "-Q",
        "-t",
        "5",
        `server localhost port ${server.port} iburst nts ntsport ${ntsPort} maxsamples 1`,
        "nosystemcert",
      ], { timeoutMs: 20_000 });
      assert.equal(untrusted.code, 1, untrusted.stderr);
      assert.match(untrusted.stderr, /NTS-KE with localhost .*failed : .*not trusted/);
      assert.equal(wrongBy(untrusted.stderr), null);
    } finally {
      await server.stop();
      await other.stop();
      await Deno.remove(certDir, { recursive: true });
    }
  },
});
