/**
 * `ntsprocesses`: NTS-KE served by helper Workers (lib/daemon/nts_ke_helpers.ts)
 * gives valid cookies from every helper, and keys rotated by `ntsrotate` in the
 * main thread reach every helper (their new cookies are under the new key).
 */
import assert from "node:assert/strict";
import { defaultConfig } from "../../lib/conf/config.ts";
import { startNtsServer } from "../../lib/daemon/nts_server.ts";
import { Logger } from "../../lib/daemon/log.ts";
import { ntsKeExchange } from "../../lib/io/nts_ke_client.ts";
import { makeCert } from "../interop/harness.ts";
import { NtsKeHelpers } from "../../lib/daemon/nts_ke_helpers.ts";
import { NtsKeServer } from "../../lib/io/nts_ke_server.ts";
import { ServerKeyRing } from "../../lib/nts/cookie.ts";

function idOf(cookie: Uint8Array): number {
  return new DataView(cookie.buffer, cookie.byteOffset, 4).getUint32(0);
}

Deno.test("ntsprocesses 2: every helper gives valid cookies; rotated keys reach the helpers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-nts-helpers-" });
  const { cert, key } = await makeCert(dir);
  const config = defaultConfig();
  config.ntsServerCerts = [cert];
  config.ntsServerKeys = [key];
  config.ntsRotate = 1;
  config.port = 12345;
  let now = 1_900_000_000_000_000_000n;
  const nts = (await startNtsServer(config, new Logger({ sink: "stderr", level: 3 }), {
    hostname: "127.0.0.1",
    port: 0,
    processes: 2,
    now: () => now,
  }))!;
  try {
    assert(nts.helpers !== null, "helpers started");
    assert.deepEqual(nts.helpers.size, 2);
    const exchange = () =>
      ntsKeExchange({
        host: "localhost",
        address: "127.0.0.1",
        port: nts.keServer.port,
        caFiles: [cert],
        systemCerts: false,
      });
    const check = async (keyId: number) => {
      const before = nts.helpers!.servedPerHelper;
      for (let i = 0; i < 4; i++) {
        const ke = await exchange();
        assert.deepEqual(ke.port, 12345);
        assert.deepEqual(ke.cookies.length, 8);
        for (const c of ke.cookies) {
          assert.deepEqual(idOf(c), keyId);
          const keys = nts.ring.openCookie(c);
          assert(keys !== null, "the main thread opens a helper's cookie");
          assert.deepEqual(keys.c2s, ke.c2sKey);
          assert.deepEqual(keys.s2c, ke.s2cKey);
        }
      }
      // the done messages may trail the client's last read
      const deadline = Date.now() + 5000;
      while (
        nts.helpers!.servedPerHelper.reduce((a, b) => a + b, 0) <
          before.reduce((a, b) => a + b) + 4 &&
        Date.now() < deadline
      ) await new Promise((r) => setTimeout(r, 20));
      const after = nts.helpers!.servedPerHelper;
      after.forEach((n, i) => assert(n >= before[i]! + 2, `helper ${i} served ${n - before[i]!}`));
    };
    const first = nts.ring.all[2]!.id;
    await check(first);
    assert.deepEqual(nts.keServer.stats.served, 4);

    // ntsrotate: the main thread's timer rotates (the clock moved past the interval)
    now += 2_000_000_000n;
    const deadline = Date.now() + 10_000;
    while (nts.ring.all[2]!.id === first && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const rotated = nts.ring.all[2]!.id;
    assert(rotated !== first, "the key rotated");
    await check(rotated);
    assert.deepEqual(nts.keServer.stats.served, 8);
  } finally {
    await nts.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ntsprocesses: helpers that fail are given no more connections; with none left the main thread serves", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-nts-helpers-" });
  const { cert, key } = await makeCert(dir);
  const config = defaultConfig();
  config.ntsServerCerts = [cert];
  config.ntsServerKeys = [key];
  const nts = (await startNtsServer(config, new Logger({ sink: "stderr", level: 3 }), {
    hostname: "127.0.0.1",
    port: 0,
    processes: 2,
  }))!;
  const exchange = () =>
    ntsKeExchange({
      host: "localhost",
      address: "127.0.0.1",
      port: nts.keServer.port,
      caFiles: [cert],
      systemCerts: false,
    });
  // the Workers as the pool holds them (an uncaught error in one reaches its onerror)
  const workers = (nts.helpers as unknown as { helpers: { worker: Worker }[] }).helpers
    .map((h) => h.worker);
  try {
    workers[0]!.dispatchEvent(new ErrorEvent("error", { message: "test failure" }));
    assert.equal(nts.helpers!.alive, true);
    const before = nts.helpers!.servedPerHelper;
    for (let i = 0; i < 3; i++) assert.equal((await exchange()).cookies.length, 8);
    const deadline = Date.now() + 5000;
    while (nts.helpers!.servedPerHelper[1]! < before[1]! + 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(nts.helpers!.servedPerHelper, [before[0]!, before[1]! + 3]);
    workers[1]!.dispatchEvent(new ErrorEvent("error", { message: "test failure" }));
    assert.equal(nts.helpers!.alive, false);
    const served = nts.keServer.stats.served;
    assert.equal((await exchange()).cookies.length, 8);
    const until = Date.now() + 5000;
    while (nts.keServer.stats.served < served + 1 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(nts.keServer.stats.served, served + 1, "served by the main thread");
    assert.deepEqual(nts.helpers!.servedPerHelper, [before[0]!, before[1]! + 3]);
  } finally {
    await nts.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ntsprocesses: a helper closes a stalled session at the time limit while it serves others", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-nts-helpers-" });
  const { cert, key } = await makeCert(dir);
  const keyRing = ServerKeyRing.fresh(crypto.getRandomValues(new Uint8Array(144)), 0n, 604800);
  const results: (string | null)[] = [];
  const helpers = await NtsKeHelpers.start(1, {
    pairs: [{ certFile: cert, keyFile: key }],
    aeads: [15],
    keyRing,
    maxConnections: 4,
    timeoutMs: 500,
    onResult: (r) => results.push(r),
  });
  const srv = NtsKeServer.start({
    port: 0,
    pairs: [{ certFile: cert, keyFile: key }],
    keyRing,
    handoff: helpers,
  });
  const stalled = await Deno.connect({ hostname: "127.0.0.1", port: srv.port });
  try {
    const ke = await ntsKeExchange({
      host: "localhost",
      address: "127.0.0.1",
      port: srv.port,
      caFiles: [cert],
      systemCerts: false,
    });
    assert.equal(ke.cookies.length, 8);
    assert(keyRing.openCookie(ke.cookies[0]!) !== null);
    // closed by the helper (end of stream), counted as failed
    assert.equal(await stalled.read(new Uint8Array(64)), null);
    const deadline = Date.now() + 5000;
    while (results.length < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(results.sort(), ["failed", "served"]);
    assert.deepEqual(helpers.servedPerHelper, [1]);
  } finally {
    stalled.close();
    await srv.close();
    await helpers.close();
    await Deno.remove(dir, { recursive: true });
  }
});
