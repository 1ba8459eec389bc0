/**
 * Entry of one `serverworkers` thread (a Deno Worker started by
 * lib/daemon/server_workers.ts, which documents the design): opens its own
 * NTP socket per family in the SO_REUSEPORT group, serves with its own
 * {@link NtpServer} and {@link ClientLog} shard, follows the reference,
 * access rules and keys the main thread posts, reads the cooked-minus-real
 * offset from the shared model, and answers the main thread's `serverstats`
 * and `clients` queries from Atomics.waitAsync. Closes its sockets on "stop".
 *
 * @module
 */
import { ClientLog } from "../ntp/clientlog.ts";
import { AddressFilter } from "../ntp/addrfilt.ts";
import { NtpServer } from "../ntp/server.ts";
import { KeyServerAuth } from "../ntp/key_auth.ts";
import { NtpServerSocket } from "../io/ntp_server.ts";
import { realNow, realNowTo } from "../io/realtime.ts";
import { setThreadName } from "../../ffi/libc.ts";
import type { Config } from "../conf/config.ts";
import { Logger } from "./log.ts";
import type { ServerKeyRing } from "../nts/cookie.ts";
import {
  CookedModel,
  type FromWorker,
  Q_ANSWER,
  Q_CLIENTS,
  Q_CONTROL_BYTES,
  Q_NEXT,
  Q_REQUEST,
  Q_STATS,
  SmoothingModel,
  type ToWorker,
  type WorkerStart,
  type WorkerStats,
} from "./server_workers.ts";

const scope = self as unknown as {
  postMessage(m: FromWorker): void;
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  close(): void;
};

let setup: WorkerStart | null = null;
let server: NtpServer | null = null;
let clientLog: ClientLog | null = null;
let filter: AddressFilter | null = null;
const sockets: NtpServerSocket[] = [];
/** The NTS server's cookie keys (copies of the main thread's, replaced after each change). */
let ntsRing: ServerKeyRing | null = null;
/** Counters of sockets already closed (allow/deny closed a family's socket). */
const closedStats = { received: 0, replied: 0, unusable: 0, txTimestamps: 0, hwRx: 0, hwTx: 0 };
let stopping = false;

function fail(message: string): void {
  scope.postMessage({ type: "error", message });
}

function fds(): number[] {
  return sockets.map((s) => s.fd);
}

/** Opens or closes each family's socket as the access table admits some of its addresses. */
function syncSockets(cooked: CookedModel): void {
  const s = setup!;
  let changed = false;
  for (const family of s.families) {
    const want = filter!.isAnyAllowed(family === "ipv4" ? 4 : 6);
    const open = sockets.find((x) => x.localAddress().family === family);
    if (!want && open) {
      sockets.splice(sockets.indexOf(open), 1);
      for (const k of Object.keys(closedStats) as (keyof typeof closedStats)[]) {
        closedStats[k] += open.stats[k];
      }
      open.close();
      changed = true;
    }
    if (!want || open) continue;
    const address = family === "ipv4" ? s.bindAddress.ipv4 : s.bindAddress.ipv6;
    try {
      sockets.push(NtpServerSocket.open(server!, {
        family,
        ...(address ? { address } : {}),
        port: s.port,
        ...(s.device ? { device: s.device } : {}),
        cookedOffset: () => cooked.offsetAt(realNow()),
        tos: s.tos,
        reusePortGroup: s.group,
      }));
      changed = true;
    } catch (e) {
      fail(
        `Could not open NTP socket on ${address ?? family} port ${s.port} : ${
          (e as Error).message
        }`,
      );
    }
  }
  if (changed && !stopping) scope.postMessage({ type: "fds", fds: fds() });
}

async function loadKeyAuth(keyFile: string | undefined): Promise<void> {
  if (keyFile === undefined || server === null) return;
  // the main thread has logged what is wrong with the file already: nothing logged here
  const { loadKeys } = await import("./keys.ts");
  const quiet = new Logger({ sink: { lines: [] }, level: 3 });
  const keys = await loadKeys({ keyFile } as Config, quiet);
  server.setKeyAuth(keys.configured ? new KeyServerAuth(keys.lookup, realNow) : null);
}

async function start(s: WorkerStart): Promise<void> {
  setup = s;
  try {
    setThreadName(`horae-ntp-${s.index}`);
  } catch { /* the name is cosmetic */ }
  clientLog = new ClientLog({
    limitBytes: s.clientLogLimit,
    disabled: s.noClientLog,
    ...(s.rateLimit ? { ntpRateLimit: s.rateLimit } : {}),
    seed: crypto.getRandomValues(new Uint32Array(1))[0]!,
    random: Math.random,
  });
  filter = AddressFilter.fromRules(s.rules);
  server = new NtpServer({ reference: s.reference, clientLog, filter });
  await loadKeyAuth(s.keyFile);
  if (s.ntsKeys) {
    // NTS is loaded only when configured (as on the main thread); ntsrotate 0 here: the main
    // thread rotates and reloads, and sends the keys
    const { ServerKeyRing } = await import("../nts/cookie.ts");
    const { NtsServerAuth } = await import("../nts/server_auth.ts");
    ntsRing = ServerKeyRing.fromKeys(s.ntsKeys, realNow(), 0);
    server.setAuth(
      new NtsServerAuth({
        ring: ntsRing,
        randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
        randomFill: (buf) => void crypto.getRandomValues(buf),
        now: realNow,
        nowTo: realNowTo,
      }),
    );
  }
  if (s.smoothing) {
    // the served time carries the main thread's smoothing offset (its plan, shared)
    const { Smoothing } = await import("../clock/smoothing.ts");
    const copy = new Smoothing(s.smoothing.options);
    const model = new SmoothingModel(s.smoothing.sab);
    server.setSmoothing((now) => {
      model.update(copy);
      return copy.offsetAt(now);
    });
  }
  const cooked = new CookedModel(s.cooked);
  // extfield F323: the main thread's epoch and correction, so every shard serves one timescale
  if (s.monotonicEpoch !== undefined) {
    server.setMonotonic(() => cooked.correction(), s.monotonicEpoch);
  }
  syncSockets(cooked);
  filter.onChange = () => syncSockets(cooked);
  serveQueries(s.query).catch((e) => fail(`query channel: ${e}`));
  scope.postMessage({ type: "ready", fds: fds() });
}

function stats(): WorkerStats {
  const socket = { ...closedStats };
  for (const x of sockets) {
    for (const k of Object.keys(socket) as (keyof typeof socket)[]) socket[k] += x.stats[k];
  }
  return { log: clientLog!.serverStats(), socket };
}

/** Answers the main thread's synchronous queries (see server_workers.ts). */
async function serveQueries(sab: SharedArrayBuffer): Promise<void> {
  const ctl = new Int32Array(sab, 0, Q_CONTROL_BYTES / 4);
  const data = new Uint8Array(sab, Q_CONTROL_BYTES);
  let pending = new Uint8Array(0);
  let sent = 0;
  while (!stopping) {
    const state = Atomics.load(ctl, 0);
    if (state !== Q_REQUEST) {
      const w = Atomics.waitAsync(ctl, 0, state);
      if (w.async) await w.value;
      continue;
    }
    const cmd = ctl[1]!;
    if (cmd === Q_STATS || cmd === Q_CLIENTS) {
      let answer: unknown = null;
      if (cmd === Q_STATS) answer = stats();
      else {
        const args = JSON.parse(new TextDecoder().decode(data.slice(0, ctl[2]!)));
        answer = clientLog!.clients(args.now, {
          ...(args.minPackets !== undefined ? { minPackets: args.minPackets } : {}),
          ...(args.reset !== undefined ? { reset: args.reset } : {}),
        });
      }
      pending = new TextEncoder().encode(JSON.stringify(answer));
      sent = 0;
    } else if (cmd !== Q_NEXT) {
      pending = new TextEncoder().encode("null");
      sent = 0;
    }
    const n = Math.min(data.length, pending.length - sent);
    data.set(pending.subarray(sent, sent + n));
    sent += n;
    ctl[2] = n;
    ctl[3] = pending.length - sent;
    ctl[5] = ctl[4]!;
    Atomics.store(ctl, 0, Q_ANSWER);
    Atomics.notify(ctl, 0);
  }
}

scope.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  switch (m.type) {
    case "start":
      start(m).catch((err) => {
        fail(`start: ${(err as Error).message}`);
        scope.postMessage({ type: "ready", fds: fds() });
      });
      break;
    case "reference":
      server?.setReference(m.reference, realNow());
      break;
    case "rule":
      try {
        filter?.add(m.rule);
      } catch (err) {
        fail(`access rule: ${(err as Error).message}`);
      }
      break;
    case "rekey":
      loadKeyAuth(setup?.keyFile).catch((err) => fail(`rekey: ${(err as Error).message}`));
      break;
    case "keys":
      try {
        if (ntsRing) ntsRing.replaceKeys(m.keys, realNow());
        else if (setup?.ntsKeys) setup.ntsKeys = m.keys; // still starting: taken with the rest
      } catch (err) {
        fail(`NTS keys: ${(err as Error).message}`);
      }
      break;
    case "ping":
      scope.postMessage({ type: "pong", id: m.id });
      break;
    case "stop":
      stopping = true;
      Promise.all(sockets.splice(0).map((s) => s.close())).finally(() => {
        scope.postMessage({ type: "stopped" });
        scope.close();
      });
      break;
  }
};
