/**
 * `extfield F324` over `ptpport` with the real chronyd 4.8, both ways on
 * loopback (`xleave`, as chrony.conf(5)'s example): horae as a client of
 * chronyd 4.8's NTP-over-PTP server and chronyd 4.8 as a client of horae's.
 * Each side synchronises, every reply is a valid one (`ntpdata`: total
 * valid RX = total RX, nothing dropped by the field) and the server counts
 * no dropped packets. No NIC stamps here, so no correction is applied (both
 * sides' fields carry zeros, as chronyd 4.8's do on loopback).
 *
 * Safety: -x on both sides, loopback only, ports from freePort(), each
 * daemon stopped by its own PID.
 */
import assert from "node:assert/strict";
import {
  CHRONYC48,
  chronycOutput,
  CHRONYD48,
  freePort,
  haveChrony,
  haveChrony48,
  sourcesUntil,
  startChronyd,
  startHorae,
} from "./harness.ts";

const enabled = haveChrony() && haveChrony48();

function chronyc(socket: string, cmd: string): Promise<string> {
  return chronycOutput(socket, [cmd], CHRONYC48);
}

function field(out: string, name: string): number {
  const m = out.match(new RegExp(`^${name}\\s+: (\\S+)`, "m"));
  assert.ok(m, `${name} in\n${out}`);
  return Number(m[1]);
}

/** ntpdata: several replies, all valid, over the PTP port. */
function assertAllValid(nd: string, ptp: number): void {
  assert.match(nd, new RegExp(`^Remote port\\s+: ${ptp}$`, "m"), nd);
  const rx = field(nd, "Total RX"), valid = field(nd, "Total valid RX");
  assert.ok(rx >= 3, nd);
  assert.equal(valid, rx, nd);
}

Deno.test({
  name: "extfield F324: horae is an xleave client of chronyd 4.8's NTP-over-PTP server",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ptp = freePort();
    const server = await startChronyd({
      port: 0,
      address: "127.0.0.6",
      flags: ["-4"],
      binary: CHRONYD48,
      lines: [`ptpport ${ptp}`, "local stratum 1", "allow 127.0.0.0/8"],
    });
    const client = await startHorae([
      `server 127.0.0.6 port ${ptp} minpoll 0 maxpoll 0 xleave extfield F324`,
      `ptpport ${ptp}`,
      "bindaddress 127.0.0.7",
    ], { flags: ["-4"] });
    try {
      const out = await sourcesUntil(client.socket, /^\^\* 127\.0\.0\.6 /m, 30_000, CHRONYC48);
      assert.match(out, /^\^\* 127\.0\.0\.6 +1 /m, out);
      // a few more exchanges, then every one valid
      await new Promise((res) => setTimeout(res, 2500));
      assertAllValid(await chronyc(client.socket, "ntpdata"), ptp);
      const ss = await chronyc(server.socket, "serverstats");
      assert.ok(field(ss, "NTP packets received") >= 3, ss);
      assert.equal(field(ss, "NTP packets dropped"), 0, ss);
    } finally {
      const err = await client.stop();
      await server.stop();
      assert.doesNotMatch(err, /not supported yet|Could not open PTP/, err);
    }
  },
});

Deno.test({
  name: "extfield F324: chronyd 4.8 is an xleave client of horae's NTP-over-PTP server",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ptp = freePort();
    const server = await startHorae([
      `ptpport ${ptp}`,
      "port 0",
      "local stratum 1",
      "allow 127.0.0.0/8",
      "bindaddress 127.0.0.8",
    ], { flags: ["-4"] });
    const client = await startChronyd({
      port: 0,
      address: "127.0.0.9",
      flags: ["-4"],
      binary: CHRONYD48,
      lines: [
        `server 127.0.0.8 port ${ptp} minpoll 0 maxpoll 0 xleave extfield F324`,
        `ptpport ${ptp}`,
      ],
    });
    try {
      const out = await sourcesUntil(client.socket, /^\^\* 127\.0\.0\.8 /m, 30_000, CHRONYC48);
      assert.match(out, /^\^\* 127\.0\.0\.8 +1 /m, out);
      await new Promise((res) => setTimeout(res, 2500));
      assertAllValid(await chronyc(client.socket, "ntpdata"), ptp);
      const ss = await chronyc(server.socket, "serverstats");
      assert.ok(field(ss, "NTP packets received") >= 3, ss);
      assert.equal(field(ss, "NTP packets dropped"), 0, ss);
    } finally {
      await client.stop();
      const err = await server.stop();
      assert.doesNotMatch(err, /not supported yet|Could not open PTP/, err);
    }
  },
});

const hex = (s: string) => new Uint8Array(s.match(/../g)!.map((b) => parseInt(b, 16)));
/** chronyd 4.8's first (basic-mode) request datagram, captured here (sequenceId 0). */
const CHRONYD48_FIRST = hex(
  "0102007c7b0004" + "00".repeat(37) + "2023004c" + "23000020" + "00".repeat(36) +
    "66c27b920eee033d" + "f324001c07ac2ceb" + "00".repeat(20),
);

async function exchangeRaw(
  address: string,
  port: number,
  req: Uint8Array,
  bind: string,
): Promise<Uint8Array | null> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: bind, port });
  try {
    await sock.send(req, { transport: "udp", hostname: address, port });
    const t = setTimeout(() => sock.close(), 3000);
    try {
      const [b] = await sock.receive();
      return b;
    } catch {
      return null;
    } finally {
      clearTimeout(t);
    }
  } finally {
    try {
      sock.close();
    } catch { /* closed by the timer */ }
  }
}

Deno.test({
  name:
    "extfield F324: horae's request and its reply to chronyd 4.8's request have chronyd 4.8's layout",
  ignore: !enabled,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ptp = freePort();
    // 1. horae's request datagram, caught on another loopback address
    const catcher = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.11", port: ptp });
    const client = await startHorae([
      `server 127.0.0.11 port ${ptp} minpoll 0 maxpoll 0 xleave extfield F324`,
      `ptpport ${ptp}`,
      "bindaddress 127.0.0.12",
    ], { flags: ["-4"] });
    let got: Uint8Array;
    try {
      const t = setTimeout(() => catcher.close(), 15_000);
      [got] = await catcher.receive();
      clearTimeout(t);
    } finally {
      try {
        catcher.close();
      } catch { /* closed */ }
      await client.stop();
    }
    assert.equal(got.length, 124);
    // PTP header as chronyd 4.8's but its sequenceId (bytes 30-31), the NTP header's first
    // bytes, and the F324 field
    assert.deepEqual(got.slice(0, 30), CHRONYD48_FIRST.slice(0, 30));
    assert.deepEqual(got.slice(32, 50), CHRONYD48_FIRST.slice(32, 50));
    assert.deepEqual(got.slice(96), CHRONYD48_FIRST.slice(96));

    // 2. both servers answer chronyd 4.8's request with the same field
    const p2 = freePort();
    const c48 = await startChronyd({
      port: 0,
      address: "127.0.0.13",
      flags: ["-4"],
      binary: CHRONYD48,
      lines: [`ptpport ${p2}`, "local stratum 1", "allow 127.0.0.0/8"],
    });
    const horae = await startHorae([
      `ptpport ${p2}`,
      "port 0",
      "local stratum 1",
      "allow 127.0.0.0/8",
      "bindaddress 127.0.0.14",
    ], { flags: ["-4"] });
    try {
      const a = await exchangeRaw("127.0.0.13", p2, CHRONYD48_FIRST, "127.0.0.15");
      const b = await exchangeRaw("127.0.0.14", p2, CHRONYD48_FIRST, "127.0.0.15");
      assert.ok(a && b, "both answered");
      assert.equal(b.length, a.length);
      assert.equal(a.length, 124);
      assert.deepEqual(b.slice(96), a.slice(96));
      assert.deepEqual(b.slice(0, 30), a.slice(0, 30));
    } finally {
      await c48.stop();
      await horae.stop();
    }
  },
});
