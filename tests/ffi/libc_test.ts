import assert from "node:assert/strict";
import {
  addressFamily,
  adjtimex,
  bind,
  CLOCK,
  clockAdjtime,
  clockGettime,
  close,
  decodeSockaddr,
  encodeSockaddr,
  ErrnoError,
  eventfd,
  eventfdRead,
  eventfdWrite,
  formatAddress,
  GaiError,
  getaddrinfo,
  getsockname,
  parseAddress,
  poll,
  socket,
} from "../../ffi/libc.ts";
import { L, POLLFD } from "../../ffi/layout.ts";
import { emptyTimex, STA_NANO, TIME_ERROR, TIME_OK } from "../../ffi/timex.ts";

Deno.test("libc: CLOCK_REALTIME agrees with Date.now() within a second", () => {
  const t = clockGettime(CLOCK.REALTIME);
  const d = BigInt(Date.now()) * 1_000_000n;
  assert.ok(t - d < 1_000_000_000n && d - t < 1_000_000_000n, `${t} vs ${d}`);
});

Deno.test("libc: MONOTONIC_RAW and BOOTTIME never go backwards", () => {
  for (const id of [CLOCK.MONOTONIC_RAW, CLOCK.BOOTTIME]) {
    const a = clockGettime(id);
    const b = clockGettime(id);
    assert.ok(a > 0n && b >= a);
  }
});

Deno.test("libc: clock_gettime on an invalid clock id throws EINVAL", () => {
  assert.throws(
    () => clockGettime(-1000),
    (e: unknown) => e instanceof ErrnoError && e.code === "EINVAL",
  );
});

Deno.test("libc: adjtimex with modes = 0 reads a plausible kernel state without changing it", () => {
  const { state, tx } = adjtimex(emptyTimex()); // modes 0: read only
  assert.ok(state >= TIME_OK && state <= TIME_ERROR, `state ${state}`);
  assert.ok(tx.tick > 0, `tick ${tx.tick}`);
  assert.ok(Math.abs(tx.freq) <= 500 * 65536, `freq ${tx.freq}`); // kernel limit ±500 ppm
  const usecPerSec = tx.status & STA_NANO ? 1e9 : 1e6;
  const kernelSec = tx.time.sec + tx.time.usec / usecPerSec;
  assert.ok(Math.abs(kernelSec - Date.now() / 1000) < 1);
  const again = clockAdjtime(CLOCK.REALTIME, emptyTimex());
  assert.equal(again.tx.freq, tx.freq);
  assert.equal(again.tx.tick, tx.tick);
});

Deno.test("libc: addresses parse, format and round-trip through sockaddr", () => {
  assert.equal(addressFamily("127.0.0.1"), "ipv4");
  assert.equal(addressFamily("::ffff:1.2.3.4"), "ipv6");
  assert.equal(addressFamily("example.org"), null);
  assert.equal(parseAddress("1.2.3", "ipv4"), null);
  assert.equal(formatAddress(parseAddress("2001:DB8:0:0::1", "ipv6")!), "2001:db8::1");
  for (
    const a of [
      { family: "ipv4", address: "192.0.2.1", port: 123 },
      { family: "ipv6", address: "fe80::1", port: 65535 },
    ] as const
  ) {
    assert.deepEqual(decodeSockaddr(encodeSockaddr(a)), a);
  }
  assert.throws(() => encodeSockaddr({ family: "ipv4", address: "::1", port: 1 }), RangeError);
});

Deno.test("libc: binding the same address twice gives EADDRINUSE with the call named", () => {
  const a = socket(L.AF_INET, L.SOCK_DGRAM | L.SOCK_CLOEXEC);
  const b = socket(L.AF_INET, L.SOCK_DGRAM | L.SOCK_CLOEXEC);
  try {
    bind(a, encodeSockaddr({ family: "ipv4", address: "127.0.0.1", port: 0 }));
    const taken = getsockname(a);
    assert.equal(taken.address, "127.0.0.1");
    assert.ok(taken.port > 0);
    assert.throws(
      () => bind(b, encodeSockaddr(taken)),
      (e: unknown) =>
        e instanceof ErrnoError && e.code === "EADDRINUSE" && e.errno === 98 &&
        e.syscall === "bind",
    );
  } finally {
    close(a);
    close(b);
  }
});

Deno.test("libc: eventfd becomes readable after a write and poll reports it", () => {
  const fd = eventfd(0);
  try {
    const fds = new Uint8Array(POLLFD.size);
    const dv = new DataView(fds.buffer);
    dv.setInt32(POLLFD.fd, fd, true);
    dv.setInt16(POLLFD.events, L.POLLIN, true);
    assert.equal(poll(fds, 1, 0), 0);
    eventfdWrite(fd);
    eventfdWrite(fd);
    assert.equal(poll(fds, 1, 0), 1);
    assert.equal(dv.getInt16(POLLFD.revents, true) & L.POLLIN, L.POLLIN);
    assert.equal(eventfdRead(fd), 2);
    assert.equal(eventfdRead(fd), 0);
  } finally {
    close(fd);
  }
});

Deno.test("libc: getaddrinfo(localhost) includes 127.0.0.1", async () => {
  const addrs = await getaddrinfo("localhost");
  assert.ok(addrs.some((a) => a.family === "ipv4" && a.address === "127.0.0.1"));
});

Deno.test("libc: getaddrinfo of a .invalid name fails with a named EAI code", async () => {
  await assert.rejects(
    () => getaddrinfo("nothing-here.invalid"),
    (e: unknown) => e instanceof GaiError && e.code.startsWith("EAI_"),
  );
});
