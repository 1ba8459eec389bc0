/**
 * What chronyc reports, horae beside the real chronyd 4.3 with the same
 * configuration, both read with the real chronyc -n:
 * - one source per address (same address by number and by name, another
 *   port, `add server`/`add pool` of an address in use) and the count of
 *   sources with unknown address in `activity`;
 * - `tracking` before any synchronisation (root delay/dispersion 1 s) and
 *   root delay/dispersion on the wire rounded up;
 * - `ntpdata` of an NTS source: the port from the NTS-KE port record,
 *   Authenticated Yes, the local address filled in.
 */
import assert from "node:assert/strict";
import {
  freePort,
  haveChrony,
  type RealChronyd,
  runCommand,
  startChronyd,
  startHorae,
} from "./harness.ts";

const enabled = haveChrony();
const CHRONYC = "/usr/bin/chronyc";

async function chronyc(socket: string, ...args: string[]): Promise<string> {
  const r = await runCommand(CHRONYC, ["-h", socket, "-n", ...args], { timeoutMs: 10_000 });
  return (r.stdout + r.stderr).trim();
}

/** `Key : value` lines of a chronyc report (ntpdata, tracking) as a map. */
function fields(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split("\n")) {
    const i = line.indexOf(":");
    if (i > 0) m.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return m;
}

/** Addresses of the `sources` rows. */
async function rows(socket: string): Promise<string[]> {
  const out = await chronyc(socket, "-c", "sources");
  return out.split("\n").filter((l) => l !== "").map((l) => l.split(",")[2]!).sort();
}

async function activity(socket: string): Promise<string> {
  return await chronyc(socket, "activity");
}

/** Polls `probe` on both daemons until the answers agree (or the deadline): returns both. */
async function settle<T>(
  probe: (socket: string) => Promise<T>,
  sockets: [string, string],
  done: (a: T, b: T) => boolean,
  ms = 15_000,
): Promise<[T, T]> {
  const end = Date.now() + ms;
  for (;;) {
    const a = await probe(sockets[0]), b = await probe(sockets[1]);
    if (done(a, b) || Date.now() > end) return [a, b];
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** The same client configuration in the real chronyd and in horae (both -4, -x). */
async function bothClients(lines: string[]) {
  const real = await startChronyd({ lines, flags: ["-4"] });
  const horae = await startHorae(lines, { flags: ["-4"] }).catch(async (e) => {
    await real.stop();
    throw e;
  });
  return { real, horae, sockets: [real.socket, horae.socket] as [string, string] };
}

Deno.test({
  name: "reports: one source per address; activity counts names without one, as chronyd",
  ignore: !enabled,
  async fn() {
    const server = await startChronyd({ port: freePort() });
    const other = freePort(); // nothing listens there
    const { real, horae, sockets } = await bothClients([
      `server localhost port ${server.port} iburst minpoll 0 maxpoll 1`,
      `server 127.0.0.1 port ${server.port} iburst minpoll 0 maxpoll 1`,
      `server 127.0.0.1 port ${other} iburst`,
      `peer 127.0.0.1 port ${other}`,
      "server nonexistent.invalid iburst",
    ]);
    try {
      const [ra, ha] = await settle(activity, sockets, (a, b) => a === b);
      assert.match(ra, /2 sources with unknown address/, ra);
      assert.equal(ha, ra);
      const [rr, hr] = await settle(rows, sockets, (a, b) => a.length === b.length);
      assert.deepEqual(rr, ["127.0.0.1"]);
      assert.deepEqual(hr, rr);
      // the numeric line kept its port; the name waits
      for (const s of sockets) {
        const n = fields(await chronyc(s, "ntpdata", "127.0.0.1"));
        assert.equal(n.get("Remote port"), String(server.port), s);
      }
      // add server/peer of an address in use (any port): refused alike
      for (
        const cmd of [
          `add server 127.0.0.1 port ${server.port}`,
          `add server 127.0.0.1 port ${other}`,
          `add peer 127.0.0.1 port ${other}`,
        ]
      ) {
        const a = await chronyc(real.socket, ...cmd.split(" "));
        const b = await chronyc(horae.socket, ...cmd.split(" "));
        assert.equal(a, "511 Source already present", cmd);
        assert.equal(b, a, cmd);
      }
      // by name: accepted, then waiting without an address (a pool of 2 has 4 slots)
      for (
        const cmd of [
          `add server localhost port ${server.port}`,
          `add pool localhost port ${server.port} maxsources 2`,
        ]
      ) {
        const a = await chronyc(real.socket, ...cmd.split(" "));
        const b = await chronyc(horae.socket, ...cmd.split(" "));
        assert.equal(a, "200 OK", cmd);
        assert.equal(b, a, cmd);
      }
      const [ra2, ha2] = await settle(
        activity,
        sockets,
        (a, b) => a === b && a.includes("7 sources with unknown"),
      );
      assert.match(ra2, /7 sources with unknown address/, ra2);
      assert.equal(ha2, ra2);
      assert.deepEqual(await rows(horae.socket), ["127.0.0.1"]);
    } finally {
      await horae.stop();
      await real.stop();
      await server.stop();
    }
  },
});

Deno.test({
  name: "reports: pools count their empty slots until maxsources answered, as chronyd",
  ignore: !enabled,
  async fn() {
    const server = await startChronyd({ port: freePort() });
    const { real, horae, sockets } = await bothClients([
      // one address for a pool of 1: spare slot dropped once it answered
      `pool localhost port ${server.port} iburst minpoll 0 maxpoll 1 maxsources 1`,
      // its only address is in use: 2 x 3 empty slots
      `pool localhost port ${server.port} iburst maxsources 3`,
    ]);
    try {
      const [ra, ha] = await settle(
        activity,
        sockets,
        (a, b) => a === b && a.includes("6 sources with unknown"),
      );
      assert.match(ra, /6 sources with unknown address/, ra);
      assert.equal(ha, ra);
      assert.deepEqual(await rows(horae.socket), await rows(real.socket));
    } finally {
      await horae.stop();
      await real.stop();
      await server.stop();
    }
  },
});

Deno.test({
  name: "reports: tracking before any synchronisation shows 1 s root delay and dispersion",
  ignore: !enabled,
  async fn() {
    const { real, horae, sockets } = await bothClients([
      `server 127.0.0.1 port ${freePort()} iburst`,
    ]);
    try {
      const [a, b] = await Promise.all(sockets.map((s) => chronyc(s, "tracking")));
      const r = fields(a!), h = fields(b!);
      assert.equal(r.get("Root delay"), "1.000000000 seconds", a);
      assert.equal(r.get("Root dispersion"), "1.000000000 seconds", a);
      assert.equal(h.get("Root delay"), r.get("Root delay"), b);
      assert.equal(h.get("Root dispersion"), r.get("Root dispersion"), b);
      assert.equal(h.get("Leap status"), r.get("Leap status"), b);
    } finally {
      await horae.stop();
      await real.stop();
    }
  },
});

/** Root delay and dispersion words of a server's reply to one client request. */
async function rootWords(port: number): Promise<[number, number]> {
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const req = new Uint8Array(48);
    req[0] = 0x23; // v4 client
    new DataView(req.buffer).setUint32(40, 0x01020304);
    await sock.send(req, { transport: "udp", hostname: "127.0.0.1", port });
    const timer = setTimeout(() => sock.close(), 3000);
    const [reply] = await sock.receive();
    clearTimeout(timer);
    const v = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
    return [v.getUint32(4), v.getUint32(8)];
  } finally {
    try {
      sock.close();
    } catch { /* closed by the timer */ }
  }
}

Deno.test({
  name: "reports: served root delay/dispersion round up (microseconds go out as 1 unit, not 0)",
  ignore: !enabled,
  async fn() {
    const upstream = await startChronyd({ port: freePort() });
    const realPort = freePort(), horaePort = freePort();
    const source = `server 127.0.0.1 port ${upstream.port} iburst minpoll -1 maxpoll -1`;
    let real: RealChronyd | null = null;
    let horae: Awaited<ReturnType<typeof startHorae>> | null = null;
    try {
      real = await startChronyd({ port: realPort, lines: [source] });
      horae = await startHorae([
        source,
        `port ${horaePort}`,
        "bindaddress 127.0.0.1",
        "allow 127.0.0.1",
      ]);
      // synchronised to the upstream (the chronyd server also has its `local stratum 1`)
      const stratum = async (s: string) => fields(await chronyc(s, "tracking")).get("Stratum");
      const [a, b] = await settle(
        stratum,
        [real.socket, horae.socket],
        (x, y) => x === "2" && y === "2",
        30_000,
      );
      assert.equal(a, "2");
      assert.equal(b, "2");
      for (const [name, port] of [["chronyd", realPort], ["horae", horaePort]] as const) {
        const [delay, disp] = await rootWords(port);
        // stratum 2 over loopback: a few microseconds each, under one 2^-16 s unit
        // or a little over; rounded up they are never 0
        assert.ok(delay >= 1, `${name} root delay word ${delay}`);
        assert.ok(disp >= 1, `${name} root dispersion word ${disp}`);
      }
    } finally {
      await horae?.stop();
      await real?.stop();
      await upstream.stop();
    }
  },
});

Deno.test({
  name: "reports: ntpdata of an NTS source shows the port record's port, Authenticated Yes",
  ignore: !enabled,
  async fn() {
    const ntsPort = freePort();
    // an NTP port other than 123: the clients learn it from the NTS-KE port record
    const server = await startChronyd({ port: freePort(), ntsKePort: ntsPort });
    const plain = await startChronyd({ port: freePort(), address: "127.0.0.2" });
    const silent = freePort(); // nothing answers there
    let both: Awaited<ReturnType<typeof bothClients>> | null = null;
    try {
      both = await bothClients([
        `server localhost iburst nts ntsport ${ntsPort} minpoll 0 maxpoll 1`,
        `server 127.0.0.2 port ${plain.port} iburst minpoll 0 maxpoll 1`,
        `server 127.0.0.3 port ${silent} iburst`,
        `ntstrustedcerts ${server.cert}`,
      ]);
      const data = async (s: string) => [
        fields(await chronyc(s, "ntpdata", "127.0.0.1")),
        fields(await chronyc(s, "ntpdata", "127.0.0.2")),
        fields(await chronyc(s, "ntpdata", "127.0.0.3")),
      ];
      const [r, h] = await settle(
        data,
        both.sockets,
        (a, b) => [a[0], a[1], b[0], b[1]].every((m) => Number(m!.get("Total valid RX") ?? 0) > 0),
        30_000,
      );
      for (const [i, want] of [[0, server.port], [1, plain.port]] as const) {
        assert.equal(r[i]!.get("Remote port"), String(want));
        assert.equal(r[i]!.get("Local address"), "127.0.0.1 (7F000001)");
        for (const key of ["Remote address", "Remote port", "Local address", "Authenticated"]) {
          assert.equal(h[i]!.get(key), r[i]!.get(key), `${key} of source ${i}`);
        }
      }
      assert.equal(r[0]!.get("Authenticated"), "Yes");
      assert.equal(r[1]!.get("Authenticated"), "No");
      // selectdata's Auth column agrees (Y for the NTS source)
      const auth = async (sock: string) =>
        (await chronyc(sock, "-c", "selectdata")).split("\n").map((l) => l.split(",").slice(1, 3))
          .sort();
      const [ra, ha] = await Promise.all(both.sockets.map(auth));
      assert.deepEqual(ra, [["127.0.0.1", "Y"], ["127.0.0.2", "N"], ["127.0.0.3", "N"]]);
      assert.deepEqual(ha, ra);
      // a source that never answered: nothing to describe yet (chronyd: version 0, Invalid)
      assert.equal(r[2]!.get("Version"), "0");
      for (const [key, value] of r[2]!) {
        if (key.startsWith("Total TX")) continue; // how many requests went out so far
        assert.equal(h[2]!.get(key), value, `${key} of the silent source`);
      }
    } finally {
      await both?.horae.stop();
      await both?.real.stop();
      await plain.stop();
      await server.stop();
    }
  },
});
