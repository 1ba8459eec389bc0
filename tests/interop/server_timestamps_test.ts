/**
 * Issue 16.11: the offset a client measures against horae's server is as
 * unbiased as against chronyd's, on the same clock. A raw client with kernel
 * TX/RX timestamps queries both servers on loopback alternately (so load from
 * other processes hits both alike) and compares the median offsets; the
 * servers' receive-to-transmit times (T3 - T2) are printed for the record.
 */
import assert from "node:assert/strict";
import { freePort, haveChrony, startChronyd, startHorae } from "./harness.ts";
import { median, RawClient, type RawExchange } from "./raw_client.ts";

/** Offsets further apart than this fail (the bound), seconds. */
const BOUND = 5e-6;
const ROUND = 200;
const MAX_ROUNDS = 3;

Deno.test({
  name: "interop: median offset a client measures against horae is within 5 µs of chronyd's",
  ignore: !haveChrony(),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const hp = freePort(), cp = freePort();
    const horae = await startHorae([
      `port ${hp}`,
      "bindaddress 127.0.0.1",
      "local stratum 1",
      "allow 127.0.0.0/8",
    ]);
    const chronyd = await startChronyd({ port: cp });
    const client = new RawClient();
    const got: Record<"horae" | "chronyd", RawExchange[]> = { horae: [], chronyd: [] };
    try {
      // wait for both servers to answer
      for (const port of [hp, cp]) {
        for (let i = 0; i < 50 && (await client.query(port, 200)) === null; i++) {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      let diff = Infinity;
      // Up to 3 rounds of 200 exchanges each: a round disturbed by load is
      // outvoted by more data, never by a looser bound.
      for (let round = 0; round < MAX_ROUNDS && !(diff <= BOUND); round++) {
        for (let i = 0; i < ROUND; i++) {
          for (const [name, port] of [["horae", hp], ["chronyd", cp]] as const) {
            const x = await client.query(port);
            if (x) got[name].push(x);
          }
          await new Promise((r) => setTimeout(r, 2)); // the servers go idle in between
        }
        const mh = median(got.horae.map((x) => x.offset));
        const mc = median(got.chronyd.map((x) => x.offset));
        diff = Math.abs(mh - mc);
        const us = (s: number) => (s * 1e6).toFixed(2);
        console.log(
          `round ${round + 1}: median offset horae ${us(mh)} µs, chronyd ${us(mc)} µs; ` +
            `T3-T2 horae ${us(median(got.horae.map((x) => x.serverTime)))} µs, ` +
            `chronyd ${us(median(got.chronyd.map((x) => x.serverTime)))} µs; ` +
            `delay horae ${us(median(got.horae.map((x) => x.delay)))} µs, ` +
            `chronyd ${us(median(got.chronyd.map((x) => x.delay)))} µs ` +
            `(${got.horae.length}/${got.chronyd.length} exchanges)`,
        );
      }
      assert.ok(got.horae.length >= ROUND / 2 && got.chronyd.length >= ROUND / 2);
      assert.ok(diff <= BOUND, `median offsets differ by ${(diff * 1e6).toFixed(2)} µs`);
    } finally {
      await client.close();
      await chronyd.stop();
      await horae.stop();
    }
  },
});
