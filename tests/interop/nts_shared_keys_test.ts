/**
 * A mixed pool of NTS servers sharing one ntskeys file: chronyd and horae
 * accept each other's cookies. One server does NTS-KE on 127.0.0.1 and sends
 * its clients (`ntsntpserver`) to the other one's NTP port on 127.0.0.2,
 * which holds a copy of the first one's key file. A real chronyd client gets
 * its cookies from the first and is served, authenticated, by the second: no
 * NTS NAK, no NTS-KE with the second, replies accepted. And with
 * `ntsrotate 0` the file is only read (at start and on `chronyc rekey`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { ntsKeExchange } from "../../lib/io/nts_ke_client.ts";
import { formatServerKeys, ServerKeyRing } from "../../lib/nts/cookie.ts";
import { freePort, haveChrony, makeCert, startChronyd, startHorae } from "./harness.ts";
import {
  chronyc,
  horaeKeysServedByChronyd,
  ntsClientOf,
  serverstat,
  waitKeyFile,
} from "./nts_shared_keys_frame.ts";

const enabled = haveChrony();

Deno.test({
  name: "interop: cookies from chronyd's NTS-KE are accepted by horae's NTP server sharing ntskeys",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ntpPort = freePort();
    const kePort = freePort();
    const chronyd = await startChronyd({
      port: ntpPort,
      ntsKePort: kePort,
      lines: ["ntsntpserver 127.0.0.2"],
    });
    const keys = await waitKeyFile(`${chronyd.dir}/ntskeys`);
    // horae loads chronyd's file as is.
    const dir = await Deno.makeTempDir({ prefix: "horae-shared-" });
    await Deno.chmod(dir, 0o700);
    await Deno.writeTextFile(`${dir}/ntskeys`, keys, { mode: 0o600 });
    const horae2 = await startHorae([
      `port ${ntpPort}`,
      "bindaddress 127.0.0.2",
      "allow 127.0.0.0/8",
      "local stratum 1",
      `ntsservercert ${chronyd.cert}`,
      `ntsserverkey ${chronyd.dir}/localhost-key.pem`,
      `ntsport ${freePort()}`,
      `ntsdumpdir ${dir}`,
    ], { flags: ["-4"] });
    try {
      const { auth, reach, sources } = await ntsClientOf(kePort, ntpPort, chronyd.cert!);
      const stats = await chronyc(horae2.socket, ["serverstats"]);
      const theirs = await chronyc(chronyd.socket, ["serverstats"]);
      const what = `authdata ${auth}\nsources ${sources}\nhorae:\n${stats}\nchronyd:\n${theirs}`;
      assert.equal(auth[1], "NTS", what);
      assert.equal(auth[7], "0", `no NTS NAK: ${what}`);
      assert.equal(auth[9], "100", what);
      assert.equal(reach & 7, 7, what);
      assert.equal(serverstat(stats, /NTS-KE connections accepted/), 0, what);
      assert.ok(serverstat(stats, /Authenticated NTP packets/) >= 3, what);
      assert.equal(serverstat(theirs, /NTP packets received/), 0, what);
      assert.ok(serverstat(theirs, /NTS-KE connections accepted/) >= 1, what);
    } finally {
      await horae2.stop();
      await chronyd.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "interop: cookies from horae's NTS-KE are accepted by chronyd's NTP server sharing ntskeys",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { auth, what } = await horaeKeysServedByChronyd({});
    assert.equal(auth[9], "100", what);
  },
});

Deno.test({
  name: "interop: with ntsrotate 0 horae never writes ntskeys and re-reads it on chronyc rekey " +
    "(keys managed externally, as chronyd)",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "horae-rekey-" });
    await Deno.chmod(dir, 0o700);
    const { cert, key } = await makeCert(dir);
    const ring = (seed: number) =>
      ServerKeyRing.fresh(new Uint8Array(144).map((_, i) => (i * 7 + seed) & 0xff), 0n, 0);
    const a = ring(1), b = ring(2);
    await Deno.writeTextFile(`${dir}/ntskeys`, formatServerKeys(a.all, 5), { mode: 0o600 });
    const kePort = freePort();
    const horae = await startHorae([
      `port ${freePort()}`,
      "allow 127.0.0.0/8",
      `ntsservercert ${cert}`,
      `ntsserverkey ${key}`,
      `ntsport ${kePort}`,
      "ntsrotate 0",
      `ntsdumpdir ${dir}`,
    ], { flags: ["-4"] });
    const keyId = async () => {
      const ke = await ntsKeExchange({
        host: "localhost",
        address: "127.0.0.1",
        port: kePort,
        caFiles: [cert],
        systemCerts: false,
      });
      return new DataView(ke.cookies[0]!.buffer, ke.cookies[0]!.byteOffset).getUint32(0);
    };
    try {
      assert.equal(await keyId(), a.all[2]!.id);
      const bText = formatServerKeys(b.all, 0);
      await Deno.writeTextFile(`${dir}/ntskeys`, bText);
      assert.equal(await keyId(), a.all[2]!.id); // not before rekey
      assert.match(await chronyc(horae.socket, ["rekey"]), /200 OK/);
      assert.equal(await keyId(), b.all[2]!.id);
      await horae.stop();
      assert.equal(await Deno.readTextFile(`${dir}/ntskeys`), bText); // not rewritten
    } finally {
      await horae.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "interop: horae's former ntskeys file is converted to chronyd's format at start",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "horae-oldkeys-" });
    await Deno.chmod(dir, 0o700);
    const { cert, key } = await makeCert(dir);
    const old = `horae-nts-server-keys 1\naead 15\nkey 0badcafe ${"ab".repeat(32)}\n`;
    await Deno.writeTextFile(`${dir}/ntskeys`, old, { mode: 0o600 });
    const horae = await startHorae([
      `port ${freePort()}`,
      "allow 127.0.0.0/8",
      `ntsservercert ${cert}`,
      `ntsserverkey ${key}`,
      `ntsport ${freePort()}`,
      `ntsdumpdir ${dir}`,
    ], { flags: ["-4"] });
    try {
      const text = await waitKeyFile(`${dir}/ntskeys`);
      const lines = text.trim().split("\n");
      assert.equal(lines.length, 6, text);
      assert.equal(lines[4]!.split(" ")[1], "AB".repeat(32), text); // the current key kept
    } finally {
      const log = await horae.stop();
      assert.match(log, /Converted NTS server keys/);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
