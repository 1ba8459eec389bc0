/**
 * A mixed pool of NTS servers sharing one ntskeys file with chronyd 4.8,
 * which writes it as `NKS1` (a per-key AEAD; chronyd 4.3 and horae write
 * `NKS0`): the frame of nts_shared_keys_test.ts with 4.8 in chronyd's place.
 * One server does NTS-KE on 127.0.0.1 and sends its clients (`ntsntpserver`)
 * to the other one's NTP port on 127.0.0.2, which holds a copy of the
 * first one's key file and `ntsrotate 0` (keys managed externally). A real
 * chronyd client gets its cookies from the first and is served,
 * authenticated, by the second: no NTS NAK, no NTS-KE with the second.
 * Both ways: 4.8 writes NKS1 and horae reads it; horae writes NKS0 and 4.8
 * reads it. And a key file horae cannot read is refused with its path and
 * reason, and horae starts on fresh keys.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  CHRONYC48,
  CHRONYD48,
  freePort,
  haveChrony,
  haveChrony48,
  makeCert,
  startChronyd,
  startHorae,
} from "./harness.ts";
import {
  chronyc,
  horaeKeysServedByChronyd,
  ntsClientOf,
  serverstat,
  waitKeyFile,
} from "./nts_shared_keys_frame.ts";

const enabled = haveChrony() && haveChrony48();

Deno.test({
  name: "interop: chronyd 4.8 writes ntskeys as NKS1; horae reads it and accepts 4.8's cookies",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ntpPort = freePort();
    const kePort = freePort();
    const chronyd = await startChronyd({
      binary: CHRONYD48,
      port: ntpPort,
      ntsKePort: kePort,
      lines: ["ntsntpserver 127.0.0.2"],
    });
    const dir = await Deno.makeTempDir({ prefix: "horae-shared48-" });
    await Deno.chmod(dir, 0o700);
    let horae: Awaited<ReturnType<typeof startHorae>> | null = null;
    try {
      const keys = await waitKeyFile(`${chronyd.dir}/ntskeys`, "NKS1");
      assert.match(keys, /^NKS1\n\d+\.\d\n([0-9A-F]{8} [0-9A-F]+ \d+\n){4}$/, keys);
      await Deno.writeTextFile(`${dir}/ntskeys`, keys, { mode: 0o600 });
      horae = await startHorae([
        `port ${ntpPort}`,
        "bindaddress 127.0.0.2",
        "allow 127.0.0.0/8",
        "local stratum 1",
        `ntsservercert ${chronyd.cert}`,
        `ntsserverkey ${chronyd.dir}/localhost-key.pem`,
        `ntsport ${freePort()}`,
        "ntsrotate 0",
        `ntsdumpdir ${dir}`,
      ], { flags: ["-4"] });
      const { auth, reach, sources } = await ntsClientOf(kePort, ntpPort, chronyd.cert!);
      const stats = await chronyc(horae.socket, ["serverstats"]);
      const theirs = await chronyc(chronyd.socket, ["serverstats"], CHRONYC48);
      const what =
        `authdata ${auth}\nsources ${sources}\nhorae:\n${stats}\nchronyd 4.8:\n${theirs}`;
      assert.equal(auth[1], "NTS", what);
      assert.equal(auth[7], "0", `no NTS NAK: ${what}`);
      assert.equal(reach & 7, 7, what);
      assert.equal(serverstat(stats, /NTS-KE connections accepted/), 0, what);
      assert.ok(serverstat(stats, /Authenticated NTP packets/) >= 3, what);
      assert.equal(serverstat(theirs, /NTP packets received/), 0, what);
      assert.ok(serverstat(theirs, /NTS-KE connections accepted/) >= 1, what);
      const log = await horae.stop();
      horae = null;
      assert.match(log, /Loaded 4 NTS server keys/, log);
      assert.equal(await Deno.readTextFile(`${dir}/ntskeys`), keys); // ntsrotate 0: not rewritten
    } finally {
      await horae?.stop();
      await chronyd.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "interop: horae writes ntskeys as NKS0; chronyd 4.8 reads it and accepts horae's cookies",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const { what, chronydLog } = await horaeKeysServedByChronyd({
      binary: CHRONYD48,
      chronycBinary: CHRONYC48,
      lines: ["ntsrotate 0"],
      magic: "NKS0",
    });
    assert.match(chronydLog, /Loaded server NTS keys/, what);
  },
});

Deno.test({
  name:
    "interop: a key file horae cannot read is refused with its path and reason; fresh keys, NKS0",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "horae-badkeys-" });
    await Deno.chmod(dir, 0o700);
    const { cert, key } = await makeCert(dir);
    // An NKS1 key line whose AEAD neither chronyd nor horae knows.
    const bad = `NKS1\n5.0\n${
      [0, 1, 2, 3].map((i) => `0000001${i} ${"AB".repeat(32)} ${i === 1 ? 99 : 15}`).join("\n")
    }\n`;
    await Deno.writeTextFile(`${dir}/ntskeys`, bad, { mode: 0o600 });
    const kePort = freePort();
    const horae = await startHorae([
      `port ${freePort()}`,
      "allow 127.0.0.0/8",
      `ntsservercert ${cert}`,
      `ntsserverkey ${key}`,
      `ntsport ${kePort}`,
      `ntsdumpdir ${dir}`,
    ], { flags: ["-4"] });
    let log = "";
    try {
      const text = await waitKeyFile(`${dir}/ntskeys`, "NKS0");
      assert.match(text, /^NKS0\n15 \d+\.\d\n([0-9A-F]{8} [0-9A-F]{64}\n){4}$/, text);
      assert.doesNotMatch(text, /ABABABAB/, text); // fresh keys
    } finally {
      log = await horae.stop();
      await Deno.remove(dir, { recursive: true });
    }
    assert.match(
      log,
      new RegExp(
        `Could not load NTS server keys from ${dir}/ntskeys : line 4: unsupported AEAD 99`,
      ),
      log,
    );
  },
});
