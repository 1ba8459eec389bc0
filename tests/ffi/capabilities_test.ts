import assert from "node:assert/strict";
import { capabilityBit, capget, decodeCapabilities, encodeCapabilities } from "../../ffi/libc.ts";
import { CAP, CAP_DATA, CAP_HEADER } from "../../ffi/layout.ts";

Deno.test("capabilities: version 3 header carries the version and pid 0 (calling thread)", () => {
  const { header } = encodeCapabilities({ effective: 0n, permitted: 0n, inheritable: 0n });
  assert.equal(header.length, CAP_HEADER.size);
  assert.deepEqual([...header], [0x22, 0x05, 0x08, 0x20, 0, 0, 0, 0]);
});

Deno.test("capabilities: CAP_SYS_TIME is bit 25 of the first data struct's sets", () => {
  const sys = capabilityBit(CAP.SYS_TIME);
  assert.equal(sys, 0x2000000n);
  const { data } = encodeCapabilities({ effective: sys, permitted: sys, inheritable: 0n });
  assert.equal(data.length, 2 * CAP_DATA.size);
  assert.deepEqual(
    [...data],
    [0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 0, /* caps 32-63 */ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  );
});

Deno.test("capabilities: capabilities above 31 go to the second data struct", () => {
  const high = capabilityBit(40) | capabilityBit(0); // CAP_CHECKPOINT_RESTORE, CAP_CHOWN
  const { data } = encodeCapabilities({ effective: 0n, permitted: high, inheritable: high });
  assert.deepEqual([...data.subarray(4, 8)], [1, 0, 0, 0]);
  assert.deepEqual([...data.subarray(12 + 4, 12 + 8)], [0, 1, 0, 0]);
  assert.deepEqual(decodeCapabilities(data), { effective: 0n, permitted: high, inheritable: high });
});

Deno.test("capabilities: decode(encode(x)) is x for full 64-bit sets", () => {
  const sets = { effective: 0x1fffeffffffn, permitted: 0x123456789abcdefn, inheritable: 1n << 63n };
  assert.deepEqual(decodeCapabilities(encodeCapabilities(sets).data), sets);
});

Deno.test("capabilities: capget matches /proc/self/status of the main thread", () => {
  const status = Deno.readTextFileSync("/proc/self/status");
  const field = (name: string) =>
    BigInt("0x" + status.match(new RegExp(`${name}:\\s*([0-9a-f]+)`))![1]);
  const now = capget();
  assert.equal(now.effective, field("CapEff"));
  assert.equal(now.permitted, field("CapPrm"));
  assert.equal(now.inheritable, field("CapInh"));
});
