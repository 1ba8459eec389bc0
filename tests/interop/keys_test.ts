/**
 * Symmetric-key authentication (chrony.conf(5) `keyfile`, `server ... key
 * N`) between horae and the real chronyd 4.3, both ways, on loopback high
 * ports: horae's `chronyd -Q` against the real server, the real `chronyd -Q`
 * against horae's daemon, and the real `chronyc authdata` on horae's
 * daemon.
 */
import assert from "node:assert/strict";
import {
  freePort,
  haveChrony,
  ROOT,
  runCommand,
  startChronyd,
  startHorae,
  wrongBy,
} from "./harness.ts";

const enabled = haveChrony();

const KEYS = [
  "1 MD5 ASCII:horaetestkey1",
  "2 SHA256 HEX:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
  "3 AES128 HEX:000102030405060708090a0b0c0d0e0f",
  "4 SHA1 HEX:0102030405060708090a0b0c0d0e0f1011121314",
  "5 AES256 HEX:000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f",
  "6 SHA3-512 HEX:0102030405060708090a0b0c0d0e0f10",
].join("\n") + "\n";

async function keyFile(text: string): Promise<{ dir: string; path: string }> {
  const dir = await Deno.makeTempDir({ prefix: "horae-keys-" });
  await Deno.chmod(dir, 0o700);
  const path = `${dir}/chrony.keys`;
  await Deno.writeTextFile(path, text, { mode: 0o600 });
  return { dir, path };
}

async function horaeQ(port: number, key: number, keyPath: string, timeout = "5") {
  const line = `server 127.0.0.1 port ${port} iburst key ${key} maxsamples 1`;
  return await runCommand(`${ROOT}/bin/chronyd`, [
    "-Q",
    "-t",
    timeout,
    `keyfile ${keyPath}`,
    line,
  ], { timeoutMs: 20_000 });
}

Deno.test({
  name:
    "keys: horae chronyd -Q with MD5/SHA256/AES128/SHA1/AES256/SHA3-512 keys measures the real chronyd within 1 ms",
  ignore: !enabled,
  async fn() {
    const k = await keyFile(KEYS);
    const server = await startChronyd({ port: freePort(), lines: [`keyfile ${k.path}`] });
    try {
      for (const key of [1, 2, 3, 4, 5, 6]) {
        const r = await horaeQ(server.port, key, k.path);
        assert.equal(r.code, 0, `key ${key}: ${r.stderr}`);
        const x = wrongBy(r.stderr);
        assert.ok(x !== null && Math.abs(x) < 1e-3, `key ${key}: ${r.stderr}`);
      }
    } finally {
      await server.stop();
      await Deno.remove(k.dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "keys: horae chronyd -Q with a wrong key or an unknown key ID gets no sample and says so",
  ignore: !enabled,
  async fn() {
    const k = await keyFile(KEYS);
    const wrong = await keyFile("1 MD5 ASCII:notthesamekey\n7 MD5 ASCII:keyunknowntoserver\n");
    const server = await startChronyd({ port: freePort(), lines: [`keyfile ${k.path}`] });
    try {
      const bad = await horaeQ(server.port, 1, wrong.path, "3");
      assert.notEqual(bad.code, 0);
      assert.equal(wrongBy(bad.stderr), null);
      // chronyd drops a request whose MAC does not verify: no reply at all, so the
      // timeout is reached (chronyd -Q's words, nothing more)
      assert.match(bad.stderr, /Timeout reached/);
      // ... and one with a key it does not know
      const unknown = await horaeQ(server.port, 7, wrong.path, "3");
      assert.notEqual(unknown.code, 0);
      assert.equal(wrongBy(unknown.stderr), null);
      assert.match(unknown.stderr, /Timeout reached/);
    } finally {
      await server.stop();
      await Deno.remove(k.dir, { recursive: true });
      await Deno.remove(wrong.dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "keys: the real chronyd -Q with key 1/2/3 measures horae's daemon; a wrong key gets nothing",
  ignore: !enabled,
  async fn() {
    const k = await keyFile(KEYS);
    const port = freePort();
    const horae = await startHorae([
      `port ${port}`,
      "bindaddress 127.0.0.1",
      "local stratum 10",
      "allow 127.0.0.0/8",
      `keyfile ${k.path}`,
    ], { flags: ["-4"] });
    const wrong = await keyFile("1 MD5 ASCII:notthesamekey\n");
    try {
      for (const key of [1, 2, 3, 6]) {
        const r = await runCommand("/usr/sbin/chronyd", [
          "-Q",
          "-t",
          "5",
          `keyfile ${k.path}`,
          `server 127.0.0.1 port ${port} iburst key ${key} maxsamples 1`,
        ], { timeoutMs: 20_000 });
        assert.equal(r.code, 0, `key ${key}: ${r.stderr}`);
        const x = wrongBy(r.stderr);
        assert.ok(x !== null && Math.abs(x) < 1e-3, `key ${key}: ${r.stderr}`);
      }
      const bad = await runCommand("/usr/sbin/chronyd", [
        "-Q",
        "-t",
        "3",
        `keyfile ${wrong.path}`,
        `server 127.0.0.1 port ${port} iburst key 1 maxsamples 1`,
      ], { timeoutMs: 20_000 });
      assert.equal(wrongBy(bad.stderr), null, bad.stderr);
      const stats = await runCommand("/usr/bin/chronyc", ["-n", "-h", horae.socket, "serverstats"]);
      const auth = stats.stdout.match(/Authenticated NTP packets\s*:\s*(\d+)/);
      assert.ok(auth && Number(auth[1]) >= 4, stats.stdout);
    } finally {
      await horae.stop();
      await Deno.remove(k.dir, { recursive: true });
      await Deno.remove(wrong.dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "keys: the real chronyc authdata on horae's daemon shows SK with KeyID, Type, KLen as chronyd 4.3",
  ignore: !enabled,
  async fn() {
    const k = await keyFile(KEYS + "9 abc\n");
    const lines = [
      "port 0",
      `keyfile ${k.path}`,
      "server 127.0.0.1 port 9 key 1",
      "server 127.0.0.2 port 9 key 2",
      "server 127.0.0.3 port 9 key 3",
      "server 127.0.0.4 port 9 key 4",
      "server 127.0.0.5 port 9 key 5",
      "server 127.0.0.6 port 9 key 6",
      "server 127.0.0.9 port 9 key 9",
      "server 127.0.0.10 port 9 key 55",
      "server 127.0.0.11 port 9",
    ];
    const horae = await startHorae(lines, { flags: ["-4"] });
    let log = "";
    try {
      const r = await runCommand("/usr/bin/chronyc", ["-n", "-c", "-h", horae.socket, "authdata"]);
      assert.equal(r.code, 0, r.stderr);
      const rows = r.stdout.trim().split("\n").map((l) => l.split(",").slice(0, 5).join(","));
      // Type numbers and lengths as the real chronyd 4.3 reported the same key file.
      assert.deepEqual(rows, [
        "127.0.0.1,SK,1,1,104",
        "127.0.0.2,SK,2,3,256",
        "127.0.0.3,SK,3,13,128",
        "127.0.0.4,SK,4,2,160",
        "127.0.0.5,SK,5,14,256",
        "127.0.0.6,SK,6,9,128",
        "127.0.0.9,SK,9,1,24",
        "127.0.0.10,SK,55,0,0",
        "127.0.0.11,-,0,0,0",
      ]);
      const rekey = await runCommand("/usr/bin/chronyc", ["-n", "-h", horae.socket, "rekey"]);
      assert.equal(rekey.code, 0, rekey.stdout + rekey.stderr);
    } finally {
      log = await horae.stop();
      await Deno.remove(k.dir, { recursive: true });
    }
    assert.match(log, /Key 55 is missing/);
    assert.match(log, /Key 9 is shorter than 80 bits/);
  },
});
