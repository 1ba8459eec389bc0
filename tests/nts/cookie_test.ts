import assert from "node:assert/strict";
import {
  CookieJar,
  formatClientState,
  formatServerKeys,
  type NtsClientState,
  NtsDumpError,
  parseClientState,
  parseServerKeys,
  ServerKeyRing,
} from "../../lib/nts/cookie.ts";

const SEC = 1_000_000_000n;

function rnd(n: number, seed: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (i * 31 + seed * 7 + 1) & 0xff);
}

const keys = { aead: 15, c2s: rnd(32, 1), s2c: rnd(32, 2) };

Deno.test("cookie: seal/open round trip, 104 bytes", () => {
  const ring = ServerKeyRing.fresh(rnd(36, 3), 0n, 3600);
  const c = ring.makeCookie(keys, rnd(16, 4));
  assert.equal(c.length, 104);
  assert.deepEqual(ring.openCookie(c), keys);
});

Deno.test("cookie: any altered byte makes the cookie unopenable", () => {
  const ring = ServerKeyRing.fresh(rnd(36, 3), 0n, 3600);
  const c = ring.makeCookie(keys, rnd(16, 4));
  for (let i = 0; i < c.length; i++) {
    const bad = c.slice();
    bad[i]! ^= 1;
    assert.equal(ring.openCookie(bad), null, `byte ${i}`);
  }
  assert.equal(ring.openCookie(c.subarray(0, 40)), null);
  assert.equal(ring.openCookie(new Uint8Array(0)), null);
});

Deno.test("cookie: rotation keeps two previous keys; older cookies stop working", () => {
  const ring = ServerKeyRing.fresh(rnd(36, 10), 0n, 100);
  assert.equal(ring.dueForRotation(99n * SEC), false);
  assert.equal(ring.dueForRotation(100n * SEC), true);
  const first = ring.makeCookie(keys, rnd(16, 1));
  ring.rotate(rnd(36, 11), 100n * SEC);
  ring.rotate(rnd(36, 12), 200n * SEC);
  assert.deepEqual(ring.openCookie(first), keys);
  ring.rotate(rnd(36, 13), 300n * SEC);
  assert.equal(ring.all.length, 3);
  assert.equal(ring.openCookie(first), null);
  assert.equal(ring.dueForRotation(350n * SEC), false);
  assert.equal(ServerKeyRing.fresh(rnd(36, 1), 0n, 0).dueForRotation(10n ** 15n), false);
});

Deno.test("cookie: server keys file round trip, and a damaged file is a typed error", () => {
  const ring = ServerKeyRing.fresh(rnd(36, 20), 0n, 100);
  ring.rotate(rnd(36, 21), 1n);
  const c = ring.makeCookie(keys, rnd(16, 5));
  const text = formatServerKeys(ring.all);
  const loaded = ServerKeyRing.fromKeys(parseServerKeys(text), 5n, 100);
  assert.deepEqual(loaded.openCookie(c), keys);
  assert.throws(() => parseServerKeys("nonsense\n"), NtsDumpError);
  assert.throws(() => parseServerKeys(text.replace(/key (\S+) ../, "key $1 zz")), NtsDumpError);
  assert.throws(() => parseServerKeys(text.replace(/aead 15/, "aead 99")), NtsDumpError);
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
