import assert from "node:assert/strict";
import { IPC, SHM_TIME } from "../../ffi/layout.ts";
import { shmat, shmget, shmRemove } from "../../ffi/libc.ts";
import { ShmDriver } from "../../lib/io/refclock_shm.ts";
import { readShmSample, SHM_KEY_BASE, writeShmSample } from "../../lib/refclock/shm.ts";

const S = 1_000_000_000n;

Deno.test("SHM driver: reads gpsd's struct shmTime from a real System V segment", async () => {
  // A random key well away from the NTP units (0x4e545030 + small numbers).
  const key = 0x68720000 + Math.floor(Math.random() * 0xffff);
  const id = shmget(key, SHM_TIME.size, IPC.IPC_CREAT | IPC.IPC_EXCL | 0o600);
  const writer = shmat(id, SHM_TIME.size);
  let driver: ShmDriver | null = null;
  try {
    driver = ShmDriver.open(0, { key });
    assert.equal(driver.id, id);
    assert.deepEqual(driver.poll(), [], "valid = 0: nothing");

    // Mode 0, microseconds only (nsec fields 0), written field by field.
    const v = writer.view;
    v.setInt32(SHM_TIME.mode, 0, true);
    v.setBigInt64(SHM_TIME.clockTimeStampSec, 1_700_000_000n, true);
    v.setInt32(SHM_TIME.clockTimeStampUSec, 250_000, true);
    v.setBigInt64(SHM_TIME.receiveTimeStampSec, 1_700_000_000n, true);
    v.setInt32(SHM_TIME.receiveTimeStampUSec, 250_125, true);
    v.setInt32(SHM_TIME.leap, 1, true);
    v.setInt32(SHM_TIME.precision, -20, true);
    v.setInt32(SHM_TIME.valid, 1, true);
    const [a, ...rest] = driver.poll();
    assert.equal(rest.length, 0);
    assert.equal(a!.systemTime, 1_700_000_000n * S + 250_125_000n);
    assert.ok(Math.abs(a!.offset - 125e-6) < 1e-12, `${a!.offset}`);
    assert.equal(a!.leap, 1);
    assert.equal(a!.pulse, false);
    assert.equal(v.getInt32(SHM_TIME.valid, true), 0, "the reader clears valid");
    assert.deepEqual(driver.poll(), [], "consumed");

    // Mode 1 with nanoseconds, as gpsd writes it.
    writeShmSample(v, {
      clock: 1_700_000_001n * S + 123_456_789n,
      receive: 1_700_000_001n * S + 123_456_000n,
      leap: 0,
      precision: -20,
    });
    assert.equal(v.getInt32(SHM_TIME.count, true), 2);
    const [b] = driver.poll();
    assert.ok(Math.abs(b!.offset - -789e-9) < 1e-15, `${b!.offset}`);
    assert.equal(b!.systemTime, 1_700_000_001n * S + 123_456_000n);
  } finally {
    await driver?.fini();
    writer.detach();
    shmRemove(id);
  }
});

Deno.test("SHM protocol: a writer caught mid-update (count moving) is read next time", () => {
  const v = new DataView(new ArrayBuffer(SHM_TIME.size));
  writeShmSample(v, { clock: 10n * S, receive: 10n * S, leap: 0, precision: -20 });
  // Simulate the count changing during the copy: a view whose count read differs.
  let reads = 0;
  const racing = new Proxy(v, {
    get(t, p) {
      if (p === "getInt32") {
        return (at: number, le?: boolean) =>
          at === SHM_TIME.count ? t.getInt32(at, le) + reads++ : t.getInt32(at, le);
      }
      const x = Reflect.get(t, p, t);
      return typeof x === "function" ? x.bind(t) : x;
    },
  });
  assert.deepEqual(readShmSample(racing), { kind: "busy" });
  assert.equal(readShmSample(v).kind, "sample");
  v.setInt32(SHM_TIME.mode, 7, true);
  v.setInt32(SHM_TIME.valid, 1, true);
  assert.deepEqual(readShmSample(v), { kind: "bad-mode", mode: 7 });
  assert.equal(SHM_KEY_BASE, 0x4e545030);
});
