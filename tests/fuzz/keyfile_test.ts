import assert from "node:assert/strict";
import { KeyFileError, parseKeyFile } from "../../lib/ntp/keyfile.ts";
import { Prng } from "../../lib/clock/prng.ts";

const SEED_LINES = [
  "1 MD5 ASCII:tulip",
  "2 SHA256 HEX:00112233445566778899aabbccddeeff",
  "3 AES128 HEX:000102030405060708090a0b0c0d0e0f",
  "4 AES256 HEX:000102030405060708090a0b0c0d0e0f000102030405060708090a0b0c0d0e0f",
  "# comment",
  "5 plain",
];
const ALPHABET = "0123456789 \t#:ABCDEFHXMSabcdef-\n\r\u00e9";

Deno.test("fuzz: mutated key files never throw; every line gives a key or an error", () => {
  const rng = new Prng(20240521);
  for (let round = 0; round < 3000; round++) {
    const chars = [...SEED_LINES.join("\n")];
    const edits = 1 + Math.floor(rng.uniform() * 8);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(rng.uniform() * (chars.length + 1));
      const c = ALPHABET[Math.floor(rng.uniform() * ALPHABET.length)]!;
      const op = rng.uniform();
      if (op < 0.4) chars.splice(at, 1);
      else if (op < 0.8) chars.splice(at, 0, c);
      else chars[at] = c;
    }
    const text = chars.join("");
    const { keys, errors } = parseKeyFile(text, { file: "f" });
    const lines = text.split("\n");
    for (const e of errors) {
      assert.ok(e instanceof KeyFileError);
      assert.ok(e.line >= 1 && e.line <= lines.length);
    }
    for (const k of keys.values()) {
      assert.ok(Number.isInteger(k.id) && k.id >= 1 && k.id <= 0xffffffff);
      assert.ok(k.key.length > 0);
      if (k.type === "AES128") assert.equal(k.key.length, 16);
      if (k.type === "AES256") assert.equal(k.key.length, 32);
    }
  }
});
