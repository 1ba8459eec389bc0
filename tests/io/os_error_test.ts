import assert from "node:assert/strict";
import { isOsError } from "../../lib/io/os_error.ts";
import { ErrnoError } from "../../ffi/libc.ts";

Deno.test("isOsError: what the system reports counts, a bug does not", () => {
  const caught = (f: () => unknown): unknown => {
    try {
      f();
    } catch (e) {
      return e;
    }
    throw new Error("no error thrown");
  };
  const dir = Deno.makeTempDirSync();
  try {
    const missing = caught(() => Deno.readTextFileSync(`${dir}/missing`));
    assert.ok(missing instanceof Deno.errors.NotFound);
    assert.equal(isOsError(missing), true);
    assert.equal(isOsError(caught(() => Deno.readTextFileSync(dir))), true); // IsADirectory
    const f = Deno.openSync(`${dir}/x`, { create: true, write: true });
    f.close();
    assert.equal(isOsError(caught(() => f.close())), true); // BadResource, no errno code
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
  assert.equal(isOsError(new ErrnoError("bind", 98)), true); // ffi's EADDRINUSE
  assert.equal(isOsError(Object.assign(new Error("x"), { code: "EIO" })), true);
  assert.equal(isOsError(caught(() => decodeURIComponent("%"))), false); // URIError
  assert.equal(isOsError(new TypeError("x is not a function")), false);
  assert.equal(isOsError(Object.assign(new Error("x"), { code: "ERR_BAD" })), false);
  assert.equal(isOsError("ENOENT"), false);
});
