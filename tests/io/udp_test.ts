import assert from "node:assert/strict";
import { type MsgArena, type SockAddr, UdpSocket } from "../../lib/io/udp.ts";
import { realNow } from "../../lib/io/realtime.ts";
import type { Timestamp } from "../../lib/time/timestamp.ts";
import { ErrnoError } from "../../ffi/libc.ts";
import { holdKernelStamps } from "./kernel_stamps.ts";

/** Opens a socket on a random high loopback port (retrying if the port is taken). */
function openLoopback(family: "ipv4" | "ipv6", extra: { batch?: number } = {}): UdpSocket {
  const address = family === "ipv4" ? "127.0.0.1" : "::1";
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    try {
      return UdpSocket.open({ family, address, port, ...extra });
    } catch (e) {
      if (!(e instanceof ErrnoError && e.code === "EADDRINUSE")) throw e;
    }
  }
  throw new Error("no free port");
}

interface Received {
  bytes: Uint8Array;
  from: SockAddr;
  rx: Timestamp;
  local: string | null;
  kernel: boolean;
}

function collect(sock: UdpSocket, count: number): Promise<Received[]> {
  const got: Received[] = [];
  return new Promise((resolve) => {
    sock.onPacket((bytes, from, rx, local, kernel) => {
      got.push({ bytes: bytes.slice(), from, rx, local: local.address, kernel });
      if (got.length === count) resolve(got);
    });
  });
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let id: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    id = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(id));
}

Deno.test("udp: IPv4 loopback datagram arrives with a kernel RX timestamp near the real time", async () => {
  const held = await holdKernelStamps();
  const a = openLoopback("ipv4");
  const b = openLoopback("ipv4");
  try {
    const got = collect(b, 1);
    const before = realNow();
    const id = a.send(new Uint8Array([1, 2, 3, 4]), b.localAddress());
    assert.ok(id !== null && id > 0);
    const [pkt] = await withTimeout(got, 5000, "packet");
    assert.ok(pkt);
    assert.deepEqual([...pkt.bytes], [1, 2, 3, 4]);
    assert.equal(pkt.from.address, "127.0.0.1");
    assert.equal(pkt.from.port, a.localAddress().port);
    assert.equal(pkt.local, "127.0.0.1");
    assert.equal(pkt.kernel, true);
    const skew = Number(pkt.rx - before) / 1e9;
    assert.ok(skew > -0.05 && skew < 0.05, `rx ${pkt.rx} vs ${before}`);
  } finally {
    await held.close();
    await a.close();
    await b.close();
  }
});

Deno.test("udp: IPv6 ::1 round trip", async () => {
  const a = openLoopback("ipv6");
  const b = openLoopback("ipv6");
  try {
    const atB = collect(b, 1);
    a.send(new TextEncoder().encode("ping"), b.localAddress());
    const [req] = await withTimeout(atB, 5000, "request");
    assert.equal(req?.from.address, "::1");
    assert.equal(req?.local, "::1");
    const atA = collect(a, 1);
    b.send(new TextEncoder().encode("pong"), req!.from);
    const [resp] = await withTimeout(atA, 5000, "reply");
    assert.equal(new TextDecoder().decode(resp!.bytes), "pong");
    assert.equal(resp!.from.port, b.localAddress().port);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("udp: a send that asks for a TX timestamp gets one reported with its send id", async () => {
  const a = openLoopback("ipv4");
  const b = openLoopback("ipv4");
  try {
    const stamps = new Map<number, Timestamp>();
    const want = new Promise<void>((resolve) => {
      a.onTxTimestamp((id, ts) => {
        stamps.set(id, ts);
        if (stamps.size === 2) resolve();
      });
    });
    const arrived = collect(b, 3);
    const to = b.localAddress();
    const before = realNow();
    const id1 = a.send(new Uint8Array(48), to, { txTimestamp: true });
    const id2 = a.send(new Uint8Array(48), to); // no stamp asked
    const id3 = a.send(new Uint8Array(48), to, { txTimestamp: true });
    await withTimeout(want, 5000, "TX timestamps");
    await withTimeout(arrived, 5000, "packets");
    assert.ok(id1 !== null && id2 !== null && id3 !== null);
    assert.deepEqual([...stamps.keys()].sort(), [id1, id3].sort());
    const t1 = stamps.get(id1)!;
    assert.ok(Math.abs(Number(t1 - before)) / 1e9 < 0.05);
    assert.ok(stamps.get(id3)! >= t1);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("udp: recvmmsg delivers several queued datagrams in one batch", async () => {
  const a = openLoopback("ipv4");
  const b = openLoopback("ipv4", { batch: 16 });
  try {
    const to = b.localAddress();
    const ids = a.sendBatch(
      Array.from({ length: 8 }, (_, i) => ({ bytes: new Uint8Array([i]), to })),
    );
    assert.equal(ids.filter((x) => x !== null).length, 8);
    const counts: number[] = [];
    const seen: number[] = [];
    const done = new Promise<void>((resolve) => {
      b.onBatch((arena, count, fallback) => {
        counts.push(count);
        for (let i = 0; i < count; i++) {
          seen.push(arena.packet(i)[0]!);
          assert.equal(arena.lengths[i], 1);
          assert.ok((arena.rxTimestamp(i) ?? fallback) > 0n);
        }
        if (seen.length >= 8) resolve();
      });
    });
    await withTimeout(done, 5000, "batch");
    assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.ok(Math.max(...counts) > 1, `batches ${counts}`);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("udp: onBatch replies in place from the arena with sendmmsg", async () => {
  const server = openLoopback("ipv4");
  const client = openLoopback("ipv4");
  try {
    server.onBatch((arena, count) => {
      for (let i = 0; i < count; i++) {
        const pkt = arena.packet(i);
        pkt[0] = pkt[0]! + 100;
        arena.queueReply(i, arena.lengths[i]!, { txTimestamp: false, fromLocal: true });
      }
    });
    const replies = collect(client, 3);
    const to = server.localAddress();
    for (let i = 0; i < 3; i++) client.send(new Uint8Array([i, 9]), to);
    const got = await withTimeout(replies, 5000, "replies");
    assert.deepEqual(got.map((r) => [...r.bytes]).sort(), [[100, 9], [101, 9], [102, 9]]);
    assert.equal(got[0]!.from.port, to.port);
  } finally {
    await server.close();
    await client.close();
  }
});

Deno.test("udp: replies change their control messages per slot and go to their own clients", async () => {
  // The arena keeps each slot's reply cmsg headers and each queue position's pointers from the
  // last reply: a TX stamp asked, then not, then a reply from slot 1 at queue position 0.
  const server = openLoopback("ipv4");
  const a = openLoopback("ipv4");
  const b = openLoopback("ipv4");
  try {
    let plan: (arena: MsgArena, n: number) => void = () => {};
    server.onBatch((arena, n) => plan(arena, n));
    const stamped: number[] = [];
    const stampTimes = new Map<number, Timestamp>();
    const twoStamps = new Promise<void>((resolve) => {
      server.onTxTimestamp((id, tx) => {
        stamped.push(id);
        stampTimes.set(id, tx);
        if (stamped.length === 2) resolve();
      });
    });
    const to = server.localAddress();
    const reply = (slot: number, txTimestamp: boolean) => (arena: MsgArena) => {
      arena.packet(slot)[0]! += 100;
      arena.queueReply(slot, 1, { txTimestamp, fromLocal: true });
    };
    const fromA = collect(a, 2);
    // no await between a send and receiveBatch(): the poller cannot take the batch first
    plan = reply(0, true);
    a.send(new Uint8Array([1]), to);
    assert.equal(server.receiveBatch(), 1);
    const id1 = server.replyIds[0]!;
    plan = reply(0, false);
    a.send(new Uint8Array([2]), to);
    assert.equal(server.receiveBatch(), 1);
    const id2 = server.replyIds[0]!;
    const fromB = collect(b, 1);
    plan = reply(1, true);
    const before3 = realNow();
    a.send(new Uint8Array([3]), to);
    b.send(new Uint8Array([4]), to);
    assert.equal(server.receiveBatch(), 2);
    const id3 = server.replyIds[0]!;
    assert.ok(id1 > 0 && id2 > id1 && id3 > id2);
    const gotA = await withTimeout(fromA, 5000, "replies to a");
    const gotB = await withTimeout(fromB, 5000, "reply to b");
    assert.deepEqual(gotA.map((r) => r.bytes[0]), [101, 102]);
    assert.deepEqual([...gotB[0]!.bytes], [104]);
    for (const r of [...gotA, ...gotB]) assert.equal(r.from.address, "127.0.0.1");
    // the kernel reports stamps in send order: the second reply's would come before the third's
    await withTimeout(twoStamps, 5000, "TX timestamps");
    assert.deepEqual(stamped, [id1, id3]);
    // a stamp asked by the second reply by mistake would be taken for the third's (OPT_ID keys)
    assert.ok(
      stampTimes.get(id3)! >= before3,
      "the third reply's stamp is from before it was sent",
    );
  } finally {
    await server.close();
    await a.close();
    await b.close();
  }
});

Deno.test("udp: binding a port that is in use fails with EADDRINUSE", async () => {
  const a = openLoopback("ipv4");
  try {
    const { port } = a.localAddress();
    assert.throws(
      () => UdpSocket.open({ family: "ipv4", address: "127.0.0.1", port }),
      (e: unknown) => e instanceof ErrnoError && e.code === "EADDRINUSE" && e.syscall === "bind",
    );
  } finally {
    await a.close();
  }
});

Deno.test("udp: an address of the wrong family is rejected", () => {
  assert.throws(() => UdpSocket.open({ family: "ipv4", address: "::1", port: 0 }), RangeError);
});
