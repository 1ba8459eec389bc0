import assert from "node:assert/strict";
import { TlsError } from "../../ffi/libssl.ts";
import { ntsKeExchange, NtsKeTransportError } from "../../lib/io/nts_ke_client.ts";
import { NtsKeServer } from "../../lib/io/nts_ke_server.ts";
import { ServerKeyRing } from "../../lib/nts/cookie.ts";
import { buildNtsRequest, verifyNtsRequest } from "../../lib/nts/ntp_auth.ts";
import { AES_SIV_CMAC_256 } from "../../lib/nts/siv.ts";
import { freePort, haveChrony, makeCert, runCommand, startChronyd } from "./harness.ts";

async function certPair(dir: string, name: string, san: string) {
  const { cert, key } = await makeCert(dir, name, san);
  return { certFile: cert, keyFile: key };
}

function newRing() {
  return ServerKeyRing.fresh(crypto.getRandomValues(new Uint8Array(144)), 0n, 604800);
}

Deno.test({
  name: "nts-ke server: horae client gets 8 cookies whose keys match the exported ones, " +
    "SNI picks the matching certificate, and the cookies authenticate an NTP request",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "horae-ntske-" });
    const a = await certPair(dir, "localhost", "DNS:localhost,IP:127.0.0.1");
    const b = await certPair(dir, "alt.test", "DNS:alt.test");
    const ring = newRing();
    const srv = NtsKeServer.start({
      port: 0,
      pairs: [a, b],
      keyRing: ring,
      ntpPort: 11123,
    });
    try {
      const ke = await ntsKeExchange({
        host: "localhost",
        address: "127.0.0.1",
        port: srv.port,
        caFiles: [a.certFile],
        systemCerts: false,
      });
      assert.equal(ke.cookies.length, 8);
      assert.equal(ke.aead, 15);
      assert.equal(ke.port, 11123);
      for (const c of ke.cookies) {
        const k = ring.openCookie(c);
        assert.ok(k);
        assert.deepEqual(k.c2s, ke.c2sKey);
        assert.deepEqual(k.s2c, ke.s2cKey);
      }
      // The server side of NTP accepts a request made with these.
      const uid = crypto.getRandomValues(new Uint8Array(32));
      const req = buildNtsRequest(new Uint8Array(48), {
        uniqueId: uid,
        cookie: ke.cookies[0]!,
        placeholders: 3,
        aead: AES_SIV_CMAC_256,
        c2s: ke.c2sKey,
        nonce: crypto.getRandomValues(new Uint8Array(16)),
      });
      const v = verifyNtsRequest(req, (c) => ring.openCookie(c));
      assert.equal(v.cookiesWanted, 4);
      assert.deepEqual(v.uniqueId, uid);

      // SNI alt.test selects the second certificate, trusted on its own (from a directory).
      await Deno.mkdir(`${dir}/trusted`);
      await Deno.copyFile(b.certFile, `${dir}/trusted/alt.pem`);
      const alt = await ntsKeExchange({
        host: "alt.test",
        address: "127.0.0.1",
        port: srv.port,
        caFiles: [`${dir}/trusted`],
        systemCerts: false,
      });
      assert.equal(alt.cookies.length, 8);
      // Finished sessions are reused (SSL_clear): one switched to alt.test's certificate by SNI
      // must present the first (default) certificate again to the next client without SNI.
      for (let i = 0; i < 3; i++) {
        const again = await ntsKeExchange({
          host: "127.0.0.1",
          address: "127.0.0.1",
          port: srv.port,
          caFiles: [a.certFile],
          systemCerts: false,
        });
        assert.equal(again.cookies.length, 8);
      }
      // ...and the first certificate is not accepted for alt.test.
      await assert.rejects(
        ntsKeExchange({
          host: "alt.test",
          address: "127.0.0.1",
          port: srv.port,
          caFiles: [a.certFile],
          systemCerts: false,
        }),
        (e) => e instanceof TlsError && e.kind === "verify",
      );
      assert.equal(srv.stats.served, 5);
    } finally {
      await srv.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "nts-ke server: connections beyond maxntsconnections are dropped",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "horae-ntske-" });
    const a = await certPair(dir, "localhost", "DNS:localhost,IP:127.0.0.1");
    const srv = NtsKeServer.start({ port: 0, pairs: [a], keyRing: newRing(), maxConnections: 1 });
    const idle = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
    try {
      await new Promise((r) => setTimeout(r, 50));
      await assert.rejects(
        ntsKeExchange({
          host: "localhost",
          address: "127.0.0.1",
          port: srv.port,
          caFiles: [a.certFile],
          systemCerts: false,
        }),
        // closed before any TLS answer: chronyd's words for it
        (e) =>
          e instanceof NtsKeTransportError && e.kind === "handshake" &&
          e.reason === "The TLS connection was non-properly terminated.",
      );
      assert.equal(srv.stats.dropped, 1);
    } finally {
      idle.close();
      await srv.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "nts-ke server: sessions that stall are closed at the session time limit, each at its own",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "horae-ntske-" });
    const a = await certPair(dir, "localhost", "DNS:localhost,IP:127.0.0.1");
    const srv = NtsKeServer.start({ port: 0, pairs: [a], keyRing: newRing(), timeoutMs: 500 });
    const silent = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
    const ends = (c: Deno.Conn) =>
      c.read(new Uint8Array(4096)).then((n) => n === null ? "end" : "data", () => "reset");
    try {
      await new Promise((r) => setTimeout(r, 250));
      // a TLS record header announcing more than is sent: the handshake waits for the rest
      const partial = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
      await partial.write(new Uint8Array([0x16, 0x03, 0x01, 0x01, 0x00, 0x01]));
      const ke = await ntsKeExchange({
        host: "localhost",
        address: "127.0.0.1",
        port: srv.port,
        caFiles: [a.certFile],
        systemCerts: false,
      });
      assert.equal(ke.cookies.length, 8);
      assert.equal(srv.connections, 2);
      const first = await ends(silent);
      // the later one is still open when the first is closed
      assert.equal(srv.connections, 1);
      assert.equal(await ends(partial), "end");
      assert.equal(first, "end");
      assert.equal(srv.connections, 0);
      assert.deepEqual(srv.stats, { served: 1, dropped: 0, failed: 2 });
      partial.close();
    } finally {
      silent.close();
      await srv.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

const enabled = haveChrony();

Deno.test({
  name: "interop: the real chronyd as NTS client completes NTS-KE with horae's server " +
    "(chronyc -N authdata shows NTS with cookies)",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "horae-ntske-" });
    const a = await certPair(dir, "localhost", "DNS:localhost,IP:127.0.0.1");
    const srv = NtsKeServer.start({ port: freePort(), pairs: [a], keyRing: newRing() });
    const ntpPort = freePort();
    const client = await startChronyd({
      flags: ["-4"],
      lines: [
        `server localhost port ${ntpPort} iburst minpoll 0 maxpoll 2 nts ntsport ${srv.port}`,
        `ntstrustedcerts ${a.certFile}`,
        "nosystemcert",
      ],
    });
    try {
      let out = "";
      for (let i = 0; i < 50 && srv.stats.served === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      for (let i = 0; i < 20; i++) {
        const r = await runCommand("chronyc", ["-n", "-h", client.socket, "-N", "-c", "authdata"], {
          timeoutMs: 5000,
        });
        out = r.stdout;
        // CSV: name,mode,keyid,type,klen,last,atmp,nak,cook,clen
        const f = out.trim().split(",");
        if (f[1] === "NTS" && Number(f[8]) > 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const f = out.trim().split(",");
      assert.equal(f[1], "NTS", out);
      assert.ok(Number(f[2]) !== 0 || Number(f[8]) > 0, out);
      assert.equal(f[3], "15", `AEAD ${out}`);
      assert.ok(Number(f[8]) >= 1, `cookies ${out}`);
      assert.equal(srv.stats.served >= 1, true);
    } finally {
      await client.stop();
      await srv.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
