/**
 * `smoothtime` beside chronyd 4.3: the real chronyc gets the same answers
 * (digits aside) from horae and from chronyd for `smoothing` and `smoothtime
 * reset|activate`, with and without the directive and with `leaponly`; both
 * activate smoothing by themselves once synchronised (skew / 10000 below the
 * wander limit), and then serve reference id 127.127.1.255 while the
 * smoothed time differs from the clock, and the clock's cooked time (with -x
 * 0.5 s off the system clock here) plus the smoothing offset.
 * @module
 */
import assert from "node:assert/strict";
import { freePort, haveChrony, runCommand, startChronyd, startHorae } from "./harness.ts";

const enabled = haveChrony();
if (!enabled && Deno.env.get("CI")) throw new Error("chronyd/chronyc missing and CI is set");

async function chronyc(socket: string, ...args: string[]): Promise<string> {
  const r = await runCommand("/usr/bin/chronyc", ["-n", "-h", socket, ...args], {
    timeoutMs: 5000,
  });
  return r.stdout + r.stderr;
}

/** Digits masked, signs kept apart. */
const mask = (s: string) => s.replace(/[0-9]/g, "9").replace(/[+-](?=9)/g, "±");

/**
 * The reference id (hex) of the NTP reply from 127.0.0.1:port and the offset
 * of its receive timestamp from this machine's clock (s, ms precision), or null.
 */
async function served(port: number): Promise<{ refId: string; offset: number } | null> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const req = new Uint8Array(48);
    req[0] = 0x23;
    new DataView(req.buffer).setUint32(44, Math.floor(Math.random() * 0xffffffff));
    const t1 = Date.now() / 1000;
    await sock.send(req, { transport: "udp", hostname: "127.0.0.1", port });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), 1000)));
    const got = await Promise.race([sock.receive().catch(() => null), timeout]);
    clearTimeout(timer);
    const t4 = Date.now() / 1000;
    if (got === null || got[0].length < 48) return null;
    const v = new DataView(got[0].buffer, got[0].byteOffset);
    const rx = v.getUint32(32) - 2208988800 + v.getUint32(36) / 2 ** 32;
    return { refId: v.getUint32(12).toString(16), offset: rx - (t1 + t4) / 2 };
  } finally {
    sock.close();
  }
}

async function until(what: string, cond: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test({
  name:
    "smoothing: chronyc smoothing / smoothtime answers as chronyd 4.3's (none, plain, leaponly)",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    for (const directive of [null, "smoothtime 400 0.001", "smoothtime 50000 0.01 leaponly"]) {
      const extra = directive === null ? [] : [directive];
      const ref = await startChronyd({ port: freePort(), lines: extra });
      const hor = await startHorae(["local stratum 1", ...extra]);
      try {
        const script: string[][] = [
          ["smoothing"],
          ["smoothtime", "activate"],
          ["smoothing"],
          ["smoothtime", "activate"],
          ["smoothtime", "reset"],
          ["smoothing"],
        ];
        for (const cmd of script) {
          const want = await chronyc(ref.socket, ...cmd);
          const got = await chronyc(hor.socket, ...cmd);
          // "Last update" counts from activation: digits masked like the others
          assert.equal(mask(got), mask(want), `${directive}: chronyc ${cmd.join(" ")}`);
          if (directive !== null && cmd[0] === "smoothing") {
            // without updates (local only) the offset and frequency stay zero
            assert.match(got, /Offset {9}: \+0\.000000000 seconds/);
            assert.match(got, /Remaining time : 0\.0 seconds/);
          }
        }
        if (directive === null) {
          assert.match(await chronyc(hor.socket, "smoothing"), /505 Facility not enabled/);
        }
      } finally {
        await hor.stop();
        await ref.stop();
      }
    }
  },
});

Deno.test({
  name: "smoothing: activated by synchronisation, then served with reference id 127.127.1.255",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const server = await startChronyd({ port: freePort() });
    const source = `server 127.0.0.1 port ${server.port} iburst minpoll 0 maxpoll 0 offset 0.5`;
    const refPort = freePort();
    const ref = await startChronyd({ port: refPort, lines: [source, "smoothtime 400 0.001"] });
    const horPort = freePort();
    const hor = await startHorae([
      `port ${horPort}`,
      "allow 127.0.0.1",
      source,
      "smoothtime 400 0.001",
    ]);
    try {
      for (const [name, d, port] of [["chronyd", ref, refPort], ["horae", hor, horPort]] as const) {
        await until(
          `${name}: smoothing active`,
          async () => /Active {9}: Yes/.test(await chronyc(d.socket, "smoothing")),
          40_000,
        );
        // the clock's corrections after activation are being smoothed out
        await until(`${name}: refid 127.127.1.255`, async () => {
          return (await served(port))?.refId === "7f7f01ff";
        }, 20_000);
        // served: the clock's cooked time (0.5 s ahead of the real clock with -x) smoothed
        const o = (await served(port))!.offset;
        assert.ok(Math.abs(o - 0.5) < 0.02, `${name}: served time ${o} s from the system clock`);
        const s = await chronyc(d.socket, "smoothing");
        assert.match(s, /Wander {9}: [+-]0\.001000 ppm per second/, `${name}: ${s}`);
        // reset: nothing to smooth, the source's address is served again
        assert.equal((await chronyc(d.socket, "smoothtime", "reset")).trim(), "200 OK");
      }
      const log = await hor.stop();
      assert.match(log, /Time smoothing activated/);
    } finally {
      await hor.stop();
      await ref.stop();
      await server.stop();
    }
  },
});
