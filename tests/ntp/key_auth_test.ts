import assert from "node:assert/strict";
import { KeyClientAuth, KeyServerAuth } from "../../lib/ntp/key_auth.ts";
import type { SymmetricKey } from "../../lib/ntp/keyfile.ts";
import { signPacket } from "../../lib/ntp/mac.ts";
import { NtpServer, unsynchronisedReference } from "../../lib/ntp/server.ts";
import { NtpSource, type SourceAction } from "../../lib/ntp/source.ts";
import { loadDigests } from "../../lib/ntp/mac.ts";

await loadDigests();

const T0 = 1_700_000_000_000_000_000n;
const key = (id: number, type: SymmetricKey["type"], text: string): SymmetricKey => ({
  id,
  type,
  key: new TextEncoder().encode(text),
  line: 1,
});

function serverWith(keys: SymmetricKey[]): { server: NtpServer; auth: KeyServerAuth } {
  const ref = {
    ...unsynchronisedReference(-20),
    local: { stratum: 10, distance: 1, orphan: false },
  };
  const server = new NtpServer({ reference: ref });
  const auth = new KeyServerAuth((id) => keys.find((k) => k.id === id), () => T0 + 2000n);
  server.setKeyAuth(auth);
  return { server, auth };
}

function exchange(source: NtpSource, server: NtpServer): SourceAction[] {
  const sent = source.onTimer(T0).find((a) => a.kind === "send");
  assert.ok(sent && sent.kind === "send");
  const req = sent.bytes;
  const out = new Uint8Array(1024);
  const n = server.respond(
    new DataView(req.buffer),
    req.length,
    T0 + 1000n,
    new DataView(out.buffer),
  );
  if (n === 0) return [];
  assert.ok(n <= req.length);
  return source.onPacket(out.slice(0, n), T0 + 3000n, T0 + 3000n);
}

for (const type of ["MD5", "SHA1", "SHA256", "SHA512", "AES128"] as const) {
  Deno.test(`key auth: a ${type} source and server with the same key make a sample`, () => {
    const text = type === "AES128" ? "0123456789abcdef" : "secret-key";
    const k = key(1, type, text);
    const { server, auth } = serverWith([k]);
    const version = type === "SHA256" || type === "SHA512" ? 3 : 4;
    const src = new NtpSource("192.0.2.1", { version }, {
      randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
      auth: new KeyClientAuth(1, (id) => (id === 1 ? k : undefined)),
    });
    const actions = exchange(src, server);
    assert.ok(
      actions.some((a) => a.kind === "sample"),
      JSON.stringify({ kinds: actions.map((a) => a.kind), tests: src.report().tests }),
    );
    assert.equal(auth.stats.authenticated, 1);
    assert.equal(src.report().authenticated, true);
    assert.equal(src.report().authFailures, 0);
  });
}

Deno.test("key auth: a reply signed with another key fails test 5 (no sample, counted)", () => {
  const { server } = serverWith([key(1, "MD5", "server-side")]);
  // the server knows key 1 with other bytes: our request is dropped
  const src = new NtpSource("192.0.2.1", {}, {
    randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
    auth: new KeyClientAuth(1, () => key(1, "MD5", "client-side")),
  });
  assert.deepEqual(exchange(src, server), []);
  // a reply with a MAC of the wrong key reaches the source: test 5 fails
  const src2 = new NtpSource("192.0.2.1", {}, {
    randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
    auth: new KeyClientAuth(1, () => key(1, "MD5", "client-side")),
  });
  const sent = src2.onTimer(T0).find((a) => a.kind === "send");
  assert.ok(sent && sent.kind === "send");
  const reply = sent.bytes.slice(0, 48);
  reply[0] = 0x24;
  reply[1] = 2;
  reply.set(sent.bytes.subarray(40, 48), 24); // origin = our transmit
  reply.set(sent.bytes.subarray(40, 48), 32);
  reply.set(sent.bytes.subarray(40, 48), 40);
  const forged = signPacket(reply, key(1, "MD5", "attacker"));
  assert.deepEqual(src2.onPacket(forged, T0 + 3000n, T0 + 3000n), []);
  assert.equal(src2.report().authFailures, 1);
  assert.deepEqual(src2.report().tests.t567, [false, true, true]);
  // an unsigned reply fails the same way
  src2.onPacket(reply, T0 + 3000n, T0 + 3000n);
  assert.equal(src2.report().authFailures, 2);
});

Deno.test("key auth: the server drops unknown keys, bad MACs and crypto-NAKs; plain NTP still works", () => {
  const k = key(1, "SHA1", "secret-key");
  const { server, auth } = serverWith([k]);
  const h = new Uint8Array(48);
  h[0] = 0x23;
  h[47] = 1;
  const out = new DataView(new ArrayBuffer(1024));
  const send = (b: Uint8Array) => server.respond(new DataView(b.buffer), b.length, T0, out);
  assert.equal(send(signPacket(h, key(2, "SHA1", "secret-key"))), 0);
  assert.equal(send(signPacket(h, key(1, "SHA1", "other"))), 0);
  const nak = new Uint8Array(52);
  nak.set(h);
  assert.equal(send(nak), 0);
  assert.deepEqual(auth.stats, { authenticated: 0, unknownKey: 1, badMac: 2 });
  assert.equal(send(h.slice()), 48);
  assert.equal(send(signPacket(h, k)), 72);
});

Deno.test("key auth: a missing key sends nothing (never an unsigned request)", () => {
  const src = new NtpSource("192.0.2.1", {}, {
    randomBytes: (n) => new Uint8Array(n).fill(7),
    auth: new KeyClientAuth(5, () => undefined),
  });
  assert.equal(src.onTimer(T0).some((a) => a.kind === "send"), false);
});
