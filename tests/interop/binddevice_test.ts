/**
 * `binddevice` (chrony.conf(5): binds the NTP and NTS-KE server sockets to an
 * interface) beside the real chronyd 4.8, with `binddevice lo`: `ss` shows
 * every NTP and NTS-KE server socket of both daemons bound to `%lo`, and the
 * NTP server still answers on loopback.
 *
 * Safety: -x, loopback, ports above 10000, private chmod-700 directories;
 * every daemon is stopped by its own PID.
 */
import assert from "node:assert/strict";
import { freePort, haveChrony48, makeCert, runCommand, spawnBeside48, wrongBy } from "./harness.ts";

const enabled = haveChrony48();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The daemon's listening sockets as `udp ADDR:PORT` / `tcp ADDR:PORT` (ss), sorted. */
async function listening(pid: number): Promise<string[]> {
  const rows: string[] = [];
  for (const [proto, flags] of [["udp", "-uanpH"], ["tcp", "-tlnpH"]] as const) {
    const r = await runCommand("ss", [flags], { timeoutMs: 5000 });
    for (const l of r.stdout.split("\n")) {
      if (l.includes(`pid=${pid},`)) rows.push(`${proto} ${l.trim().split(/\s+/)[3]}`);
    }
  }
  return rows.sort();
}

Deno.test({
  name: "binddevice: NTP and NTS-KE server sockets bound to the interface, as chronyd 4.8",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const seen: Record<string, string[]> = {};
    for (const kind of ["chronyd 4.8", "horae"] as const) {
      const dir = await Deno.makeTempDir({ prefix: "horae-binddevice-" });
      await Deno.chmod(dir, 0o700);
      const { cert, key } = await makeCert(dir);
      const [ntp, ke] = [freePort(), freePort()];
      const child = await spawnBeside48(kind, dir, [
        `port ${ntp}`,
        `ntsport ${ke}`,
        `ntsservercert ${cert}`,
        `ntsserverkey ${key}`,
        `ntsdumpdir ${dir}`,
        "binddevice lo",
        "allow 127.0.0.0/8",
        "local stratum 1",
      ]);
      try {
        let rows: string[] = [];
        for (let i = 0; i < 50 && rows.length < 3; i++) {
          await sleep(200);
          rows = await listening(child.pid);
        }
        seen[kind] = rows.map((r) => r.replace(`:${ntp}`, ":NTP").replace(`:${ke}`, ":NTSKE"));
        const probe = await runCommand("/usr/sbin/chronyd", [
          "-Q",
          "-t",
          "5",
          "-f",
          "/dev/null",
          `server 127.0.0.1 port ${ntp} iburst maxsamples 1`,
        ], { timeoutMs: 10_000 });
        assert.notEqual(wrongBy(probe.stdout + probe.stderr), null, `${kind}: ${probe.stderr}`);
      } finally {
        child.kill("SIGTERM");
        await child.status;
        await child.stderr.cancel().catch(() => {});
        await Deno.remove(dir, { recursive: true });
      }
    }
    // NTS-KE on both families; NTP only on IPv4, which `allow` admits
    const want = [
      "tcp 0.0.0.0%lo:NTSKE",
      "tcp [::]%lo:NTSKE",
      "udp 0.0.0.0%lo:NTP",
    ];
    assert.deepEqual(seen["chronyd 4.8"], want);
    assert.deepEqual(seen["horae"], want);
  },
});
