import assert from "node:assert/strict";
import { closeStream, TcpListener } from "../../lib/io/tcp.ts";
import { poller } from "../../lib/io/poller.ts";
import {
  close,
  epollCreate,
  epollReady,
  epollWatch,
  eventfd,
  eventfdWrite,
} from "../../ffi/libc.ts";
import { UdpSocket } from "../../lib/io/udp.ts";
import { freePort } from "../interop/harness.ts";

Deno.test("tcp: :: and 0.0.0.0 listen on the same port (V6ONLY); Deno.listen cannot", () => {
  const port = freePort();
  const v4 = TcpListener.open({ family: "ipv4", address: "0.0.0.0", port });
  try {
    assert.throws(() => Deno.listen({ hostname: "::", port }), Deno.errors.AddrInUse);
    const v6 = TcpListener.open({ family: "ipv6", address: "::", port });
    assert.equal(v6.localAddress().port, port);
    v6.close();
  } finally {
    v4.close();
  }
});

Deno.test("tcp and udp: an address on no interface (TEST-NET) is bound with FREEBIND", async () => {
  const port = freePort();
  for (const [family, address] of [["ipv4", "203.0.113.74"], ["ipv6", "2001:db8::74"]] as const) {
    const l = TcpListener.open({ family, address, port });
    assert.equal(l.localAddress().address, address);
    l.close();
    assert.throws(() => TcpListener.open({ family, address, port, freebind: false }));
    const u = UdpSocket.open({ family, address, port, timestamping: false, freebind: true });
    assert.equal(u.localAddress().address, address);
    await u.close();
    assert.throws(() => UdpSocket.open({ family, address, port, timestamping: false }));
  }
});

Deno.test("tcp: accept, read, write and end of stream with a Deno client", async () => {
  const l = TcpListener.open({ family: "ipv4", address: "127.0.0.1", port: 0 });
  const port = l.localAddress().port;
  try {
    const [server, client] = await Promise.all([
      l.accept(),
      Deno.connect({ hostname: "127.0.0.1", port }),
    ]);
    assert.ok(server);
    assert.equal(server.remoteAddr.hostname, "127.0.0.1");
    await client.write(new TextEncoder().encode("ping"));
    const buf = new Uint8Array(16);
    const n = await server.read(buf);
    assert.equal(new TextDecoder().decode(buf.subarray(0, n!)), "ping");
    assert.equal(await server.write(new TextEncoder().encode("pong")), 4);
    const m = await client.read(buf);
    assert.equal(new TextDecoder().decode(buf.subarray(0, m!)), "pong");
    client.close();
    assert.equal(await server.read(buf), null);
    server.close();
    await assert.rejects(server.read(buf), Deno.errors.BadResource);
  } finally {
    l.close();
  }
});

Deno.test("tcp: close() ends a pending accept() with null and a pending read() with an error", async () => {
  const l = TcpListener.open({ family: "ipv4", address: "127.0.0.1", port: 0 });
  const pending = l.accept();
  const client = await Deno.connect({ hostname: "127.0.0.1", port: l.localAddress().port });
  const server = await pending;
  assert.ok(server);
  const read = server.read(new Uint8Array(8));
  server.close();
  await assert.rejects(read, Deno.errors.BadResource);
  const next = l.accept();
  l.close();
  assert.equal(await next, null);
  client.close();
});

Deno.test("tcp: serve() hands over every waiting connection with its peer; close() stops it", async () => {
  const l = TcpListener.open({ family: "ipv4", address: "127.0.0.1", port: 0 });
  const got: { fd: number; address: string; port: number }[] = [];
  l.serve((fd, peer) => got.push({ fd, address: peer.address, port: peer.port }));
  const clients: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      clients.push(await Deno.connect({ hostname: "127.0.0.1", port: l.localAddress().port }));
    }
    const deadline = Date.now() + 5000;
    while (got.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(got.length, 3);
    assert.deepEqual(
      got.map((g) => [g.address, g.port]).sort(),
      clients.map((c) => ["127.0.0.1", c.localAddr.port]).sort(),
    );
    // the descriptor is the callee's: closing it (orderly) ends the client's stream
    closeStream(got[0]!.fd);
    const c0 = clients.find((c) => c.localAddr.port === got[0]!.port)!;
    assert.equal(await c0.read(new Uint8Array(8)), null);
    for (const g of got.slice(1)) closeStream(g.fd);
  } finally {
    l.close();
    for (const c of clients) c.close();
  }
  await poller.idle();
});

Deno.test("epoll: a set reports the descriptors with input, not after they leave it", () => {
  const ep = epollCreate();
  const a = eventfd(0), b = eventfd(0);
  try {
    const out = new Int32Array(4);
    assert.equal(epollWatch(ep, a, true), 0);
    assert.equal(epollWatch(ep, b, true), 0);
    assert.equal(epollReady(ep, out), 0);
    eventfdWrite(b);
    assert.equal(epollReady(ep, out), 1);
    assert.equal(out[0], b);
    assert.equal(epollWatch(ep, b, false), 0);
    assert.equal(epollReady(ep, out), 0);
    assert.ok(epollWatch(ep, b, false) < 0, "removing twice is ENOENT");
  } finally {
    close(a);
    close(b);
    close(ep);
  }
});
