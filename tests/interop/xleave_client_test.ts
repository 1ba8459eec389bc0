/**
 * horae's client in interleaved mode (`server ... xleave`) against the real
 * chronyd serving on loopback: `chronyd -Q` measures within 1 ms and the
 * server counts interleaved requests; the daemon shows "Interleaved : Yes"
 * in the real chronyc's `ntpdata` and mode `4I` in measurements.log.
 */
import assert from "node:assert/strict";
import {
  freePort,
  haveChrony,
  ROOT,
  runCommand,
  startChronyd,
  startHorae,
  wrongBy,
} from "./harness.ts";

const enabled = haveChrony();

/** "Interleaved NTP packets" of the real server's `chronyc serverstats`. */
async function interleavedHits(socket: string): Promise<number> {
  const r = await runCommand("/usr/bin/chronyc", ["-n", "-h", socket, "serverstats"]);
  const m = /Interleaved NTP packets\s*:\s*(\d+)/.exec(r.stdout);
  assert.ok(m, r.stdout + r.stderr);
  return Number(m[1]);
}

Deno.test({
  name: "xleave: chronyd -Q against the real chronyd is interleaved and within 1 ms",
  ignore: !enabled,
  async fn() {
    const server = await startChronyd({ port: freePort() });
    try {
      const line = `server 127.0.0.1 port ${server.port} iburst xleave`;
      const ours = await runCommand(`${ROOT}/bin/chronyd`, ["-Q", "-t", "10", line], {
        timeoutMs: 20_000,
      });
      assert.equal(ours.code, 0, ours.stderr);
      assert.doesNotMatch(ours.stderr, /not supported/);
      const x = wrongBy(ours.stderr);
      assert.ok(x !== null, `no offset in: ${ours.stderr}`);
      assert.ok(Math.abs(x) < 1e-3, `horae offset ${x}`);
      assert.ok(await interleavedHits(server.socket) > 0, "no interleaved request seen");
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name: "xleave: the daemon's ntpdata says Interleaved: Yes, measurements.log mode 4I",
  ignore: !enabled,
  async fn() {
    const server = await startChronyd({ port: freePort() });
    const horae = await startHorae([
      `server 127.0.0.1 port ${server.port} iburst xleave minpoll 0 maxpoll 1`,
      "logdir DIR",
      "log measurements",
    ]);
    const dir = horae.dir;
    try {
      const sock = horae.socket;
      let text = "";
      const end = performance.now() + 20_000;
      while (performance.now() < end) {
        const r = await runCommand("/usr/bin/chronyc", ["-h", sock, "-n", "ntpdata"]);
        text = r.stdout + r.stderr;
        if (/Interleaved\s*: Yes/.test(text) && /Total valid RX\s*: [3-9]/.test(text)) break;
        await new Promise((res) => setTimeout(res, 500));
      }
      assert.match(text, /Interleaved\s*: Yes/);
      const offset = /^Offset\s*: ([-+]?[\d.e+-]+) seconds/m.exec(text);
      assert.ok(offset, text);
      assert.ok(Math.abs(Number(offset[1])) < 1e-3, text);
      assert.ok(await interleavedHits(server.socket) > 0, "no interleaved request seen");
      const meas = await Deno.readTextFile(`${dir}/measurements.log`);
      assert.match(meas, /127\.0\.0\.1\s+N\s+1 111 111 1111 .* 4I /);
    } finally {
      await horae.stop();
      await server.stop();
    }
  },
});
