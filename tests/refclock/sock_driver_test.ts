import assert from "node:assert/strict";
import { SOCK_MAGIC, SOCK_SAMPLE } from "../../ffi/layout.ts";
import type { RawDriverSample } from "../../lib/refclock/driver.ts";
import { SockDriver } from "../../lib/io/refclock_sock.ts";
import { decodeSockSample, encodeSockSample, SockSampleError } from "../../lib/refclock/sock.ts";

/** A sock_sample written field by field (gpsd's side of the protocol). */
function datagram(
  sec: bigint,
  usec: bigint,
  offset: number,
  pulse: number,
  leap: number,
): Uint8Array {
  const b = new Uint8Array(SOCK_SAMPLE.size);
  const v = new DataView(b.buffer);
  v.setBigInt64(SOCK_SAMPLE.tvSec, sec, true);
  v.setBigInt64(SOCK_SAMPLE.tvUsec, usec, true);
  v.setFloat64(SOCK_SAMPLE.offset, offset, true);
  v.setInt32(SOCK_SAMPLE.pulse, pulse, true);
  v.setInt32(SOCK_SAMPLE.leap, leap, true);
  v.setInt32(SOCK_SAMPLE.magic, SOCK_MAGIC, true);
  return b;
}

Deno.test("SOCK codec: fields, sign of the offset, bad datagrams", () => {
  const s = decodeSockSample(datagram(1_700_000_000n, 500_000n, 2.5e-3, 1, 2));
  assert.deepEqual(s, {
    systemTime: 1_700_000_000_500_000_000n,
    offset: -2.5e-3, // system minus reference
    leap: 2,
    pulse: true,
  });
  assert.deepEqual(decodeSockSample(encodeSockSample(s)), s);
  assert.throws(() => decodeSockSample(new Uint8Array(39)), SockSampleError);
  const bad = datagram(1n, 0n, 0, 0, 0);
  bad[SOCK_SAMPLE.magic] = 0;
  assert.throws(() => decodeSockSample(bad), SockSampleError);
});

Deno.test("SOCK driver: receives sock_sample datagrams on its Unix socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "horae-sock-" });
  const got: RawDriverSample[] = [];
  let arrived!: () => void;
  const two = new Promise<void>((r) => (arrived = r));
  const driver = SockDriver.open(`${dir}/refclock.sock`, (s) => {
    got.push(s);
    if (got.length === 2) arrived();
  });
  const client = Deno.listenDatagram({ transport: "unixpacket", path: `${dir}/client.sock` });
  try {
    const to = { transport: "unixpacket" as const, path: `${dir}/refclock.sock` };
    await client.send(new Uint8Array(12), to); // junk: counted, ignored
    await client.send(datagram(1_700_000_000n, 1n, -1e-6, 0, 0), to);
    await client.send(datagram(1_700_000_001n, 2n, 0, 1, 0), to);
    const timeout = new Promise<never>((_, rej) => {
      const t = setTimeout(() => rej(new Error("no samples")), 5000);
      two.then(() => clearTimeout(t));
    });
    await Promise.race([two, timeout]);
    assert.equal(driver.bad, 1);
    assert.equal(got[0]!.systemTime, 1_700_000_000_000_001_000n);
    assert.equal(got[0]!.offset, 1e-6);
    assert.equal(got[1]!.pulse, true);
  } finally {
    client.close();
    await driver.fini();
    await Deno.remove(dir, { recursive: true });
  }
  assert.throws(() => Deno.statSync(`${dir}/refclock.sock`), Deno.errors.NotFound);
});
