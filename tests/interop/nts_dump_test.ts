/**
 * `chronyc dump` with `ntsdumpdir` (chronyc(1): the server's NTS keys and the
 * client's NTS cookies are saved too), beside chronyd 4.3: an NTS client of a
 * chronyd 4.3 NTS server holds cookies but has no file in ntsdumpdir until
 * `dump` writes it (no `dumpdir` configured), and an NTS server rewrites its
 * ntskeys on `dump`. Both for the real chronyd and for horae.
 *
 * Safety: -x, loopback, private 0700 directories, daemons stopped by PID.
 * @module
 */
import assert from "node:assert/strict";
import {
  freePort,
  haveChrony,
  makeCert,
  ROOT,
  runCommand,
  startChronyd,
  startHorae,
} from "./harness.ts";

const enabled = haveChrony();

/** Files in `dir` ending with .nts. */
function ntsFiles(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".nts"));
  } catch {
    return [];
  }
}

/** Cookies the client at `sock` holds (authdata's Cook column, the real chronyc). */
async function cookies(sock: string): Promise<number> {
  const r = await runCommand("/usr/bin/chronyc", ["-h", sock, "-n", "-c", "authdata"]);
  const f = r.stdout.trim().split(",");
  return r.code === 0 && f[1] === "NTS" ? Number(f[8]) : 0;
}

async function dump(chronyc: string, sock: string): Promise<void> {
  const r = await runCommand(chronyc, ["-h", sock, "-n", "dump"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.equal(r.stdout, "200 OK\n");
}

function mtime(path: string): number {
  return Deno.statSync(path).mtime?.getTime() ?? 0;
}

Deno.test({
  name: "dump writes the NTS client's cookies and the server's keys to ntsdumpdir, as chronyd 4.3",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ke = freePort();
    const server = await startChronyd({ port: freePort(), ntsKePort: ke });
    const source =
      `server localhost port ${server.port} nts ntsport ${ke} iburst minpoll 0 maxpoll 0`;
    const refDir = await Deno.makeTempDir({ prefix: "horae-ntsdump-" });
    await Deno.chmod(refDir, 0o700);
    const ref = await startChronyd({
      flags: ["-4"],
      lines: [source, `ntstrustedcerts ${server.cert}`, `ntsdumpdir ${refDir}`],
    });
    const ours = await startHorae(
      [source, `ntstrustedcerts ${server.cert}`, "ntsdumpdir DIR/nts"],
      {
        flags: ["-4"],
      },
    );
    const certDir = await Deno.makeTempDir({ prefix: "horae-ntsdump-cert-" });
    await Deno.chmod(certDir, 0o700);
    const { cert, key } = await makeCert(certDir);
    const ourServer = await startHorae([
      `port ${freePort()}`,
      `ntsport ${freePort()}`,
      `ntsserverkey ${key}`,
      `ntsservercert ${cert}`,
      "ntsdumpdir DIR",
    ]);
    try {
      const clients = [
        {
          who: "chronyd 4.3",
          sock: ref.socket,
          dir: refDir,
          chronyc: "/usr/bin/chronyc",
          magic: /^NNC0\n/,
        },
        // horae's client file has its own format (lib/nts/cookie.ts)
        {
          who: "horae",
          sock: ours.socket,
          dir: `${ours.dir}/nts`,
          chronyc: `${ROOT}/bin/chronyc`,
          magic: /^horae-nts-client 1\n[^]*\ncookie [0-9a-f]+\n/,
        },
      ];
      for (const c of clients) {
        const end = Date.now() + 30_000;
        while (Date.now() < end && await cookies(c.sock) === 0) {
          await new Promise((r) => setTimeout(r, 300));
        }
        assert.ok(await cookies(c.sock) > 0, `${c.who}: no NTS cookies within 30 s`);
        assert.deepEqual(ntsFiles(c.dir), [], `${c.who}: no file before dump`);
        await dump(c.chronyc, c.sock);
        assert.equal(ntsFiles(c.dir).length, 1, `${c.who}: the cookie file after dump`);
        const text = Deno.readTextFileSync(`${c.dir}/${ntsFiles(c.dir)[0]}`);
        assert.match(text, c.magic, `${c.who}: ${text}`);
      }
      const servers = [
        { who: "chronyd 4.3", sock: server.socket, keys: `${server.dir}/ntskeys` },
        { who: "horae", sock: ourServer.socket, keys: `${ourServer.dir}/ntskeys` },
      ];
      for (const s of servers) {
        const before = mtime(s.keys);
        await new Promise((r) => setTimeout(r, 50));
        await dump(s.who === "horae" ? `${ROOT}/bin/chronyc` : "/usr/bin/chronyc", s.sock);
        assert.ok(mtime(s.keys) > before, `${s.who}: ntskeys rewritten by dump`);
        assert.match(Deno.readTextFileSync(s.keys), /^NKS0\n/);
      }
    } finally {
      await ourServer.stop();
      await ours.stop();
      await ref.stop();
      await server.stop();
      await Deno.remove(refDir, { recursive: true }).catch(() => {});
      await Deno.remove(certDir, { recursive: true }).catch(() => {});
    }
  },
});
