import assert from "node:assert/strict";
import { ClientLog } from "../../lib/ntp/clientlog.ts";

// Found by serverworkers' merged `clients` test: when the table grew during a look-up, the
// record created after the growth took the address of the last record moved, not the client's
// (one duplicate row, one client missing, per growth).
Deno.test("ClientLog: every client keeps its own record across table growth", () => {
  for (const seed of [1, 2, 12345]) {
    const log = new ClientLog({ limitBytes: 8388608, seed, random: Math.random });
    const n = 3000;
    for (let i = 0; i < n; i++) {
      log.ntpAccess(new Uint8Array([192, 0, i >> 8, i & 255]), 0, 4, 1000 + i * 0.001);
    }
    const rows = log.clients(1010);
    assert.equal(rows.length, n);
    assert.equal(new Set(rows.map((r) => r.address)).size, n, `seed ${seed}`);
    assert.ok(rows.every((r) => r.ntpHits === 1));
    for (const i of [0, 1, 999, 2999]) {
      assert.ok(rows.some((r) => r.address === `192.0.${i >> 8}.${i & 255}`), `192.0.x.y #${i}`);
    }
  }
});
