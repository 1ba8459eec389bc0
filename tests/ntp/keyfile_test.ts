import assert from "node:assert/strict";
import { decodeKeyText, KeyFileError, parseKeyFile } from "../../lib/ntp/keyfile.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("keyfile: the formats of chrony.conf(5): default MD5, ASCII:, HEX:, every type", () => {
  const { keys, errors } = parseKeyFile(
    [
      "# comment",
      "   # indented comment",
      "",
      "10 tulip",
      "20 MD5 ASCII:crocus",
      "25 SHA1 HEX:933F62BE1D604E68A81B557F18CFA200483F5B70",
      "30 AES128 HEX:7EA62AE64D190114D46D5A082F948EC1",
      "31 AES256 HEX:37DDCBC67BB902BCB8E995977FAB4D2B5642F5B32EBCEEE421921D97E5CBFE39",
      "\t40 SHA3-256   HEX:0102\r",
      "41 SHA256 k",
      "42 SHA384 k",
      "43 SHA512 k",
      "44 SHA3-224 k",
      "45 SHA3-384 k",
      "46 SHA3-512 k",
      "4294967295 HEX:00ff",
    ].join("\n"),
    { file: "chrony.keys" },
  );
  assert.deepEqual(errors, []);
  assert.deepEqual(keys.get(10), { id: 10, type: "MD5", key: bytes("tulip"), line: 4 });
  assert.deepEqual(keys.get(20)?.key, bytes("crocus"));
  assert.equal(keys.get(25)?.key.length, 20);
  assert.equal(keys.get(25)?.key[0], 0x93);
  assert.equal(keys.get(30)?.type, "AES128");
  assert.equal(keys.get(31)?.key.length, 32);
  assert.deepEqual(keys.get(40), {
    id: 40,
    type: "SHA3-256",
    key: new Uint8Array([1, 2]),
    line: 9,
  });
  assert.deepEqual(keys.get(4294967295)?.key, new Uint8Array([0, 0xff]));
  assert.equal(keys.size, 13);
});

Deno.test("keyfile: bad lines are reported with their line numbers and skipped", () => {
  const { keys, errors } = parseKeyFile(
    [
      "abc MD5 x", // 1 id
      "0 MD5 zero", // 2 id
      "4294967296 MD5 over", // 3 id
      "10 MD5 HEX:zz", // 4 decode
      "11 AES128 HEX:0011", // 5 length
      "12", // 6 syntax
      "13 MD5 first", // 7
      "13 MD5 second", // 8 duplicate (kept)
      "14 SHA1 ASCII:", // 9 decode
      "16 md5 lower", // 10 type (names are case-sensitive)
      "17 MD5 a b", // 11 syntax
      "19 TIGER abcdefghijkl", // 12 unsupported
      "20 RMD160 abcdefghijkl", // 13 unsupported
      "21 SHA1 x # trailing words are not a comment", // 14 syntax
      "22 HEX:123", // 15 decode (odd)
      `23 ${"x".repeat(2100)}`, // 16 syntax (too long)
      "24 SHA1 ok", // 17
    ].join("\n"),
    { file: "k" },
  );
  assert.deepEqual(
    errors.map((e) => [e.line, e.code, e.keyId]),
    [
      [1, "id", null],
      [2, "id", null],
      [3, "id", null],
      [4, "decode", 10],
      [5, "length", 11],
      [6, "syntax", null],
      [8, "duplicate", 13],
      [9, "decode", 14],
      [10, "type", 16],
      [11, "syntax", null],
      [12, "unsupported", 19],
      [13, "unsupported", 20],
      [14, "syntax", null],
      [15, "decode", 22],
      [16, "syntax", null],
    ],
  );
  assert.ok(
    errors.every((e) => e instanceof KeyFileError && e.message.startsWith(`k:${e.line}: `)),
  );
  assert.equal(errors[4]!.message, "k:5: key 11: AES128 needs 128 bits, found 16");
  assert.equal(errors[11]!.message, "k:13: key 20: type RMD160 is not supported");
  assert.deepEqual([...keys.keys()], [13, 24]);
  assert.deepEqual(keys.get(13)?.key, bytes("second"));
});

Deno.test("keyfile: key text decoding", () => {
  assert.deepEqual(decodeKeyText("HEX:0aFF"), new Uint8Array([10, 255]));
  assert.deepEqual(decodeKeyText("ASCII:HEX:00"), bytes("HEX:00"));
  assert.equal(decodeKeyText("HEX:"), null);
  assert.equal(decodeKeyText(""), null);
  assert.equal(decodeKeyText("HEX:0g"), null);
});
