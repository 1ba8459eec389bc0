import assert from "node:assert/strict";
import { TlsError } from "../../ffi/libssl.ts";
import { ntsKeExchange } from "../../lib/io/nts_ke_client.ts";
import { buildNtsRequest, verifyNtsReply } from "../../lib/nts/ntp_auth.ts";
import { AEAD_AES_SIV_CMAC_256, AES_SIV_CMAC_256 } from "../../lib/nts/siv.ts";
import { freePort, haveChrony, type RealChronyd, startChronyd } from "./harness.ts";

const enabled = haveChrony();

async function withNtsServer(fn: (c: RealChronyd, ntsPort: number) => Promise<void>) {
  const ntsPort = freePort();
  const c = await startChronyd({ port: freePort(), ntsKePort: ntsPort });
  try {
    await fn(c, ntsPort);
  } finally {
    await c.stop();
  }
}

function clientHeader(): Uint8Array {
  const h = new Uint8Array(48);
  h[0] = (0 << 6) | (4 << 3) | 3; // LI 0, version 4, mode 3 (client). RFC 5905 §7.3
  crypto.getRandomValues(h.subarray(40, 48)); // transmit timestamp: any unique value
  return h;
}

async function udpExchange(port: number, request: Uint8Array): Promise<Uint8Array> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      await sock.send(request, { transport: "udp", hostname: "127.0.0.1", port });
      const timeout = new Promise<null>((r) => setTimeout(() => r(null), 1000));
      const got = await Promise.race([sock.receive(), timeout]);
      if (got) return got[0];
    }
    throw new Error("no NTP reply from chronyd");
  } finally {
    sock.close();
  }
}

Deno.test({
  name: "interop: horae NTS-KE client gets 8 cookies and AEAD 15 keys from the real chronyd, " +
    "and an NTS-authenticated NTP request with them is answered and verifies",
  ignore: !enabled,
  sanitizeResources: false,
  async fn() {
    await withNtsServer(async (c, ntsPort) => {
      const ke = await ntsKeExchange({
        host: "localhost",
        address: "127.0.0.1",
        port: ntsPort,
        caFiles: [c.cert!],
        systemCerts: false,
      });
      assert.equal(ke.aead, AEAD_AES_SIV_CMAC_256);
      assert.equal(ke.cookies.length, 8);
      assert.equal(ke.c2sKey.length, 32);
      assert.equal(ke.s2cKey.length, 32);
      assert.notDeepEqual(ke.c2sKey, ke.s2cKey);
      assert.equal(ke.server, "localhost");

      // NTP over UDP to the real chronyd, authenticated with those keys.
      for (const placeholders of [0, 2]) {
        const uniqueId = crypto.getRandomValues(new Uint8Array(32));
        const header = clientHeader();
        const req = buildNtsRequest(header, {
          uniqueId,
          cookie: ke.cookies.shift()!,
          placeholders,
          aead: AES_SIV_CMAC_256,
          c2s: ke.c2sKey,
          nonce: crypto.getRandomValues(new Uint8Array(16)),
        });
        const reply = await udpExchange(c.port, req);
        assert.equal(reply[0]! & 7, 4, "server mode");
        assert.notEqual(reply[1], 0, "not a kiss-o'-death");
        assert.deepEqual(reply.subarray(24, 32), header.subarray(40, 48), "origin timestamp");
        const check = verifyNtsReply(reply, {
          uniqueId,
          aead: AES_SIV_CMAC_256,
          s2c: ke.s2cKey,
        });
        assert.equal(check.kind, "ok");
        if (check.kind === "ok") assert.equal(check.cookies.length, 1 + placeholders);
        // A reply checked with the wrong key must not verify.
        assert.throws(
          () => verifyNtsReply(reply, { uniqueId, aead: AES_SIV_CMAC_256, s2c: ke.c2sKey }),
          { name: "NtsAuthError" },
        );
      }
    });
  },
});

Deno.test({
  name: "interop: wrong host name and untrusted certificate give typed TLS errors",
  ignore: !enabled,
  sanitizeResources: false,
  async fn() {
    await withNtsServer(async (c, ntsPort) => {
      let e: unknown;
      try {
        await ntsKeExchange({
          host: "wrong.example",
          address: "127.0.0.1",
          port: ntsPort,
          caFiles: [c.cert!],
          systemCerts: false,
        });
      } catch (err) {
        e = err;
      }
      assert.ok(e instanceof TlsError, String(e));
      assert.equal(e.kind, "verify");
      assert.match(e.message, /does not match host name wrong\.example/);

      e = undefined;
      try {
        await ntsKeExchange({ host: "localhost", address: "127.0.0.1", port: ntsPort });
      } catch (err) {
        e = err;
      }
      assert.ok(e instanceof TlsError, String(e));
      assert.equal(e.kind, "verify");
      assert.match(e.message, /not trusted/);
    });
  },
});
