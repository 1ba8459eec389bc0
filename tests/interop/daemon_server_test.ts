/**
 * horae's chronyd daemon as an NTP server (`local stratum 10`, `allow
 * 127.0.0.0/8`, a high random port) measured by the real chrony and ntpdig,
 * selected by a real chronyd client, and its `allow`/`deny` rules checked
 * with raw requests from sockets bound to other loopback addresses.
 */
import assert from "node:assert/strict";
import {
  freePort,
  haveChrony,
  type HoraeDaemon,
  runCommand,
  sharedPath,
  startChronyd,
  startHorae,
  wrongBy,
} from "./harness.ts";

const enabled = haveChrony();

/** horae's daemon (`-4`) serving on `port`; the harness's daemon plus its port. */
async function startServer(port: number, lines: string[]): Promise<HoraeDaemon & { port: number }> {
  return { ...(await startHorae([`port ${port}`, ...lines], { flags: ["-4"] })), port };
}

const LOCAL_SERVER = ["local stratum 10", "allow 127.0.0.0/8"];

Deno.test({
  name: "daemon server: real chronyd -Q and ntpdig measure horae's daemon within 1 ms",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const d = await startServer(freePort(), LOCAL_SERVER);
    try {
      const r = await runCommand("/usr/sbin/chronyd", [
        "-Q",
        "-t",
        "5",
        "-f",
        "/dev/null",
        `server 127.0.0.1 port ${d.port} iburst maxsamples 1`,
      ], { timeoutMs: 15_000 });
      const off = wrongBy(r.stdout + r.stderr);
      assert.notEqual(off, null, r.stdout + r.stderr);
      assert.ok(Math.abs(off!) < 1e-3, `chronyd -Q offset ${off}`);

      const n = await runCommand(sharedPath("peer/ntpdig-port"), ["-j", "127.0.0.1"], {
        timeoutMs: 15_000,
        env: { NTPPORT: String(d.port) },
      });
      assert.equal(n.code, 0, n.stdout + n.stderr);
      const j = JSON.parse(n.stdout) as { offset: number; precision: number; stratum: number };
      // Same clock: within the exchange's error bound (it grows with a loaded machine's
      // round trip), and within 1 ms when idle.
      const bound = Math.max(1e-3, 2 * j.precision);
      assert.ok(Math.abs(j.offset) < bound, `ntpdig offset ${j.offset} +/- ${j.precision}`);
      assert.equal(j.stratum, 10);
    } finally {
      await d.stop();
    }
  },
});

Deno.test({
  name: "daemon server: a real chronyd client selects horae (^*) within 20 s",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const d = await startServer(freePort(), LOCAL_SERVER);
    const client = await startChronyd({
      lines: [`server 127.0.0.1 port ${d.port} iburst minpoll 0 maxpoll 2`],
    });
    try {
      const end = performance.now() + 20_000;
      let out = "";
      for (;;) {
        const r = await runCommand("/usr/bin/chronyc", ["-h", client.socket, "-n", "sources"]);
        out = r.stdout;
        if (out.includes(`^* 127.0.0.1`)) break;
        assert.ok(performance.now() < end, `not selected within 20 s:\n${out}`);
        await new Promise((r) => setTimeout(r, 500));
      }
      const t = await runCommand("/usr/bin/chronyc", ["-n", "-h", client.socket, "-c", "tracking"]);
      assert.equal(t.stdout.split(",")[2], "11", t.stdout);
    } finally {
      await client.stop();
      await d.stop();
    }
  },
});

/** A 48-byte NTPv4 client request with transmit timestamp `tag`. */
function request(tag: number): Uint8Array {
  const b = new Uint8Array(48);
  b[0] = (0 << 6) | (4 << 3) | 3;
  new DataView(b.buffer).setUint32(44, tag);
  return b;
}

/** Sends a request from `from` and waits up to `ms` for the reply; true if answered. */
async function answered(from: string, port: number, ms: number): Promise<boolean> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: from, port: 0 });
  const tag = Math.floor(Math.random() * 0xffffffff);
  try {
    await sock.send(request(tag), { transport: "udp", hostname: "127.0.0.1", port });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)));
    const got = await Promise.race([sock.receive().catch(() => null), timeout]);
    clearTimeout(timer);
    if (got === null) return false;
    const [bytes] = got;
    // A reply: mode 4, origin = our transmit timestamp.
    return bytes.length >= 48 && (bytes[0]! & 7) === 4 &&
      new DataView(bytes.buffer, bytes.byteOffset).getUint32(28) === tag;
  } finally {
    sock.close();
  }
}

Deno.test({
  name: "daemon server: allow/deny subnets answer or drop by source address",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const d = await startServer(freePort(), [
      "local stratum 10",
      "allow 127.0.0.0/30", // 127.0.0.1-3
      "deny 127.0.0.3",
      "allow 127.0.0.8/29", // 127.0.0.8-15
    ]);
    try {
      assert.equal(await answered("127.0.0.2", d.port, 2000), true, "127.0.0.2 allowed");
      assert.equal(await answered("127.0.0.3", d.port, 1000), false, "127.0.0.3 denied");
      assert.equal(await answered("127.0.0.9", d.port, 2000), true, "127.0.0.9 allowed");
      assert.equal(await answered("127.0.0.5", d.port, 1000), false, "127.0.0.5 unlisted");
      assert.equal(await answered("127.0.0.1", d.port, 2000), true, "127.0.0.1 allowed");
    } finally {
      await d.stop();
    }
  },
});
