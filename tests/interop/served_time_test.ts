/**
 * What a `-x` server serves: chronyd -x keeps its correction to itself (the
 * system clock is never adjusted) and serves its corrected time. Both daemons
 * follow a fake server 5 ms ahead of this machine's clock and serve NTP; a raw
 * client on this machine must see each of them about 5 ms ahead too.
 */
import assert from "node:assert/strict";
import { fakeServer, freePort, haveChrony, startChronyd, startHorae } from "./harness.ts";
import { RawClient } from "./raw_client.ts";

const enabled = haveChrony();
if (!enabled && Deno.env.get("CI") === "true") {
  throw new Error("served_time_test: the real chronyd is required under CI");
}

async function until(what: string, ok: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Median offset seen by a raw client over `n` exchanges with 127.0.0.1:port, or null. */
async function medianOffset(client: RawClient, port: number, n: number): Promise<number | null> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await client.query(port);
    if (r) xs.push(r.offset);
  }
  if (xs.length === 0) return null;
  xs.sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)]!;
}

Deno.test({
  name: "served time under -x: the corrected time, as chronyd -x serves it (upstream 5 ms ahead)",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const upstream = freePort();
    const fake = fakeServer(upstream, 0.005);
    const source = `server 127.0.0.1 port ${upstream} iburst minpoll 0 maxpoll 0`;
    const refPort = freePort(), ourPort = freePort();
    const ref = await startChronyd({ port: refPort, lines: [source] });
    const horae = await startHorae([
      source,
      `port ${ourPort}`,
      "bindaddress 127.0.0.1",
      "allow 127.0.0.1",
    ]);
    const client = new RawClient();
    try {
      // both synchronised to the fake server (stratum 2) before they are asked
      for (const port of [refPort, ourPort]) {
        await until(`stratum 2 on port ${port}`, async () => {
          const o = await medianOffset(client, port, 1);
          return o !== null && o > 0.003;
        });
      }
      const theirs = await medianOffset(client, refPort, 15);
      const ours = await medianOffset(client, ourPort, 15);
      assert.ok(
        theirs !== null && Math.abs(theirs - 0.005) < 0.0015,
        `chronyd -x serves ${theirs}`,
      );
      assert.ok(ours !== null && Math.abs(ours - 0.005) < 0.0015, `horae -x serves ${ours}`);
    } finally {
      await client.close();
      await horae.stop();
      await ref.stop();
      await fake.stop();
    }
  },
});
