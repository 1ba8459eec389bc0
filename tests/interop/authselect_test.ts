/**
 * `authselectmode` beside chronyd 4.3: with an authenticated (key) source,
 * two unauthenticated ones (one `prefer`) the real chronyc's `selectdata`
 * shows the same names, Auth, COpts and EOpts columns from horae as from
 * chronyd in each of the four modes.
 * @module
 */
import assert from "node:assert/strict";
import { freePort, haveChrony, runCommand, startChronyd, startHorae } from "./harness.ts";

const enabled = haveChrony();
if (!enabled && Deno.env.get("CI")) throw new Error("chronyd/chronyc missing and CI is set");

const KEY = "1 SHA1 HEX:0123456789ABCDEF0123456789ABCDEF01234567\n";

/** Name, Auth, COpts and EOpts of each `selectdata -c` row, sorted by name. */
async function options(socket: string): Promise<string[]> {
  const r = await runCommand("/usr/bin/chronyc", ["-n", "-c", "-h", socket, "selectdata"], {
    timeoutMs: 5000,
  });
  return r.stdout.split("\n").filter((l) => l !== "").map((l) =>
    l.split(",").slice(1, 13).join(",")
  )
    .sort();
}

Deno.test({
  name: "authselectmode: selectdata options as chronyd 4.3's in every mode",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "horae-authsel-" });
    await Deno.chmod(dir, 0o700);
    await Deno.writeTextFile(`${dir}/keys`, KEY);
    const keyed = await startChronyd({
      port: freePort(),
      address: "127.0.0.2",
      lines: [`keyfile ${dir}/keys`, "allow 127.0.0.0/8"],
    });
    const plain = await startChronyd({ port: freePort() });
    try {
      for (const mode of ["mix", "require", "prefer", "ignore"]) {
        const lines = [
          `keyfile ${dir}/keys`,
          `server 127.0.0.2 port ${keyed.port} key 1 iburst`,
          `server 127.0.0.1 port ${plain.port} iburst`,
          `server 127.0.0.3 port ${plain.port} iburst prefer`,
          `authselectmode ${mode}`,
        ];
        const ref = await startChronyd({ lines });
        const hor = await startHorae(lines);
        try {
          let want: string[] = [];
          for (let i = 0; i < 20 && want.length < 3; i++) {
            want = await options(ref.socket);
            if (want.length < 3) await new Promise((r) => setTimeout(r, 250));
          }
          assert.equal(want.length, 3, mode);
          let got: string[] = [];
          for (let i = 0; i < 20 && got.length < 3; i++) {
            got = await options(hor.socket);
            if (got.length < 3) await new Promise((r) => setTimeout(r, 250));
          }
          assert.deepEqual(got, want, mode);
        } finally {
          await hor.stop();
          await ref.stop();
        }
      }
    } finally {
      await keyed.stop();
      await plain.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
