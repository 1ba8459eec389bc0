/**
 * The real chronyd as an NTS client of horae's NTP + NTS-KE server
 * (bench/nts_runner.ts, built on lib/daemon/nts_server.ts `startNtsServer`).
 */
import assert from "node:assert/strict";
import { haveChrony, makeCert, ROOT, runCommand, startChronyd } from "./harness.ts";

const enabled = haveChrony();

export { makeCert };

/** Starts bench/nts_runner.ts; resolves with its ports once it printed READY. */
export async function startHoraeNts(
  cert: string,
  key: string,
  extra: string[] = [],
): Promise<{ ntp: number; nts: number; pid: number; stop(): Promise<string> }> {
  const child = new Deno.Command(`${ROOT}/denow`, {
    args: ["run", "-A", `${ROOT}/bench/nts_runner.ts`, "--cert", cert, "--key", key, ...extra],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = Date.now() + 30_000;
  while (!/READY \d+ \d+/.test(text) && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  const m = text.match(/READY (\d+) (\d+)/);
  if (!m) {
    child.kill("SIGKILL");
    throw new Error(`nts_runner did not start: ${text}`);
  }
  return {
    ntp: Number(m[1]),
    nts: Number(m[2]),
    pid: child.pid,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      reader.releaseLock();
      await child.stdout.cancel().catch(() => {});
      const err = await new Response(child.stderr).text();
      await child.status;
      return err;
    },
  };
}

Deno.test({
  name: "interop: the real chronyd synchronises over NTS to horae's NTP + NTS-KE server",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "horae-nts-srv-" });
    const { cert, key } = await makeCert(dir);
    const horae = await startHoraeNts(cert, key, ["--dumpdir", dir]);
    const client = await startChronyd({
      lines: [
        `server localhost port ${horae.ntp} iburst nts ntsport ${horae.nts} minpoll 0 maxpoll 0`,
        `ntstrustedcerts ${cert}`,
      ],
      flags: ["-4"],
    });
    let served = "";
    try {
      let sources = "", auth = "";
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        sources = (await runCommand("/usr/bin/chronyc", ["-h", client.socket, "-n", "sources"]))
          .stdout;
        auth = (await runCommand("/usr/bin/chronyc", [
          "-n",
          "-h",
          client.socket,
          "-N",
          "-c",
          "authdata",
        ]))
          .stdout;
        if (/^\^\*/m.test(sources)) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      // authdata -c: Name,Mode,KeyID,Type,KLen,Last,Atmp,NAK,Cook,CLen
      const row = auth.trim().split("\n")[0]!.split(",");
      assert.equal(row[1], "NTS", auth);
      assert.notEqual(Number(row[2]), 0, `KeyID: ${auth}`);
      assert.match(row[3]!, /^(15|AES-SIV)/, auth);
      assert.equal(Number(row[4]), 256, `KLen: ${auth}`);
      assert.ok(Number(row[8]) > 0, `cookies: ${auth}`);
      assert.equal(Number(row[9]), 100, `CLen, as with a chronyd server: ${auth}`);
      const line = sources.split("\n").find((l) => l.includes(`127.0.0.1`)) ?? "";
      const reach = parseInt(line.trim().split(/\s+/)[4] ?? "0", 8);
      assert.ok(/^\^\*/m.test(sources) || reach > 0, sources);
    } finally {
      await client.stop();
      served = await horae.stop();
    }
    assert.match(served, /authenticated [1-9]\d*;/, served);
    assert.match(served, /NTS-KE accepted [1-9]/, served);
    const keys = await Deno.readTextFile(`${dir}/ntskeys`);
    assert.match(keys, /^NKS0\n15 \d+\.\d\n([0-9A-F]{8} [0-9A-F]{64}\n){4}$/); // chronyd's format
    await Deno.remove(dir, { recursive: true });
  },
});
