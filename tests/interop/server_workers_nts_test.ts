/**
 * `serverworkers 2` (horae only) with an NTS server: the worker thread
 * authenticates NTS requests with copies of the main thread's cookie keys,
 * which it gets again after every `ntsrotate` rotation (as the NTS-KE
 * helpers do). Checked from outside: a real chronyd 4.3 NTS client and a
 * horae NTS client synchronise through the worker's shard; NTS requests from
 * many source addresses reach both shards and are all authenticated
 * (`serverstats`); after two rotations, cookies issued before and after are
 * both accepted from every source address (so by every shard).
 */
import assert from "node:assert/strict";
import { freePort, haveChrony, makeCert, runCommand, startChronyd, startHorae } from "./harness.ts";
import { ntsKeExchange, type NtsKeResult } from "../../lib/io/nts_ke_client.ts";
import { buildNtsRequest, verifyNtsReply } from "../../lib/nts/ntp_auth.ts";
import { aeadById } from "../../lib/nts/siv.ts";

const skip = !haveChrony();
if (skip && Deno.env.get("CI")) throw new Error("CI: the real chrony is needed");

const rand = (n: number) => crypto.getRandomValues(new Uint8Array(n));

async function chronyc(socket: string, ...args: string[]): Promise<string> {
  const r = await runCommand("/usr/bin/chronyc", ["-n", "-h", socket, ...args], {
    timeoutMs: 10_000,
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return r.stdout;
}

function field(out: string, name: string): number {
  const m = out.match(new RegExp(`${name}\\s*: (\\d+)`));
  assert.ok(m, `${name} in ${out}`);
  return Number(m[1]);
}

/** The "Server shard N: R NTP requests, D dropped" lines logged at stop. */
function shards(log: string): number[] {
  const out: number[] = [];
  for (const m of log.matchAll(/Server shard (\d+): (\d+) NTP requests, (\d+) dropped/g)) {
    out[Number(m[1])] = Number(m[2]);
  }
  return out;
}

/** One NTS request with `cookie` from `source`; "ok", "nak", or null without a reply. */
async function ntsAsk(
  source: string,
  port: number,
  ke: NtsKeResult,
  cookie: Uint8Array,
): Promise<"ok" | "nak" | null> {
  const aead = aeadById(ke.aead)!;
  const header = new Uint8Array(48);
  header[0] = (4 << 3) | 3;
  header.set(rand(8), 40);
  const uniqueId = rand(32);
  const req = buildNtsRequest(header, {
    uniqueId,
    cookie,
    placeholders: 0,
    aead,
    c2s: ke.c2sKey,
    nonce: rand(16),
  });
  const sock = Deno.listenDatagram({ transport: "udp", hostname: source, port: 0 });
  try {
    await sock.send(req, { transport: "udp", hostname: "127.0.0.1", port });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<null>((r) => timer = setTimeout(() => r(null), 2000));
    const got = await Promise.race([sock.receive(), late]);
    clearTimeout(timer);
    if (got === null) return null;
    return verifyNtsReply(got[0], { uniqueId, aead, s2c: ke.s2cKey }).kind;
  } finally {
    sock.close();
  }
}

/** Key ids in ntskeys (oldest first; the third is the current one). */
async function keyIds(file: string): Promise<number[]> {
  try {
    const lines = (await Deno.readTextFile(file)).trim().split("\n").slice(2);
    return lines.map((l) => parseInt(l.split(" ")[0]!, 16));
  } catch {
    return []; // being replaced (written atomically): read again
  }
}

const cookieId = (c: Uint8Array) => new DataView(c.buffer, c.byteOffset).getUint32(0);

// 127.0.0.x: odd x steered to shard 0 (the main thread), even x to shard 1 (the worker)
const SOURCES = Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 1}`);

Deno.test({
  name:
    "interop: serverworkers 2 with an NTS server: chronyd and horae clients, all shards, rotation",
  ignore: skip,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "horae-workers-nts-" });
    const { cert, key } = await makeCert(dir);
    const port = freePort(), ntsPort = freePort();
    const ROTATE = 5;
    const d = await startHorae([
      `port ${port}`,
      `ntsport ${ntsPort}`,
      `ntsserverkey ${key}`,
      `ntsservercert ${cert}`,
      `ntsdumpdir ${dir}`,
      `ntsrotate ${ROTATE}`,
      "local stratum 3",
      "allow 127.0.0.0/8",
      "serverworkers 2",
    ], { flags: ["-4"] });
    let log = "";
    let chrony: Awaited<ReturnType<typeof startChronyd>> | null = null;
    let client: Awaited<ReturnType<typeof startHorae>> | null = null;
    try {
      // both clients' requests come from even addresses: the worker's shard
      chrony = await startChronyd({
        lines: [
          `server localhost port ${port} iburst nts ntsport ${ntsPort} minpoll -2 maxpoll -2`,
          `ntstrustedcerts ${cert}`,
          "bindacqaddress 127.0.0.2",
        ],
        flags: ["-4"],
      });
      client = await startHorae([
        `server localhost port ${port} iburst nts ntsport ${ntsPort} minpoll -2 maxpoll -2`,
        `ntstrustedcerts ${cert}`,
        "bindacqaddress 127.0.0.4",
      ], { flags: ["-4"] });
      let a = "", b = "";
      for (let i = 0; i < 80; i++) {
        a = await chronyc(chrony.socket, "-c", "sources");
        b = await chronyc(client.socket, "-c", "sources");
        if (/^\^,\*/m.test(a) && /^\^,\*/m.test(b)) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      assert.match(a, /^\^,\*/m, `chronyd 4.3: ${a}`);
      assert.match(b, /^\^,\*/m, `horae: ${b}`);
      for (const socket of [chrony.socket, client.socket]) {
        const auth = await chronyc(socket, "-c", "authdata"); // Name,Mode,KeyID,Type,KLen,...
        assert.equal(auth.trim().split(",")[1], "NTS", auth);
        const nd = await chronyc(socket, "ntpdata");
        assert.match(nd, /Authenticated\s*: Yes/, nd);
        assert.match(nd, /Stratum\s*: 3/, nd);
      }
      await chrony.stop();
      chrony = null;
      await client.stop();
      client = null;

      // NTS from 16 addresses (both shards): every request authenticated, serverstats adds up
      const ke = await ntsKeExchange({
        host: "localhost",
        address: "127.0.0.1",
        port: ntsPort,
        caFiles: [cert],
      });
      const s0 = await chronyc(d.socket, "serverstats");
      let ok = 0;
      for (const [i, s] of SOURCES.entries()) {
        if (await ntsAsk(s, port, ke, ke.cookies[i % ke.cookies.length]!) === "ok") ok++;
      }
      assert.equal(ok, SOURCES.length);
      const s1 = await chronyc(d.socket, "serverstats");
      const delta = (name: string) => field(s1, name) - field(s0, name);
      assert.equal(delta("NTP packets received"), SOURCES.length, s0 + s1);
      assert.equal(delta("Authenticated NTP packets"), SOURCES.length, s0 + s1);

      // rotation: cookies of a key made before, and of one made after two rotations (a key
      // the worker can only have got by message), accepted from every address
      const before = await ntsKeExchange({
        host: "localhost",
        address: "127.0.0.1",
        port: ntsPort,
        caFiles: [cert],
      });
      const idBefore = cookieId(before.cookies[0]!);
      const file = `${dir}/ntskeys`;
      const initial = await keyIds(file);
      let ids: number[] = [];
      const deadline = Date.now() + (4 * ROTATE + 10) * 1000;
      while (Date.now() < deadline) {
        ids = await keyIds(file);
        // two rotations since: the key of `before` is the oldest kept
        if (ids.length === 4 && ids[0] === idBefore) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(ids[0], idBefore, `key ids ${ids.map((x) => x.toString(16))}`);
      const after = await ntsKeExchange({
        host: "localhost",
        address: "127.0.0.1",
        port: ntsPort,
        caFiles: [cert],
      });
      const idAfter = cookieId(after.cookies[0]!);
      assert.ok(
        !initial.includes(idAfter),
        "the new current key was made after the workers started",
      );
      const answers = await Promise.all(SOURCES.flatMap((s) => [
        ntsAsk(s, port, before, before.cookies[0]!),
        ntsAsk(s, port, after, after.cookies[0]!),
      ]));
      const still = (await keyIds(file)).includes(idBefore);
      assert.ok(still, "a third rotation came before the requests: the test was too slow");
      assert.deepEqual(answers, answers.map(() => "ok"), `answers ${answers}`);
    } finally {
      await chrony?.stop();
      await client?.stop();
      log = await d.stop();
      await Deno.remove(dir, { recursive: true });
    }
    const per = shards(log);
    assert.equal(per.length, 2, log);
    assert.ok(per[0]! >= 16 && per[1]! >= 16, `both shards: ${per}`);
    assert.doesNotMatch(log, /not supported yet|Server worker|Uncaught|panic/i, log);
    assert.equal((await d.child.status).code, 0, log);
  },
});

/** An ntskeys file (chronyd's format) of four random keys. */
function keyFile(): string {
  const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  // ids in successive slots (low two bits), or chronyd (and horae) refuse the file
  const id = (i: number) => ((new DataView(rand(4).buffer).getUint32(0) & ~3) | i) >>> 0;
  const lines = Array.from(
    { length: 4 },
    (_, i) => `${id(i).toString(16).padStart(8, "0")} ${hex(rand(32))}`.toUpperCase(),
  );
  return `NKS0\n15 0.0\n${lines.join("\n")}\n`;
}

Deno.test({
  name: "interop: serverworkers 2 with an NTS server and ntsrotate 0: rekey reaches every shard",
  ignore: skip,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "horae-workers-rekey-" });
    const { cert, key } = await makeCert(dir);
    await Deno.writeTextFile(`${dir}/ntskeys`, keyFile());
    const port = freePort(), ntsPort = freePort();
    const d = await startHorae([
      `port ${port}`,
      `ntsport ${ntsPort}`,
      `ntsserverkey ${key}`,
      `ntsservercert ${cert}`,
      `ntsdumpdir ${dir}`,
      "ntsrotate 0",
      "local stratum 3",
      "allow 127.0.0.0/8",
      "serverworkers 2",
    ], { flags: ["-4"] });
    const ke = () =>
      ntsKeExchange({ host: "localhost", address: "127.0.0.1", port: ntsPort, caFiles: [cert] });
    const all = (k: NtsKeResult) =>
      Promise.all(SOURCES.map((s) => ntsAsk(s, port, k, k.cookies[0]!)));
    let log = "";
    try {
      const old = await ke();
      assert.deepEqual(await all(old), SOURCES.map(() => "ok"));
      // keys managed externally: a new file, then rekey
      await Deno.writeTextFile(`${dir}/ntskeys`, keyFile());
      await chronyc(d.socket, "rekey");
      const fresh = await ke();
      assert.notEqual(cookieId(fresh.cookies[0]!), cookieId(old.cookies[0]!));
      assert.deepEqual(await all(fresh), SOURCES.map(() => "ok"), "new keys on every shard");
      assert.deepEqual(await all(old), SOURCES.map(() => "nak"), "old keys gone on every shard");
    } finally {
      log = await d.stop();
      await Deno.remove(dir, { recursive: true });
    }
    const per = shards(log);
    assert.ok(per[0]! >= 24 && per[1]! >= 24, `both shards: ${per}`);
    assert.match(log, /Loaded 4 NTS server keys[\s\S]*Loaded 4 NTS server keys/, log);
  },
});
