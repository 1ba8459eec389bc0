import assert from "node:assert/strict";
import {
  CLIENT_IO_OF,
  ClientIo,
  type ClientIoOptions,
  measurementSources,
} from "../../lib/daemon/client_io.ts";
import { Engine } from "../../lib/engine/engine.ts";
import { Logger } from "../../lib/daemon/log.ts";
import { openSystemClock } from "../../lib/daemon/system.ts";
import { type SockAddr, UdpSocket } from "../../lib/io/udp.ts";
import { poller } from "../../lib/io/poller.ts";
import { realNow } from "../../lib/io/realtime.ts";
import {
  decodePacket,
  encodePacket,
  MODE_SERVER,
  newPacket,
  timestampToNtp,
} from "../../lib/ntp/packet.ts";
import { ntp64Bits } from "../../lib/time/timestamp.ts";
import type { NtpSourceOptions } from "../../lib/ntp/source.ts";
import { ErrnoError } from "../../ffi/libc.ts";

function openLoopback(): UdpSocket {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    try {
      return UdpSocket.open({ family: "ipv4", address: "127.0.0.1", port });
    } catch (e) {
      if (!(e instanceof ErrnoError && e.code === "EADDRINUSE")) throw e;
    }
  }
  throw new Error("no free port");
}

/** A server reply to `request` stamped with the real time. */
function replyTo(request: Uint8Array): Uint8Array {
  const q = decodePacket(request);
  const now = timestampToNtp(realNow());
  return encodePacket({
    ...newPacket(),
    mode: MODE_SERVER,
    stratum: 1,
    poll: q.poll,
    precision: -20,
    referenceId: 0x47505300,
    referenceTs: ntp64Bits(now - (10n << 32n)),
    originTs: q.transmitTs,
    receiveTs: now,
    transmitTs: now,
  });
}

interface Setup {
  io: ClientIo;
  engine: Engine;
  server: UdpSocket;
  /** Where each request came from, in order. */
  from: SockAddr[];
  close(): Promise<void>;
}

/**
 * horae's client polling a fake server on loopback. `answer(from, bytes)`
 * replies (from the server's socket) unless it returns false.
 */
function setup(
  options: Partial<NtpSourceOptions>,
  answer: (from: SockAddr, bytes: Uint8Array, server: UdpSocket) => boolean = () => true,
  acquisitionPort?: number,
  bindAddress?: string,
  extra: Partial<ClientIoOptions> = {},
): Setup {
  const server = openLoopback();
  const from: SockAddr[] = [];
  server.onPacket((bytes, src) => {
    from.push(src);
    if (answer(src, bytes, server)) server.send(replyTo(bytes), src);
  });
  const clock = openSystemClock({ readOnly: true });
  const engine = new Engine({
    clock,
    discipline: { update: () => [] },
    randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
  });
  engine.addSource({
    name: "127.0.0.1",
    address: "127.0.0.1",
    options: { port: server.localAddress().port, ...options },
  });
  const io = new ClientIo({
    engine,
    clock,
    log: new Logger({ sink: { lines: [] }, level: 9 }),
    ...(acquisitionPort !== undefined ? { port: acquisitionPort } : {}),
    ...(bindAddress !== undefined ? { bindAddress: { ipv4: bindAddress } } : {}),
    ...extra,
  });
  io.run(engine.start());
  return {
    io,
    engine,
    server,
    from,
    async close() {
      await io.close();
      await server.close();
    },
  };
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const openFds = () => [...Deno.readDirSync("/proc/self/fd")].length;

Deno.test("each request leaves from its own socket with a new source port, closed after the reply", async () => {
  const s = setup({ minpoll: -5, maxpoll: -5 });
  try {
    await until("8 requests", () => s.from.length >= 8);
    const ports = s.from.slice(0, 8).map((a) => a.port);
    assert.equal(new Set(ports).size, 8, `source ports ${ports}`);
    assert.ok(s.from.every((a) => a.address === "127.0.0.1"));
    const ntp = s.engine.sources[0]!.ntp;
    await until("valid replies", () => ntp.report().totalValidRx >= 6);
    assert.ok(s.io.requestSockets >= 8);
    assert.ok(s.io.openRequestSockets <= 1, `${s.io.openRequestSockets} request sockets open`);
  } finally {
    await s.close();
  }
});

Deno.test("descriptors stay bounded over many polls (answered and unanswered)", async () => {
  let n = 0;
  // every third request goes unanswered: its socket is closed by the next request
  const s = setup({ minpoll: -6, maxpoll: -6 }, () => ++n % 3 !== 0);
  try {
    await until("10 requests", () => s.from.length >= 10);
    const before = openFds();
    const polled = poller.size;
    await until("150 requests", () => s.from.length >= 160, 20000);
    const after = openFds();
    // The process's descriptor count also moves with test files running in parallel
    // (deno test --parallel shares the process): a leak of one per request would add
    // ~150 here; the poller and the io's own count below are exact.
    assert.ok(after - before <= 16, `open descriptors ${before} -> ${after}`);
    assert.ok(poller.size <= polled + 1, `poller watches ${polled} -> ${poller.size}`);
    assert.ok(s.io.openRequestSockets <= 1);
    assert.ok(s.engine.sources[0]!.ntp.report().totalValidRx >= 90);
  } finally {
    await s.close();
  }
});

Deno.test("a reply from another port is dropped by the kernel, the real one is accepted", async () => {
  const spoofer = openLoopback();
  let spoofed = 0;
  const s = setup({ minpoll: -1, maxpoll: -1 }, (from, bytes) => {
    if (spoofed === 0) {
      // a perfect reply (right origin) but from the wrong port: never reaches the engine
      spoofer.send(replyTo(bytes), from);
      spoofed++;
      return false;
    }
    return true;
  });
  try {
    const ntp = s.engine.sources[0]!.ntp;
    await until("the first request", () => s.from.length >= 1);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(ntp.report().totalRx, 0, "the spoofed reply reached the source");
    assert.equal(s.io.stray, 0);
    await until("a genuine reply", () => ntp.report().totalValidRx >= 1);
    assert.equal(spoofed, 1);
  } finally {
    await s.close();
    await spoofer.close();
  }
});

Deno.test("with acquisitionport every request leaves from that one port", async () => {
  const probe = openLoopback();
  const port = probe.localAddress().port;
  await probe.close();
  const s = setup({ minpoll: -5, maxpoll: -5 }, () => true, port);
  try {
    await until("5 requests", () => s.from.length >= 5);
    assert.deepEqual(new Set(s.from.map((a) => a.port)), new Set([port]));
    assert.equal(s.io.requestSockets, 0);
    await until("valid replies", () => s.engine.sources[0]!.ntp.report().totalValidRx >= 3);
  } finally {
    await s.close();
  }
});

Deno.test("bindacqaddress: per-request sockets are bound to it", async () => {
  const s = setup({ minpoll: -5, maxpoll: -5 }, () => true, undefined, "127.0.0.9");
  try {
    await until("3 requests", () => s.from.length >= 3);
    assert.deepEqual(new Set(s.from.map((a) => a.address)), new Set(["127.0.0.9"]));
    assert.equal(new Set(s.from.map((a) => a.port)).size, s.from.length);
    await until("valid replies", () => s.engine.sources[0]!.ntp.report().totalValidRx >= 2);
    assert.equal(s.io.localAddress(0), "127.0.0.9"); // ntpdata Local address
  } finally {
    await s.close();
  }
});

Deno.test("ICMP port unreachable on a connected request socket does not make the poller spin", async () => {
  const s = setup({ minpoll: -3, maxpoll: -3 });
  await s.server.close(); // nobody listens: each request draws an ICMP error
  try {
    const ntp = s.engine.sources[0]!.ntp;
    await until("a request", () => ntp.report().totalTx >= 1);
    // Counted wake-ups rather than CPU time: the process's CPU also counts test files
    // running in parallel. 3 requests draw about 3 ICMP errors and as many replies-to-be;
    // a descriptor left readable spins through tens of thousands of polls a second.
    // (An unreachable source polls at 1 s, not at its sub-second minpoll: chrony.conf(5).)
    const p0 = poller.polls;
    await until("3 requests", () => ntp.report().totalTx >= 4, 8000);
    const polls = poller.polls - p0;
    assert.ok(polls < 500, `${polls} poll wake-ups for 3 requests`);
  } finally {
    await s.close();
  }
});

Deno.test("hwtstimeout: with hwtimestamp a reply waits for the NIC's TX stamp, then is processed", async () => {
  // loopback gives no NIC stamps: the reply is held for hwtstimeout, then taken with the kernel's
  const hw = { interfaces: [1], convertRx: () => null, convertTx: () => null };
  const s = setup({ minpoll: 4, maxpoll: 4 }, undefined, undefined, undefined, {
    hw,
    hwTsTimeout: 1.5,
  });
  try {
    const ntp = s.engine.sources[0]!.ntp;
    await until("a held reply", () => s.io.heldReplies >= 1);
    assert.equal(ntp.report().totalValidRx, 0);
    await until("the reply processed", () => ntp.report().totalValidRx >= 1);
  } finally {
    await s.close();
  }
  // without hwtimestamp (or hwtstimeout 0) nothing is held
  for (const extra of [{}, { hw, hwTsTimeout: 0 }]) {
    const t = setup({ minpoll: 4, maxpoll: 4 }, undefined, undefined, undefined, extra);
    try {
      await until("a reply", () => t.engine.sources[0]!.ntp.report().totalValidRx >= 1);
      assert.equal(t.io.heldReplies, 0);
      // measurements.log finds this IO through its engine: kernel stamps on loopback
      assert.equal(CLIENT_IO_OF.get(t.engine), t.io);
      const id = t.engine.sources[0]!.id;
      assert.deepEqual(measurementSources(t.io, id), { txSource: "kernel", rxSource: "kernel" });
    } finally {
      await t.close();
    }
  }
});
