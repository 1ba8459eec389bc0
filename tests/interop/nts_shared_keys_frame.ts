/**
 * The frame of the shared-ntskeys interop tests (nts_shared_keys_test.ts
 * with chronyd 4.3, nts_shared_keys48_test.ts with 4.8): wait for a key
 * file, ask a chronyc, run a real chronyd NTS client against one server's
 * NTS-KE and another's NTP port, read serverstats.
 *
 * @module
 */
import { runCommand, startChronyd } from "./harness.ts";

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

/** `chronyc -h SOCKET -n ARGS...` (4.3's unless `binary`); its standard output. */
export async function chronyc(
  socket: string,
  args: string[],
  binary = "/usr/bin/chronyc",
): Promise<string> {
  const r = await runCommand(binary, ["-h", socket, "-n", ...args], { timeoutMs: 5000 });
  return r.stdout;
}

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
