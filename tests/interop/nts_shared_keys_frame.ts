/**
 * The frame of the shared-ntskeys interop tests (nts_shared_keys_test.ts
 * with chronyd 4.3, nts_shared_keys48_test.ts with 4.8): wait for a key
 * file, ask a chronyc, run a real chronyd NTS client against one server's
 * NTS-KE and another's NTP port, read serverstats.
 *
 * @module
 */
import assert from "node:assert/strict";
import { chronycOutput, freePort, makeCert, startChronyd, startHorae } from "./harness.ts";

/** Waits (up to 5 s) for `path` to hold a key file starting with `magic`; returns its text. */
export async function waitKeyFile(path: string, magic = "NKS0"): Promise<string> {
  for (let i = 0; i < 100; i++) {
    try {
      const text = await Deno.readTextFile(path);
      if (text.startsWith(`${magic}\n`)) return text;
    } catch {
      // not written yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${magic} key file ${path}`);
}

/** `chronyc -h SOCKET -n ARGS...` (4.3's unless `binary`): the harness's {@linkcode chronycOutput}. */
export const chronyc = chronycOutput;

/**
 * Starts a chronyd (4.3) client of `localhost:kePort` and waits until it has
 * had three authenticated replies in a row from the NTP server it was sent
 * to, or an NTS NAK; returns its authdata row
 * (Name,Mode,KeyID,Type,KLen,Last,Atmp,NAK,Cook,CLen) and the source's reach.
 */
export async function ntsClientOf(
  kePort: number,
  ntpPort: number,
  cert: string,
): Promise<{ auth: string[]; reach: number; sources: string }> {
  const client = await startChronyd({
    lines: [
      `server localhost port ${ntpPort} iburst nts ntsport ${kePort} minpoll 0 maxpoll 0`,
      `ntstrustedcerts ${cert}`,
      "nosystemcert",
    ],
    flags: ["-4"],
  });
  try {
    let auth: string[] = [], reach = 0, sources = "";
    const deadline = Date.now() + 25_000;
    while (Date.now() < deadline) {
      auth = (await chronyc(client.socket, ["-N", "-c", "authdata"])).trim().split(",");
      sources = await chronyc(client.socket, ["-c", "sources"]);
      reach = parseInt(sources.trim().split(",")[5] ?? "0", 8);
      // Three replies in a row accepted (reach 7 or more), all with the first cookies.
      if ((reach & 7) === 7 || Number(auth[7]) > 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    return { auth, reach, sources };
  } finally {
    await client.stop();
  }
}

/** The number after `label` in a serverstats report, -1 when absent. */
export function serverstat(text: string, label: RegExp): number {
  const m = text.match(new RegExp(`${label.source}\\s*:\\s*(\\d+)`));
  return m ? Number(m[1]) : -1;
}

/** What {@linkcode horaeKeysServedByChronyd} saw, for a test's own further checks. */
export interface ServedByChronyd {
  auth: string[];
  /** Everything above and both servers' serverstats, for assertion messages. */
  what: string;
  /** The chronyd's own log file. */
  chronydLog: string;
}

/**
 * horae does NTS-KE on 127.0.0.1 and writes ntskeys (`magic`); a chronyd
 * (`binary`, asked with `chronycBinary`) on 127.0.0.2's NTP port loads a copy
 * of it (`lines` after its `ntsdumpdir`); a chronyd 4.3 client gets its
 * cookies from horae and is served, authenticated, by the chronyd: no NTS
 * NAK, three replies in a row, no NTS-KE with the chronyd, no NTP with horae.
 */
export async function horaeKeysServedByChronyd(opts: {
  binary?: string;
  chronycBinary?: string;
  lines?: string[];
  magic?: string;
}): Promise<ServedByChronyd> {
  const ntpPort = freePort();
  const kePort = freePort();
  const dir = await Deno.makeTempDir({ prefix: "horae-shared-" });
  await Deno.chmod(dir, 0o700);
  const { cert, key } = await makeCert(dir);
  const horae = await startHorae([
    `port ${ntpPort}`,
    "bindaddress 127.0.0.1",
    "allow 127.0.0.0/8",
    "local stratum 1",
    `ntsservercert ${cert}`,
    `ntsserverkey ${key}`,
    `ntsport ${kePort}`,
    "ntsntpserver 127.0.0.2",
    "ntsdumpdir DIR",
  ], { flags: ["-4"] });
  let chronyd: Awaited<ReturnType<typeof startChronyd>> | null = null;
  try {
    const keys = await waitKeyFile(`${horae.dir}/ntskeys`, opts.magic ?? "NKS0");
    const keyDir = `${dir}/keys`;
    await Deno.mkdir(keyDir, { mode: 0o700 });
    await Deno.writeTextFile(`${keyDir}/ntskeys`, keys, { mode: 0o600 });
    chronyd = await startChronyd({
      ...(opts.binary !== undefined ? { binary: opts.binary } : {}),
      port: ntpPort,
      address: "127.0.0.2",
      ntsKePort: freePort(),
      // after the harness's own lines: these count
      lines: [`ntsdumpdir ${keyDir}`, ...(opts.lines ?? [])],
    });
    const { auth, reach, sources } = await ntsClientOf(kePort, ntpPort, cert);
    const stats = await chronyc(horae.socket, ["serverstats"]);
    const theirs = await chronyc(chronyd.socket, ["serverstats"], opts.chronycBinary);
    const chronydLog = await Deno.readTextFile(`${chronyd.dir}/log`);
    const what = `authdata ${auth}\nsources ${sources}\nhorae:\n${stats}\nchronyd:\n${theirs}` +
      `\n${chronydLog}`;
    assert.equal(auth[1], "NTS", what);
    assert.equal(auth[7], "0", `no NTS NAK: ${what}`);
    assert.equal(reach & 7, 7, what);
    assert.ok(serverstat(stats, /NTS-KE connections accepted/) >= 1, what);
    assert.equal(serverstat(stats, /NTP packets received/), 0, what);
    assert.equal(serverstat(theirs, /NTS-KE connections accepted/), 0, what);
    assert.ok(serverstat(theirs, /Authenticated NTP packets/) >= 3, what);
    return { auth, what, chronydLog };
  } finally {
    await chronyd?.stop();
    await horae.stop();
    await Deno.remove(dir, { recursive: true });
  }
}
