import assert from "node:assert/strict";
import {
  CookieJar,
  formatClientState,
  formatServerKeys,
  type NtsClientState,
  NtsDumpError,
  parseClientState,
  parseServerKeys,
  SERVER_KEY_RANDOM_LENGTH,
  SERVER_KEYS_KEPT,
  ServerKeyRing,
} from "../../lib/nts/cookie.ts";
import { AesSivKey, SivNonces } from "../../lib/crypto/siv.ts";

const SEC = 1_000_000_000n;

function rnd(n: number, seed: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (i * 31 + seed * 7 + 1) & 0xff);
}

const keys = { aead: 15, c2s: rnd(32, 1), s2c: rnd(32, 2) };

const SEED_BYTES = SERVER_KEYS_KEPT * SERVER_KEY_RANDOM_LENGTH;

Deno.test("cookie: 100 bytes as chronyd's: key id, nonce, AES-SIV(AD one empty component, C2S || S2C)", () => {
  const ring = ServerKeyRing.fresh(rnd(SEED_BYTES, 3), 0n, 3600);
  const c = ring.makeCookie(keys, rnd(16, 4));
  assert.equal(c.length, 100);
  assert.deepEqual(ring.openCookie(c), keys);
  // The layout, checked with the AES-SIV primitive alone.
  const current = ring.all[2]!;
  assert.equal(new DataView(c.buffer).getUint32(0), current.id);
  assert.deepEqual(c.subarray(4, 20), rnd(16, 4));
  const plain = AesSivKey.create(current.key).open(
    c.subarray(4, 20),
    [new Uint8Array(0)],
    c.subarray(20),
  );
  assert.deepEqual(plain, Uint8Array.of(...keys.c2s, ...keys.s2c));
  assert.throws(() => ring.makeCookie({ ...keys, aead: 30 }, rnd(16, 4)), RangeError);
});

Deno.test("cookie: any altered byte makes the cookie unopenable", () => {
  const ring = ServerKeyRing.fresh(rnd(SEED_BYTES, 3), 0n, 3600);
  const c = ring.makeCookie(keys, rnd(16, 4));
  for (let i = 0; i < c.length; i++) {
    const bad = c.slice();
    bad[i]! ^= 1;
    assert.equal(ring.openCookie(bad), null, `byte ${i}`);
  }
  assert.equal(ring.openCookie(c.subarray(0, 40)), null);
  assert.equal(ring.openCookie(Uint8Array.of(...c, 0, 0, 0, 0)), null);
  assert.equal(ring.openCookie(new Uint8Array(0)), null);
});

Deno.test("cookie: four keys (two previous, current, next) in successive id slots; rotation", () => {
  const ring = ServerKeyRing.fresh(rnd(SEED_BYTES, 10), 0n, 100);
  const slots = () => ring.all.map((k) => k.id & 3);
  const s0 = slots();
  for (let i = 1; i < 4; i++) assert.equal(s0[i], (s0[0]! + i) & 3);
  assert.equal(ring.dueForRotation(99n * SEC), false);
  assert.equal(ring.dueForRotation(100n * SEC), true);
  const first = ring.makeCookie(keys, rnd(16, 1));
  const next = ring.all[3]!;
  ring.rotate(rnd(36, 11), 100n * SEC);
  assert.equal(ring.all[2], next); // the next key is now current
  assert.equal(ring.all[3]!.id & 3, (next.id + 1) & 3);
  assert.equal(new DataView(ring.makeCookie(keys, rnd(16, 1)).buffer).getUint32(0), next.id);
  ring.rotate(rnd(36, 12), 200n * SEC);
  assert.deepEqual(ring.openCookie(first), keys); // two rotations later: still open
  ring.rotate(rnd(36, 13), 300n * SEC);
  assert.equal(ring.all.length, 4);
  assert.equal(ring.openCookie(first), null);
  assert.equal(ring.dueForRotation(350n * SEC), false);
  assert.equal(ring.ageAt(350n * SEC), 50);
  assert.equal(ServerKeyRing.fresh(rnd(SEED_BYTES, 1), 0n, 0).dueForRotation(10n ** 15n), false);
  assert.throws(() => ServerKeyRing.fresh(rnd(36, 1), 0n, 0), RangeError);
});

Deno.test("cookie: servers sharing keys accept each other's cookies, made before or after a rotation", () => {
  const a = ServerKeyRing.fresh(rnd(SEED_BYTES, 30), 0n, 100);
  const b = ServerKeyRing.fromKeys(a.all, 0n, 100);
  a.rotate(rnd(36, 31), 100n * SEC); // a rotates first: its cookies use b's next key
  assert.deepEqual(b.openCookie(a.makeCookie(keys, rnd(16, 1))), keys);
  assert.deepEqual(a.openCookie(b.makeCookie(keys, rnd(16, 2))), keys);
});

Deno.test("cookie: ntskeys in chronyd's format round trips; a damaged file is a typed error", () => {
  const ring = ServerKeyRing.fresh(rnd(SEED_BYTES, 20), 0n, 100);
  ring.rotate(rnd(36, 21), 1n * SEC);
  const c = ring.makeCookie(keys, rnd(16, 5));
  const text = formatServerKeys(ring.all, ring.ageAt(13_240_000_000n));
  assert.match(text, /^NKS0\n15 12\.2\n([0-9A-F]{8} [0-9A-F]{64}\n){4}$/);
  const loaded = parseServerKeys(text, rnd(SEED_BYTES, 1));
  assert.equal(loaded.converted, false);
  assert.equal(loaded.age, 12.2);
  assert.deepEqual(loaded.keys, ring.all);
  const again = ServerKeyRing.fromKeys(loaded.keys, 100n * SEC, 100, loaded.age);
  assert.deepEqual(again.openCookie(c), keys);
  assert.equal(again.dueForRotation(187n * SEC), false);
  assert.equal(again.dueForRotation(188n * SEC), true); // 100 s after the last rotation
  const bad = (t: string) =>
    assert.throws(() => parseServerKeys(t, rnd(SEED_BYTES, 1)), NtsDumpError);
  bad("nonsense\n");
  bad(text.replace(/^15 /m, "30 "));
  bad(text.replace(/^15 12\.2/m, "15 x"));
  bad(text.replace(/\n[0-9A-F]{8} [0-9A-F]{64}\n$/, "\n")); // three keys
  bad(text.replace(/ ([0-9A-F]{2})/, " zz"));
  // a line after the fourth key is not read (as chronyd 4.3 and 4.8)
  assert.deepEqual(parseServerKeys(text + "0123ABCD 00\n", rnd(SEED_BYTES, 1)).keys, ring.all);
  assert.throws(() => ServerKeyRing.fromKeys(ring.all.slice(1), 0n, 100), RangeError);
});

Deno.test("cookie: horae's former key file is converted (current key kept, ids in slots, a next key)", () => {
  const old = [
    "horae-nts-server-keys 1",
    "aead 15",
    `key 0000000a ${"11".repeat(32)}`,
    `key 0000000b ${"22".repeat(32)}`,
    "",
  ].join("\n");
  const loaded = parseServerKeys(old, rnd(SEED_BYTES, 40));
  assert.equal(loaded.converted, true);
  assert.equal(loaded.keys.length, 4);
  assert.deepEqual(loaded.keys[2]!.key, new Uint8Array(32).fill(0x11)); // the newest is current
  assert.deepEqual(loaded.keys[1]!.key, new Uint8Array(32).fill(0x22));
  const s = loaded.keys.map((k) => k.id & 3);
  for (let i = 1; i < 4; i++) assert.equal(s[i], (s[0]! + i) & 3);
  const ring = ServerKeyRing.fromKeys(loaded.keys, 0n, 100, loaded.age);
  assert.deepEqual(ring.openCookie(ring.makeCookie(keys, rnd(16, 1))), keys);
  assert.throws(
    () => parseServerKeys(old.replace("aead 15", "aead 99"), rnd(SEED_BYTES, 1)),
    NtsDumpError,
  );
});

function state(n: number): NtsClientState {
  return {
    ...keys,
    server: "ntp.example",
    port: 123,
    keTime: 1000n * SEC,
    cookies: Array.from({ length: n }, (_, i) => rnd(104, i)),
  };
}

Deno.test("cookie: jar gives cookies oldest first with placeholders to refill to 8", () => {
  const jar = new CookieJar(state(8));
  const t1 = jar.take();
  assert.deepEqual(t1?.cookie, rnd(104, 0));
  assert.equal(t1?.placeholders, 0);
  const t2 = jar.take();
  assert.equal(t2?.placeholders, 1);
  while (jar.size > 1) jar.take();
  assert.equal(jar.take()?.placeholders, 7);
  assert.equal(jar.take(), null);
  jar.add(Array.from({ length: 10 }, (_, i) => rnd(104, 50 + i)));
  assert.equal(jar.size, 8);
  assert.deepEqual(jar.take()?.cookie, rnd(104, 52));
});

Deno.test("cookie: jar needs NTS-KE when empty or after ntsrefresh", () => {
  const jar = new CookieJar(state(2));
  assert.equal(jar.needsKe(1000n * SEC + 10n * SEC, 3600), false);
  assert.equal(jar.needsKe(1000n * SEC + 3600n * SEC, 3600), true);
  assert.equal(new CookieJar(state(0)).needsKe(1000n * SEC), true);
});

Deno.test("cookie: client state file round trip and typed errors", () => {
  const s = state(3);
  assert.deepEqual(parseClientState(formatClientState(s)), s);
  const text = formatClientState(s);
  assert.throws(() => parseClientState("x\n"), NtsDumpError);
  assert.throws(() => parseClientState(text.replace(/^c2s .*$/m, "c2s 00")), NtsDumpError);
  assert.throws(() => parseClientState(text.replace(/^server .*$/m, "server a 0")), NtsDumpError);
  assert.throws(() => parseClientState(text.replace(/^cookie .*$/m, "cookie q")), NtsDumpError);
});

Deno.test("cookies of AES-128-GCM-SIV keys (AEAD 30) are 68 bytes and open to their keys", () => {
  const ring = ServerKeyRing.fresh(new Uint8Array(4 * SERVER_KEY_RANDOM_LENGTH).fill(3), 0n, 3600);
  const keys = { aead: 30, c2s: new Uint8Array(16).fill(1), s2c: new Uint8Array(16).fill(2) };
  const c = ring.makeCookie(keys, new Uint8Array(16).fill(9));
  assert.equal(c.length, 68);
  assert.deepEqual(ring.openCookie(c), keys);
  const bad = c.slice();
  bad[40]! ^= 1;
  assert.equal(ring.openCookie(bad), null);
  assert.throws(() => ring.makeCookie({ ...keys, c2s: new Uint8Array(32) }, new Uint8Array(16)));
  const siv = { aead: 15, c2s: new Uint8Array(32).fill(1), s2c: new Uint8Array(32).fill(2) };
  assert.equal(ring.makeCookie(siv, new Uint8Array(16)).length, 100);
});

Deno.test("server key ring: nextRotation is the last rotation plus ntsrotate, none with ntsrotate 0", () => {
  const rnd144 = new Uint8Array(144).map((_, i) => i * 7);
  const ring = ServerKeyRing.fresh(rnd144, 5_000_000_000n, 3600);
  assert.equal(ring.nextRotation(), 5_000_000_000n + 3600_000_000_000n);
  assert.equal(ring.dueForRotation(ring.nextRotation()! - 1n), false);
  assert.equal(ring.dueForRotation(ring.nextRotation()!), true);
  ring.rotate(new Uint8Array(36).fill(9), 7_000_000_000_000n);
  assert.equal(ring.nextRotation(), 7_000_000_000_000n + 3600_000_000_000n);
  assert.equal(ServerKeyRing.fresh(rnd144, 0n, 0).nextRotation(), null);
});

Deno.test("cookie: made with pooled nonces, each nonce its own, across a rotation; as makeCookieTo", () => {
  const ring = ServerKeyRing.fresh(rnd(SEED_BYTES, 3), 0n, 3600);
  let seed = 40;
  const pool = new SivNonces((b) => b.set(rnd(b.length, seed++)), 4); // a small batch: refills
  const plain = Uint8Array.of(0, 15, 0, 0, ...keys.c2s, ...keys.s2c);
  const seen = new Set<string>();
  for (let i = 0; i < 11; i++) {
    if (i === 6) ring.rotate(rnd(SERVER_KEY_RANDOM_LENGTH, 99), 100n * SEC);
    const c = new Uint8Array(100);
    ring.makeCookieFromPool(plain, pool, c, 0);
    assert.deepEqual(ring.openCookie(c), keys, `cookie ${i}`);
    assert.equal(new DataView(c.buffer).getUint32(0), ring.all[2]!.id, `current key, cookie ${i}`);
    const again = new Uint8Array(100);
    ring.makeCookieTo(plain, c, 4, again, 0);
    assert.deepEqual(again, c, `as makeCookieTo with the same nonce, cookie ${i}`);
    seen.add(c.subarray(4, 20).join());
  }
  assert.equal(seen.size, 11);
});
