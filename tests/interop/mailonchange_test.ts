/**
 * `mailonchange` beside chronyd 4.3: a correction beyond the threshold runs
 * `/usr/lib/sendmail -t` through the shell with the same message. Both
 * daemons run as clients of a chronyd server with `offset -1.0` (a 1 s
 * correction) and `-t`: once as the machine is (without a sendmail both
 * print the shell's "not found" and carry on), once in a private mount
 * namespace where an overlay on /usr/lib holds a stand-in sendmail that
 * saves what it gets (nothing on the machine changes).
 * @module
 */
import assert from "node:assert/strict";
import { freePort, haveChrony, ROOT, runCommand, startChronyd } from "./harness.ts";

const enabled = haveChrony();
if (!enabled && Deno.env.get("CI")) throw new Error("chronyd/chronyc missing and CI is set");

/** The stderr lines about sendmail of a daemon run (the shell's name as popen(3) gives it). */
const sendmailLines = (s: string) =>
  s.split("\n").filter((l) => l.includes("sendmail")).map((l) =>
    l.trim().replace(/^\/bin\/sh:/, "sh:")
  );

Deno.test({
  name: "mailonchange: the local sendmail gets chronyd 4.3's message (or the shell's error)",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const server = await startChronyd({ port: freePort() });
    const dir = await Deno.makeTempDir({ prefix: "horae-mail-" });
    await Deno.chmod(dir, 0o700);
    try {
      const conf = (who: string) => {
        const d = `${dir}/${who}`;
        Deno.mkdirSync(d, { mode: 0o700 });
        const path = `${d}/c.conf`;
        Deno.writeTextFileSync(
          path,
          [
            "port 0",
            "cmdport 0",
            `bindcmdaddress ${d}/s.sock`,
            `pidfile ${d}/pid`,
            `server 127.0.0.1 port ${server.port} iburst minpoll 0 maxpoll 0 offset -1.0`,
            "mailonchange root@localhost 0.5",
          ].join("\n") + "\n",
        );
        return path;
      };
      const refConf = conf("ref"), horConf = conf("hor");
      const ref = ["/usr/sbin/chronyd", "-x", "-u", "root", "-d", "-t", "5", "-f", refConf];
      const hor = [`${ROOT}/bin/chronyd`, "-x", "-d", "-t", "5", "-f", horConf];

      // 1. the machine as it is
      const haveSendmail = await Deno.stat("/usr/lib/sendmail").then(() => true, () => false);
      const [r1, h1] = await Promise.all([
        runCommand(ref[0]!, ref.slice(1), { timeoutMs: 20_000 }),
        runCommand(hor[0]!, hor.slice(1), { timeoutMs: 20_000 }),
      ]);
      if (!haveSendmail) {
        assert.deepEqual(sendmailLines(r1.stderr), ["sh: 1: /usr/lib/sendmail: not found"]);
      }
      assert.deepEqual(sendmailLines(h1.stderr), sendmailLines(r1.stderr), h1.stderr);

      // 2. a stand-in sendmail in a private mount namespace
      const fake = `${dir}/fake`;
      await Deno.writeTextFile(fake, `#!/bin/sh\n{ echo "ARGS: $*"; cat; } > "$MAILOUT"\n`);
      await Deno.chmod(fake, 0o755);
      const inNamespace = async (argv: string[], out: string) => {
        const ov = `${dir}/ov-${out}`;
        await Deno.mkdir(`${ov}/up`, { recursive: true });
        await Deno.mkdir(`${ov}/work`, { recursive: true });
        const script = `mount -t overlay overlay -o lowerdir=/usr/lib,upperdir=${ov}/up,` +
          `workdir=${ov}/work /usr/lib && cp ${fake} /usr/lib/sendmail && exec "$@"`;
        return await runCommand("unshare", ["-m", "sh", "-c", script, "sh", ...argv], {
          timeoutMs: 20_000,
          env: { MAILOUT: `${dir}/${out}.mail` },
        });
      };
      const [r2, h2] = await Promise.all([inNamespace(ref, "ref"), inNamespace(hor, "hor")]);
      assert.equal(r2.code, 0, r2.stderr);
      assert.equal(h2.code, 0, h2.stderr);
      const mask = (t: string) =>
        t.replace(/On \w+, \d\d \w+ \d{4}/, "On DATE").replace(/\d\d:\d\d:\d\d/, "TIME");
      const want = await Deno.readTextFile(`${dir}/ref.mail`);
      const got = await Deno.readTextFile(`${dir}/hor.mail`);
      assert.match(want, /adjustment of -1\.000 seconds/);
      assert.equal(mask(got), mask(want));
      // the machine's /usr/lib is untouched
      assert.equal(
        await Deno.stat("/usr/lib/sendmail").then(() => true, () => false),
        haveSendmail,
      );
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
