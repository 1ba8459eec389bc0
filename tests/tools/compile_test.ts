/**
 * `deno task compile` offline: the self-extracting single file, copied alone
 * into an empty read-only directory, run as another user (nobody, when root)
 * with an empty environment (PATH=/usr/bin:/bin, no Deno, a home that does not
 * exist): `chronyc -v` through a link, `horae chronyd -Q` against the real
 * chronyd; a damaged copy refuses to run; the cache is named by the checksum.
 */
import assert from "node:assert/strict";
import { STUB_SIZE } from "../../tools/compile.ts";
import { freePort, haveChrony, startChronyd, wrongBy } from "../interop/harness.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const inCi = Deno.env.get("CI") === "true";
const isRoot = Deno.uid() === 0;

async function run(cmd: string, args: string[], env?: Record<string, string>) {
  const o = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    cwd: "/",
    ...(env ? { env, clearEnv: true } : {}),
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

Deno.test("compile (offline): one self-extracting file runs as another user with no Deno", async () => {
  const work = await Deno.makeTempDir({ prefix: "horae-compile-test-" });
  await Deno.chmod(work, 0o755);
  let server: Awaited<ReturnType<typeof startChronyd>> | null = null;
  try {
    const built = await run(Deno.execPath(), [
      "run",
      "-A",
      `${ROOT}/tools/compile.ts`,
      "--out",
      `${work}/build/horae`,
    ]);
    assert.equal(built.code, 0, built.stderr);
    // Alone in an empty directory, read-only, with links for the two personalities.
    const bin = `${work}/bin`;
    await Deno.mkdir(bin);
    await Deno.copyFile(`${work}/build/horae`, `${bin}/horae`);
    await Deno.symlink("horae", `${bin}/chronyc`);
    await Deno.chmod(bin, 0o555);
    const tmp = `${work}/tmp`;
    await Deno.mkdir(tmp);
    await Deno.chmod(tmp, 0o1777);
    const env = { PATH: "/usr/bin:/bin", HOME: "/nonexistent", TMPDIR: tmp };
    const as = (cmd: string, args: string[], e = env) =>
      isRoot
        ? run(
          "setpriv",
          ["--reuid=65534", "--regid=65534", "--clear-groups", "--", cmd, ...args],
          e,
        )
        : run(cmd, args, e);

    const v = await as(`${bin}/chronyc`, ["-v"]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /^chronyc \(horae\) version /);
    const d = await as(`${bin}/horae`, ["chronyd", "-v"]);
    assert.match(d.stdout, /^chronyd \(horae\) version /);

    // Unpacked once, under the payload's checksum.
    const file = await Deno.readFile(`${bin}/horae`);
    const sum = Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", file.subarray(STUB_SIZE))),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    const uid = isRoot ? 65534 : Deno.uid();
    const cacheDir = `${tmp}/horae-${uid}/${sum}`;
    assert.ok(Deno.statSync(`${cacheDir}/.ok`).isFile, "unpacked under its checksum");
    assert.equal(Deno.statSync(`${tmp}/horae-${uid}`).mode! & 0o777, 0o700);

    if (haveChrony()) {
      const port = freePort();
      server = await startChronyd({ port });
      const q = await as(`${bin}/horae`, [
        "chronyd",
        "-Q",
        "-t",
        "10",
        `server 127.0.0.1 port ${port} iburst maxsamples 1`,
      ]);
      assert.equal(q.code, 0, q.stdout + q.stderr);
      assert.notEqual(wrongBy(q.stdout + q.stderr), null, q.stdout + q.stderr);
    } else if (inCi) {
      throw new Error("the real chronyd is required under CI");
    }

    // A damaged copy (one payload byte changed) refuses to unpack (fresh cache).
    const bad = file.slice();
    bad[STUB_SIZE + 1000] = bad[STUB_SIZE + 1000]! ^ 0xff;
    await Deno.writeFile(`${work}/build/damaged`, bad, { mode: 0o755 });
    const tmp2 = `${work}/tmp2`;
    await Deno.mkdir(tmp2);
    await Deno.chmod(tmp2, 0o1777);
    const b = await as(`${work}/build/damaged`, ["chronyc", "-v"], { ...env, TMPDIR: tmp2 });
    assert.equal(b.code, 2);
    assert.match(b.stderr, /is damaged \(payload checksum/);
  } finally {
    await server?.stop();
    await Deno.chmod(`${work}/bin`, 0o755).catch(() => {});
    await Deno.remove(work, { recursive: true });
  }
});
