/**
 * `ntsaeads` (chrony 4.6.1+): AES-128-GCM-SIV (AEAD 30, RFC 8452) between
 * horae's NTS client and server, with the compliant exporter context
 * negotiated by record 1024 and 68-byte cookies; lists with 15 keep working
 * with chronyd 4.8 (built without GCM-SIV) both ways.
 * @module
 */
import assert from "node:assert/strict";
import {
  CHRONYC48,
  CHRONYD48,
  freePort,
  haveChrony,
  haveChrony48,
  makeCert,
  runCommand,
  startChronyd,
  startHorae,
} from "./harness.ts";

const have48 = haveChrony48();
const have = haveChrony() && have48;

/** `authdata -c` row of the selected NTS source, polled until it is selected (<= 30 s). */
async function selectedAuth(socket: string): Promise<string[]> {
  for (let i = 0; i < 60; i++) {
    const s = await runCommand(CHRONYC48, ["-h", socket, "-n", "-c", "sources"]);
    if (s.code === 0 && s.stdout.split("\n").some((l) => l.split(",")[1] === "*")) {
      const a = await runCommand(CHRONYC48, ["-h", socket, "-n", "-c", "authdata"]);
      return a.stdout.trim().split("\n")[0]!.split(",");
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error("no NTS source selected within 30 s");
}

/** A horae NTS server (stratum 1) with `ntsaeads` as given. */
async function horaeServer(dir: string, aeads: string) {
  const { cert, key } = await makeCert(dir);
  const ntpPort = freePort(), kePort = freePort();
  const daemon = await startHorae([
    `port ${ntpPort}`,
    "bindaddress 127.0.0.1",
    "allow 127.0.0.0/8",
    "local stratum 1",
    `ntsservercert ${cert}`,
    `ntsserverkey ${key}`,
    `ntsport ${kePort}`,
    `ntsaeads ${aeads}`,
    "ntsdumpdir DIR",
  ], { flags: ["-4"] });
  return { daemon, cert, ntpPort, kePort };
}

Deno.test({
  name: "ntsaeads 30: horae to horae with AES-128-GCM-SIV (128-bit keys, 68-byte cookies)",
  ignore: !have,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "horae-aead-" });
    const server = await horaeServer(dir, "30 15");
    const client = await startHorae([
      `server localhost port ${server.ntpPort} iburst nts ntsport ${server.kePort} minpoll 0 maxpoll 1`,
      `ntstrustedcerts ${server.cert}`,
      "ntsaeads 30",
    ], { flags: ["-4"] });
    try {
      // Name,Mode,KeyID,Type,KLen,Last,Atmp,NAK,Cook,CLen
      const a = await selectedAuth(client.socket);
      assert.deepEqual([a[1], a[3], a[4], a[9]], ["NTS", "30", "128", "68"], a.join(","));
      const stats = await runCommand(CHRONYC48, [
        "-n",
        "-h",
        server.daemon.socket,
        "-c",
        "serverstats",
      ]);
      assert.ok(Number(stats.stdout.split(",")[7]) > 0, `authenticated packets: ${stats.stdout}`);
    } finally {
      await client.stop();
      await server.daemon.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "ntsaeads 30 15: horae's client and server fall back to 15 with chronyd 4.8",
  ignore: !have,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // horae client -> chronyd 4.8 server
    const kePort = freePort();
    const ref = await startChronyd({ binary: CHRONYD48, port: freePort(), ntsKePort: kePort });
    const client = await startHorae([
      `server localhost port ${ref.port} iburst nts ntsport ${kePort} minpoll 0 maxpoll 1`,
      `ntstrustedcerts ${ref.cert}`,
      "ntsaeads 30 15",
    ], { flags: ["-4"] });
    try {
      const a = await selectedAuth(client.socket);
      assert.deepEqual([a[1], a[3], a[4], a[9]], ["NTS", "15", "256", "100"], a.join(","));
    } finally {
      await client.stop();
      await ref.stop();
    }
    // chronyd 4.8 client -> horae server
    const dir = await Deno.makeTempDir({ prefix: "horae-aead-" });
    const server = await horaeServer(dir, "30 15");
    const refClient = await startChronyd({
      binary: CHRONYD48,
      lines: [
        `server localhost port ${server.ntpPort} iburst nts ntsport ${server.kePort} minpoll 0 maxpoll 1`,
        `ntstrustedcerts ${server.cert}`,
        "ntsaeads 30 15",
      ],
    });
    try {
      const a = await selectedAuth(refClient.socket);
      assert.deepEqual([a[1], a[3], a[4], a[9]], ["NTS", "15", "256", "100"], a.join(","));
    } finally {
      await refClient.stop();
      await server.daemon.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
