/**
 * The IO side of an NTS source (`server HOST nts [ntsport N] [certset N]`):
 * runs NTS-KE with HOST:ntsport when the sans-IO {@link NtsClientAuth} needs
 * keys (start, cookies used up, NTS NAK, `ntsrefresh`), with an exponential
 * back-off after failures; honours the server's NTP server/port negotiation
 * (resolving a new name); keeps the keys and cookies in `ntsdumpdir` across
 * restarts (written atomically at exit); and fills `chronyc authdata`.
 *
 * Wiring (daemon and one-shot modes):
 * ```ts
 * import { prepareNtsSource } from "./nts_client.ts";
 * import type { Config, SourceConfig } from "../conf/config.ts";
 * import type { Logger } from "./log.ts";
 * import type { Engine } from "../engine/engine.ts";
 * import type { ClientIo } from "./client_io.ts";
 * async function addNts(sc: SourceConfig, config: Config, log: Logger, engine: Engine, io: ClientIo) {
 *   const nts = await prepareNtsSource(sc, "127.0.0.1", config, log);
 *   const spec = { name: sc.name, address: "127.0.0.1", options: {}, auth: nts };
 *   const { id } = engine.addSource(spec);
 *   nts.onReady = () => io.run(engine.authReady(id)); // poll as soon as NTS-KE is done
 *   // chronyc authdata: nts.authData(now); at exit: await nts.close() (saves the dump)
 * }
 * ```
 * @module
 */
import { writeFileAtomic } from "./files.ts";
import type { Config, SourceConfig } from "../conf/config.ts";
import { enabledAeads } from "../nts/siv.ts";
import type { AuthDataReport } from "../cmdmon/reports.ts";
import type { AuthCheck } from "../ntp/source.ts";
import { NtsClientAuth } from "../nts/client_auth.ts";
import { formatClientState, parseClientState } from "../nts/cookie.ts";
import { ntsKeExchange, type NtsKeResult, NtsKeTransportError } from "../io/nts_ke_client.ts";
import { realNow } from "../io/realtime.ts";
import type { Timestamp } from "../time/timestamp.ts";
import type { EngineSourceAuth } from "../engine/engine.ts";
import type { Logger } from "./log.ts";
import type { Resolver } from "../engine/source_spec.ts";

/** First wait after a failed NTS-KE, seconds; doubles per failure (horae's choice). */
export const NTS_KE_RETRY_MIN = 4;
/** Longest wait between NTS-KE attempts, seconds (horae's choice). */
export const NTS_KE_RETRY_MAX = 3600;
/** `chronyc authdata` mode of an NTS source (chrony's RPY_AD_MODE_NTS). */
const AUTHDATA_MODE_NTS = 2;

/** Options of {@link prepareNtsSource} (tests and the daemon may override the edges). */
export interface NtsSourceIoOptions {
  /** Resolves a new NTP server name given by the NTS-KE server. */
  resolve?: Resolver;
  /** Real time (default CLOCK_REALTIME). */
  now?: () => Timestamp;
  /** Random bytes (default the system CSPRNG). */
  randomBytes?: (n: number) => Uint8Array;
  /** NTS-KE time limit, milliseconds (default 5000). */
  timeoutMs?: number;
  /** First wait after a failed NTS-KE, seconds (default {@link NTS_KE_RETRY_MIN}). */
  retryMin?: number;
}

/** The dump file of one NTS source in `ntsdumpdir` (horae's own name and format). */
export function ntsDumpPath(dir: string, sc: SourceConfig): string {
  return `${dir}/${sc.name.replace(/[/\\]/g, "_")}:${sc.ntsport}.nts`;
}

/** One NTS source's authentication with its NTS-KE IO; see the module doc. */
export class NtsSource implements EngineSourceAuth {
  readonly auth: NtsClientAuth;
  /** Called when an NTS-KE exchange succeeded (the daemon pokes the engine). */
  onReady: (() => void) | null = null;
  /** Called with the error of each failed NTS-KE exchange (one-shot modes give up). */
  onFailure: ((error: Error) => void) | null = null;
  readonly #sc: SourceConfig;
  readonly #address: string;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #options: NtsSourceIoOptions;
  #destination: { address: string; port: number } | null = null;
  #running: Promise<void> | null = null;
  #failures = 0;
  #notBefore: Timestamp = 0n;
  #kes = 0;
  #closed = false;

  constructor(
    sc: SourceConfig,
    address: string,
    config: Config,
    log: Logger,
    options: NtsSourceIoOptions = {},
  ) {
    this.#sc = sc;
    this.#address = address;
    this.#config = config;
    this.#log = log;
    this.#options = options;
    this.auth = new NtsClientAuth({
      randomBytes: options.randomBytes ?? ((n) => crypto.getRandomValues(new Uint8Array(n))),
      refresh: config.ntsRefresh,
    });
  }

  #now(): Timestamp {
    return this.#options.now?.() ?? realNow();
  }

  /** The source's name (the NTS-KE host). */
  get name(): string {
    return this.#sc.name;
  }

  /** A running NTS-KE exchange, if any (tests await it). */
  get exchange(): Promise<void> | null {
    return this.#running;
  }

  ready(now: Timestamp): boolean {
    if (this.auth.ready(now)) return true;
    this.startKe();
    return false;
  }

  signRequest(header: Uint8Array, now: Timestamp): Uint8Array | null {
    return this.auth.signRequest(header, now);
  }

  checkReply(packet: Uint8Array, now: Timestamp): AuthCheck {
    const r = this.auth.checkReply(packet, now);
    if (r === "nak") this.#log.info(`Received NTS NAK from ${this.#sc.name}`);
    return r;
  }

  destination(): { address: string; port: number } | null {
    return this.#destination;
  }

  /** Starts NTS-KE unless one runs or the back-off after a failure has not passed. */
  startKe(): void {
    if (this.#running || this.#closed || this.#now() < this.#notBefore) return;
    this.#running = this.#runKe().finally(() => (this.#running = null));
  }

  async #runKe(): Promise<void> {
    const sc = this.#sc, config = this.#config;
    this.auth.keStarted();
    const caFiles = config.ntsTrustedCerts.filter((c) => c.setId === sc.certset).map((c) => c.path);
    let result: NtsKeResult;
    try {
      result = await ntsKeExchange({
        host: sc.name,
        address: this.#address,
        port: sc.ntsport,
        caFiles,
        systemCerts: !config.noSystemCert && sc.certset === 0,
        noCertTimeCheck: config.noCertTimeCheck > 0,
        ntpPort: sc.port,
        aeads: enabledAeads(config.ntsAeads),
        ...(this.#options.timeoutMs !== undefined ? { timeoutMs: this.#options.timeoutMs } : {}),
      });
      await this.#setDestination(result);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      this.#failures++;
      const first = this.#options.retryMin ?? NTS_KE_RETRY_MIN;
      const wait = Math.min(NTS_KE_RETRY_MAX, first * 2 ** (this.#failures - 1));
      this.#notBefore = this.#now() + BigInt(Math.round(wait * 1e9));
      this.#log.warn(
        err instanceof NtsKeTransportError && err.kind === "connect"
          // chronyd's words
          ? `Could not connect to ${this.#address}:${sc.ntsport} (${sc.name}) : ${err.reason}`
          : err instanceof NtsKeTransportError && err.kind === "handshake"
          ? `TLS handshake with ${this.#address}:${sc.ntsport} (${sc.name}) failed : ${err.reason}`
          : `NTS-KE with ${sc.name} (${this.#address}:${sc.ntsport}) failed : ${err.message}`,
      );
      this.onFailure?.(err);
      return;
    }
    if (this.#closed) return;
    this.#failures = 0;
    this.#kes++;
    this.auth.installKe({
      aead: result.aead,
      c2s: result.c2sKey,
      s2c: result.s2cKey,
      server: result.server,
      port: result.port,
      keTime: this.#now(),
      cookies: result.cookies,
    });
    this.#log.debug(
      `NTS-KE with ${sc.name} done: ${result.cookies.length} cookies, NTP ${result.server}:${result.port}`,
    );
    this.onReady?.();
  }

  /** Honours the NTS-KE server's NTP server and port records (RFC 8915 §4.1.7-8). */
  async #setDestination(r: { server: string; port: number }): Promise<void> {
    let address = this.#address;
    if (r.server !== this.#sc.name && r.server !== this.#address) {
      const resolve = this.#options.resolve;
      const found = resolve ? await resolve(r.server) : [r.server];
      if (!found[0]) throw new Error(`cannot resolve NTP server ${r.server}`);
      address = found[0];
    }
    this.#destination = address === this.#address && r.port === this.#sc.port
      ? null
      : { address, port: r.port };
  }

  /** Reloads keys and cookies from `ntsdumpdir` (if configured and valid). Never throws. */
  async load(): Promise<boolean> {
    const dir = this.#config.ntsDumpDir;
    if (dir === undefined) return false;
    const path = ntsDumpPath(dir, this.#sc);
    try {
      const state = parseClientState(await Deno.readTextFile(path));
      await this.#setDestination(state);
      this.auth.installKe(state, { reloaded: true });
      this.#kes++;
      this.#log.debug(`Loaded ${state.cookies.length} NTS cookies for ${this.#sc.name}`);
      return true;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        this.#log.warn(`Could not load NTS data from ${path} : ${(e as Error).message}`);
      }
      return false;
    }
  }

  /** Saves keys and cookies to `ntsdumpdir` (atomic write), if configured and held. */
  save(): void {
    const dir = this.#config.ntsDumpDir;
    const state = this.auth.state;
    if (dir === undefined || state === null || state.cookies.length === 0) return;
    const path = ntsDumpPath(dir, this.#sc);
    try {
      writeFileAtomic(path, formatClientState(state), 0o600);
    } catch (e) {
      this.#log.warn(`Could not save NTS data to ${path} : ${(e as Error).message}`);
    }
  }

  /** The `chronyc authdata` row at `now` (real time). */
  authData(now: Timestamp = this.#now()): AuthDataReport {
    const d = this.auth.authData(now);
    return {
      mode: AUTHDATA_MODE_NTS,
      keyType: d.aead,
      keyId: this.#kes,
      keyLength: d.keyBits,
      keAttempts: d.keAttempts,
      lastKeAgo: d.lastKeAgo === null ? 0xffffffff : Math.floor(d.lastKeAgo),
      cookies: d.cookies,
      cookieLength: d.cookieLength,
      nak: d.naks,
    };
  }

  /** Stops NTS-KE, waits for one in progress, and saves the dump. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#running?.catch(() => {});
    this.save();
  }
}

/**
 * Makes the authentication of one NTS source at `address` (the resolved
 * HOST) and reloads its `ntsdumpdir` file. Put the result in
 * `EngineSourceSpec.auth`, set `onReady` to poke the engine
 * (`io.run(engine.authReady(id))`), and `await close()` at exit.
 */
export async function prepareNtsSource(
  sc: SourceConfig,
  address: string,
  config: Config,
  log: Logger,
  options: NtsSourceIoOptions = {},
): Promise<NtsSource> {
  const src = new NtsSource(sc, address, config, log, options);
  await src.load();
  return src;
}
