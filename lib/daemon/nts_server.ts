/**
 * The NTS server for the daemon: the cookie key ring (loaded from
 * `ntsdumpdir`/ntskeys, chronyd's format, so chronyd and horae servers can
 * share it; else fresh; rotated every `ntsrotate` seconds and saved
 * atomically after each rotation and at exit, never with `ntsrotate 0`, as
 * chronyd), the NTS-KE server
 * (`ntsserverkey`/`ntsservercert` pairs, `ntsport`, `maxntsconnections`,
 * `ntsntpserver`, the NTP `port` announced when not 123, also 0 with `port 0`,
 * connections only from addresses `allow` admits, as chronyd 4.3 and 4.8) and the
 * {@link NtsServerAuth} the NTP server uses for NTS requests. With
 * `ntsprocesses N` (default 1, as chronyd) the main thread accepts and admits
 * NTS-KE connections and N helper Workers do the TLS and cookies
 * (`nts_ke_helpers.ts`), sharing the keys, which the main thread sends them
 * after every rotation or reload (and calls the `onKeysChanged` listeners
 * then: horae's `serverworkers` threads take copies too); with 0 (or when a
 * Worker cannot start) the main thread serves NTS-KE itself.
 *
 * Wiring (the daemon):
 * ```ts
 * import { startNtsServer } from "./nts_server.ts";
 * import type { Config } from "../conf/config.ts";
 * import type { Logger } from "./log.ts";
 * import type { NtpServer } from "../ntp/server.ts";
 * import type { ClientLog } from "../ntp/clientlog.ts";
 * async function serveNts(config: Config, log: Logger, ntp: NtpServer, clientLog: ClientLog) {
 *   const nts = await startNtsServer(config, log, { clientLog });
 *   if (nts) ntp.setAuth(nts.auth); // NTS on the NTP port
 *   // serverstats: clientLog counts NTS-KE accepted/dropped and authenticated packets
 *   // at exit: await nts?.close();  // saves ntskeys
 * }
 * ```
 * @module
 */
import { parseIpv4 } from "../net/address.ts";
import type { Config } from "../conf/config.ts";
import { enabledAeads } from "../nts/siv.ts";
import type { ClientLog } from "../ntp/clientlog.ts";
import { RATE_DROP } from "../ntp/clientlog.ts";
import {
  formatServerKeys,
  parseServerKeys,
  SERVER_KEY_RANDOM_LENGTH,
  SERVER_KEYS_KEPT,
  ServerKeyRing,
} from "../nts/cookie.ts";
import { NtsServerAuth } from "../nts/server_auth.ts";
import { NtsKeServer } from "../io/nts_ke_server.ts";
import type { NtsKeHelpers } from "./nts_ke_helpers.ts";
import { realNow, realNowTo } from "../io/realtime.ts";
import { isOsError } from "../io/os_error.ts";
import type { Timestamp } from "../time/timestamp.ts";
import type { Logger } from "./log.ts";
import { writeFileAtomic } from "./files.ts";

/** Longest sleep of the NTS key rotation timer, ms (an hour). */
const ROTATION_CHECK_MAX_MS = 3_600_000;

/** Options of {@link startNtsServer}. */
export interface NtsServerStartOptions {
  /**
   * Address the NTS-KE server listens on (default: one socket per family, on
   * `bindaddress` or the wildcard, as chronyd).
   */
  hostname?: string;
  /** Families to listen on without `hostname` (chronyd's -4/-6; default both). */
  families?: readonly ("ipv4" | "ipv6")[];
  /** Overrides `ntsport` (0: any free port, for tests). */
  port?: number;
  /** Client log: NTS-KE connections counted (and dropped by `ntsratelimit`) there. */
  clientLog?: ClientLog;
  /**
   * The NTP access rules (`allow`/`deny`, also as changed by chronyc): chronyd
   * closes an NTS-KE connection from an address they deny at once, counting
   * it nowhere (default: every address admitted).
   */
  access?: { isAllowed(address: string): boolean };
  /** Real time (default CLOCK_REALTIME). */
  now?: () => Timestamp;
  /** Random bytes (default the system CSPRNG). */
  randomBytes?: (n: number) => Uint8Array;
  /** Overrides `ntsprocesses` (NTS-KE helpers; 0: served by the main thread). */
  processes?: number;
}

/** A running NTS server. */
export interface NtsServerHandle {
  /** Cookie keys shared by NTS-KE and NTP. */
  ring: ServerKeyRing;
  /** Give to `NtpServer.setAuth()` (or its `auth` option). */
  auth: NtsServerAuth;
  /** The NTS-KE server (its `port`, `stats`). */
  keServer: NtsKeServer;
  /** The NTS-KE helpers (`ntsprocesses`), null when the main thread serves NTS-KE. */
  helpers: NtsKeHelpers | null;
  /**
   * Calls `listener` after each rotation or reload of the keys, when the
   * helpers get theirs (horae's `serverworkers` threads copy them then).
   */
  onKeysChanged(listener: () => void): void;
  /**
   * `chronyc rekey`: with `ntsrotate 0` (keys managed externally) re-reads
   * ntskeys, as chronyd does; keeps the keys in use when it cannot.
   */
  reloadKeys(): void;
  /** `chronyc dump`: saves the keys to ntskeys now (never with `ntsrotate 0`), as chronyd. */
  saveKeys(): void;
  /** Stops NTS-KE and rotation, saves the keys. */
  close(): Promise<void>;
}

/** The key file in `ntsdumpdir`. */
export function serverKeysPath(dir: string): string {
  return `${dir}/ntskeys`;
}

function addressBytes(host: string): { bytes: Uint8Array; family: 4 | 6 } | null {
  const bytes = parseIpv4(host);
  return bytes === null ? null : { bytes, family: 4 }; // IPv6 clients are not counted here
}

function readable(path: string): boolean {
  try {
    Deno.readFileSync(path);
    return true;
  } catch (e) {
    if (!isOsError(e)) throw e;
    return false; // missing or not ours to read: the caller says which file
  }
}

/**
 * Starts NTS on the server side when `ntsservercert`/`ntsserverkey` are
 * configured; returns null otherwise. Unusable certificates/keys are logged
 * (chronyd's "Could not set credentials") and the NTS-KE port is opened
 * anyway, its connections closed at once, as chronyd 4.3. Throws
 * NtsUnavailableError without OpenSSL, Deno errors when the port cannot be
 * bound.
 */
export async function startNtsServer(
  config: Config,
  log: Logger,
  options: NtsServerStartOptions = {},
): Promise<NtsServerHandle | null> {
  const n = Math.min(config.ntsServerCerts.length, config.ntsServerKeys.length);
  if (n === 0) return null;
  const now = options.now ?? realNow;
  const random = options.randomBytes ?? ((k: number) => crypto.getRandomValues(new Uint8Array(k)));
  const dir = config.ntsDumpDir;
  const rotate = config.ntsRotate;

  const freshRandom = () => random(SERVER_KEYS_KEPT * SERVER_KEY_RANDOM_LENGTH);
  let ring: ServerKeyRing | null = null;
  let converted = false;
  if (dir !== undefined) {
    try {
      const loaded = parseServerKeys(await Deno.readTextFile(serverKeysPath(dir)), freshRandom());
      ring = ServerKeyRing.fromKeys(loaded.keys, now(), rotate, loaded.age);
      converted = loaded.converted;
      log.info(
        converted
          ? `Converted NTS server keys from horae's former format (old cookies are refused)`
          : `Loaded ${loaded.keys.length} NTS server keys`,
      );
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        const why = (e as Error).message;
        log.warn(
          `Could not load NTS server keys from ${serverKeysPath(dir)} : ${why} (fresh keys)`,
        );
      }
    }
  }
  const fresh = ring === null;
  ring ??= ServerKeyRing.fresh(freshRandom(), now(), rotate);
  const keyRing = ring;
  // With ntsrotate 0 the keys are managed externally: chronyd never writes the file then.
  const save = () => {
    if (dir === undefined || rotate === 0) return;
    try {
      writeFileAtomic(
        serverKeysPath(dir),
        formatServerKeys(keyRing.all, keyRing.ageAt(now())),
        0o600,
      );
    } catch (e) {
      log.warn(`Could not save NTS server keys : ${(e as Error).message}`);
    }
  };
  if (fresh || converted) save();

  const pairs = config.ntsServerCerts.slice(0, n).map((certFile, i) => ({
    certFile,
    keyFile: config.ntsServerKeys[i]!,
  }));
  const clientLog = options.clientLog;
  const access = options.access;
  const aeads = enabledAeads(config.ntsAeads);
  let helpers: NtsKeHelpers | null = null;
  let processes = options.processes ?? config.ntsProcesses;
  // A Worker is a V8 isolate (megabytes each): more than a few per core only costs memory.
  const most = Math.max(1, 4 * (navigator.hardwareConcurrency || 1));
  if (processes > most) {
    log.info(`ntsprocesses ${processes}: starting ${most} NTS-KE helpers (4 per CPU)`);
    processes = most;
  }
  if (processes > 0) {
    try {
      const { NtsKeHelpers } = await import("./nts_ke_helpers.ts");
      helpers = await NtsKeHelpers.start(processes, {
        pairs,
        aeads,
        keyRing,
        maxConnections: config.maxNtsConnections,
        ...(config.ntsNtpServer !== undefined ? { ntpServer: config.ntsNtpServer } : {}),
        ntpPort: config.port,
        onHelperError(message) {
          log.warn(`NTS-KE helper failed : ${message}`);
        },
        onResult(result, error) {
          if (result !== null) keServer.stats[result]++;
          if (error) log.debug(`NTS-KE session failed : ${error}`);
        },
      });
    } catch (e) {
      // unusable credentials are reported by the main thread's server below
      log.debug(
        `NTS-KE helpers not started, NTS-KE served by the main thread : ${(e as Error).message}`,
      );
    }
  }
  let keServer: NtsKeServer;
  try {
    keServer = NtsKeServer.start({
      hostnames: options.hostname !== undefined
        ? [options.hostname]
        : (options.families ?? ["ipv4", "ipv6"]).map((f) =>
          f === "ipv4" ? config.bindAddress.ipv4 ?? "0.0.0.0" : config.bindAddress.ipv6 ?? "::"
        ),
      port: options.port ?? config.ntsPort,
      ...(config.bindDevice !== undefined ? { device: config.bindDevice } : {}),
      pairs,
      keyRing,
      aeads,
      maxConnections: config.maxNtsConnections,
      ...(helpers !== null ? { handoff: helpers } : {}),
      ...(config.ntsNtpServer !== undefined ? { ntpServer: config.ntsNtpServer } : {}),
      // chronyd 4.3 and 4.8 announce their NTP port when it is not 123: 0 too, with `port 0`
      ntpPort: config.port,
      random,
      ...(clientLog || access
        ? {
          admit(remote: Deno.NetAddr) {
            // denied by `allow`/`deny`: closed at once, neither accepted nor dropped (chronyd)
            if (access && !access.isAllowed(remote.hostname.replace(/%.*$/, ""))) return false;
            const a = clientLog ? addressBytes(remote.hostname) : null;
            if (!clientLog || !a) return true;
            return clientLog.ntsKeAccess(a.bytes, 0, a.family, Number(now()) / 1e9).decision !==
              RATE_DROP;
          },
        }
        : {}),
      onError(e) {
        log.debug(`NTS-KE session failed : ${(e as Error).message}`);
      },
      // chronyd 4.3 logs GnuTLS's words and still listens: a file it cannot read gives "Error
      // while reading file.", one that holds no certificate or key "The requested data were not
      // available." (both observed); every NTS-KE client's handshake then fails
      onCredentialsError() {
        const unreadable = pairs.some((p) => !readable(p.certFile) || !readable(p.keyFile));
        log.error(
          `Could not set credentials : ${
            unreadable ? "Error while reading file." : "The requested data were not available."
          }`,
        );
      },
    });
  } catch (e) {
    await helpers?.close();
    throw e;
  }

  const keyListeners: (() => void)[] = [];
  const keysChanged = () => {
    helpers?.updateKeys();
    for (const f of keyListeners) f();
  };
  // Rotation: one timer for the next rotation, at most an hour ahead (so a step of the real-time
  // clock is noticed within the hour), not a check every minute (issue 12: an idle daemon sleeps).
  let timer: ReturnType<typeof setTimeout> | null = null;
  let closed = false;
  const armRotation = () => {
    const due = keyRing.nextRotation();
    if (due === null || closed) return;
    const ms = Math.min(ROTATION_CHECK_MAX_MS, Math.max(1000, Number(due - now()) / 1e6));
    timer = setTimeout(() => {
      const t = now();
      if (keyRing.dueForRotation(t)) {
        keyRing.rotate(random(SERVER_KEY_RANDOM_LENGTH), t);
        log.debug("Rotated NTS server key");
        keysChanged();
        save();
      }
      armRotation();
    }, Math.ceil(ms));
    Deno.unrefTimer(timer);
  };
  if (rotate > 0) armRotation();

  const auth = new NtsServerAuth({
    ring: keyRing,
    randomBytes: random,
    now,
    // the real clock and the system's random bytes without a BigInt or a buffer per request
    ...(options.now === undefined ? { nowTo: realNowTo } : {}),
    ...(options.randomBytes === undefined ? { randomFill: fillRandom } : {}),
  });
  return {
    ring: keyRing,
    auth,
    keServer,
    helpers,
    onKeysChanged(listener) {
      keyListeners.push(listener);
    },
    reloadKeys() {
      if (dir === undefined || rotate !== 0) return;
      try {
        const text = Deno.readTextFileSync(serverKeysPath(dir));
        const loaded = parseServerKeys(text, freshRandom());
        keyRing.replaceKeys(loaded.keys, now(), loaded.age);
        keysChanged();
        log.info(`Loaded ${loaded.keys.length} NTS server keys`);
      } catch (e) {
        const why = (e as Error).message;
        log.warn(`Could not load NTS server keys from ${serverKeysPath(dir)} : ${why} (keys kept)`);
      }
    },
    saveKeys: save,
    async close() {
      closed = true;
      if (timer !== null) clearTimeout(timer);
      await keServer.close();
      await helpers?.close();
      save();
    },
  };
}

/** Fills `buf` with the system's random bytes (the NTS responder's nonce pool). */
function fillRandom(buf: Uint8Array): void {
  crypto.getRandomValues(buf);
}
