import assert from "node:assert/strict";
import { expandGlob, isFileAccessError, matchGlob } from "../../lib/conf/glob.ts";
import { memFs } from "./mem_fs.ts";

Deno.test("* and ? match within one name; dot files are not matched by a wildcard", () => {
  assert.equal(matchGlob("*.conf", "a.conf"), true);
  assert.equal(matchGlob("*.conf", "a.conf.bak"), false);
  assert.equal(matchGlob("?.conf", "ab.conf"), false);
  assert.equal(matchGlob("*.conf", ".hidden.conf"), false);
  assert.equal(matchGlob("[ab].conf", "b.conf"), true);
  assert.equal(matchGlob("[!ab].conf", "b.conf"), false);
  assert.equal(matchGlob("a+b.conf", "a+b.conf"), true);
});

Deno.test("a pattern expands over directories, sorted", () => {
  const fs = memFs({
    "/e/x/2.conf": "",
    "/e/y/1.conf": "",
    "/e/x/1.conf": "",
    "/e/x/1.txt": "",
  });
  assert.deepEqual(expandGlob("/e/*/*.conf", fs.listDir), [
    "/e/x/1.conf",
    "/e/x/2.conf",
    "/e/y/1.conf",
  ]);
  assert.deepEqual(expandGlob("/e/z/*.conf", fs.listDir), []);
  assert.deepEqual(expandGlob("/e/plain.conf", fs.listDir), ["/e/plain.conf"]);
});

Deno.test("a directory that cannot be listed matches nothing; any other error surfaces", () => {
  const gone = Object.assign(new Error("EACCES /e"), { code: "EACCES" });
  assert.equal(isFileAccessError(gone), true);
  assert.deepEqual(
    expandGlob("/e/*.conf", () => {
      throw gone;
    }),
    [],
  );
  assert.equal(isFileAccessError(new TypeError("bug")), false);
  assert.throws(() =>
    expandGlob("/e/*.conf", () => {
      throw new TypeError("bug");
    }), TypeError);
});
