import assert from "node:assert/strict";
import { ServerKeyRing } from "../../lib/nts/cookie.ts";
import {
  buildClientRequest,
  buildServerResponse,
  completeMessageLength,
  completeRequestLength,
  decodeMessage,
  encodeRecords,
  NtsKeError,
  parseClientRequest,
  parseServerResponse,
  RecordType,
} from "../../lib/nts/ke_records.ts";
import {
  buildNtsReply,
  buildNtsRequest,
  NtsAuthError,
  requestUniqueId,
  verifyNtsReply,
  verifyNtsRequest,
} from "../../lib/nts/ntp_auth.ts";
import { AES_SIV_CMAC_256 } from "../../lib/nts/siv.ts";
import { prng } from "./prng.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20240601);
const BUDGET_MS = Number(Deno.env.get("FUZZ_MS") ?? 1500);

function mutate(rand: () => number, src: Uint8Array): Uint8Array {
  let b = src.slice();
  const n = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < n; i++) {
    const r = rand();
    const at = Math.floor(rand() * Math.max(1, b.length));
    if (r < 0.5 && b.length > 0) b[at] = Math.floor(rand() * 256);
    else if (r < 0.7) b = b.slice(0, at);
    else if (r < 0.85) {
      b = Uint8Array.of(...b.subarray(0, at), Math.floor(rand() * 256), ...b.subarray(at));
    } else if (b.length > 0) b[at]! ^= 0x80;
  }
  return b;
}

function randomBytes(rand: () => number, max: number): Uint8Array {
  return new Uint8Array(Math.floor(rand() * max)).map(() => Math.floor(rand() * 256));
}

function only<E>(cls: new (...a: never[]) => E, fn: () => unknown, what: string): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof cls)) throw new Error(`${what}: unexpected ${e}`);
  }
}

Deno.test("fuzz nts: NTS-KE parsers throw only NtsKeError; valid messages re-encode identically", () => {
  const rand = prng(SEED);
  const seeds = [
    buildClientRequest({ aeads: [15, 16], server: "a.example", port: 123 }),
    buildServerResponse({
      aead: 15,
      cookies: [new Uint8Array(104).fill(7), new Uint8Array(100)],
      port: 4123,
    }),
  ];
  const t0 = performance.now();
  let runs = 0, valid = 0;
  while (performance.now() - t0 < BUDGET_MS && runs < 200_000) {
    runs++;
    const input = rand() < 0.2
      ? randomBytes(rand, 64)
      : mutate(rand, seeds[Math.floor(rand() * seeds.length)]!);
    only(NtsKeError, () => completeMessageLength(input), "completeMessageLength");
    only(NtsKeError, () => completeRequestLength(input), "completeRequestLength");
    only(NtsKeError, () => parseClientRequest(input), "parseClientRequest");
    only(NtsKeError, () => parseServerResponse(input, { aeads: [15] }), "parseServerResponse");
    let records;
    try {
      records = decodeMessage(input);
    } catch (e) {
      assert.ok(e instanceof NtsKeError, String(e));
      continue;
    }
    valid++;
    const again = encodeRecords([
      ...records,
      { type: RecordType.END_OF_MESSAGE, critical: true, body: new Uint8Array(0) },
    ]);
    // Same bytes unless the End of Message record lost its critical bit in the mutation.
    if (input[input.length - 4]! & 0x80) assert.deepEqual(again, input);
    assert.deepEqual(decodeMessage(again), records);
  }
  assert.ok(valid > 0, "some mutated inputs should still parse");
});

Deno.test("fuzz nts: NTP NTS verification throws only NtsAuthError; cookies never throw", () => {
  const rand = prng(SEED + 1);
  const ring = ServerKeyRing.fresh(new Uint8Array(144).fill(3), 0n, 3600);
  const keys = { aead: 15, c2s: new Uint8Array(32).fill(1), s2c: new Uint8Array(32).fill(2) };
  const uniqueId = new Uint8Array(32).fill(9);
  const req = buildNtsRequest(new Uint8Array(48), {
    uniqueId,
    cookie: ring.makeCookie(keys, new Uint8Array(16)),
    placeholders: 1,
    aead: AES_SIV_CMAC_256,
    c2s: keys.c2s,
    nonce: new Uint8Array(16).fill(4),
  });
  const reply = buildNtsReply(new Uint8Array(48), {
    uniqueId,
    aead: AES_SIV_CMAC_256,
    s2c: keys.s2c,
    cookies: [new Uint8Array(104)],
    nonce: new Uint8Array(16).fill(5),
  });
  const expected = { uniqueId, aead: AES_SIV_CMAC_256, s2c: keys.s2c };
  const t0 = performance.now();
  let runs = 0;
  while (performance.now() - t0 < BUDGET_MS && runs < 100_000) {
    runs++;
    const r = mutate(rand, req);
    only(NtsAuthError, () => verifyNtsRequest(r, (c) => ring.openCookie(c)), "verifyNtsRequest");
    requestUniqueId(r);
    const p = mutate(rand, reply);
    only(NtsAuthError, () => verifyNtsReply(p, expected), "verifyNtsReply");
    ring.openCookie(randomBytes(rand, 120));
    ring.openCookie(mutate(rand, req.subarray(88, 192)));
  }
  assert.ok(runs > 100);
});
