/**
 * Keeps the configured `server`/`pool`/`peer` lines alive in the engine, as
 * chronyd does with names:
 * - a name that does not resolve is tried again later, with the interval
 *   doubling from 2 s up to an hour;
 * - a pool keeps up to `maxsources` addresses; a member that becomes
 *   unreachable (or stops on a Kiss-o'-Death) is replaced by an address of a
 *   fresh resolution that is not already in use;
 * - a server given by name that becomes unreachable is resolved again and
 *   moved to a new address if the name now points elsewhere;
 * - one source per IP address, whatever the port or mode: a numeric address
 *   already in use is refused ("Could not add source"), a name whose
 *   addresses are all in use waits as an unresolved source, retried later.
 *
 * A pool starts as chronyd's does (observed with chronyc against chronyd
 * 4.3): min(2 × maxsources, 16) slots take as many addresses as the name
 * gives; once `maxsources` of them have answered, the others are removed and
 * the pool keeps `maxsources` from then on.
 *
 * {@link SourceManager.unresolved} counts what chronyd's `activity` calls
 * sources with unknown address: a server line without an address counts 1,
 * a pool its empty slots until it has `maxsources` sources.
 *
 * @example
 * ```ts
 * import { SourceManager } from "./source_manager.ts";
 * import type { SourceConfig } from "../conf/config.ts";
 * async function addSource(manager: SourceManager, sc: SourceConfig) {
 *   await manager.add(sc);
 * }
 * ```
 * @module
 */
import type { Config, SourceConfig } from "../conf/config.ts";
import type { Engine, EngineAction } from "../engine/engine.ts";
import { engineSpec, type Resolver } from "../engine/source_spec.ts";
import type { Logger } from "./log.ts";
import type { NtsSource } from "./nts_client.ts";
import type { KeyStore } from "./keys.ts";
import type { KeyClientAuth } from "../ntp/key_auth.ts";

/** Shortest and longest wait before resolving a failed name again, seconds. */
const RETRY_MIN = 2;
const RETRY_MAX = 3600;
/** Most slots of one pool line (chronyd's limit, observed with `activity`). */
const POOL_SLOTS_MAX = 16;
/** How often pools with spare sources are checked for `maxsources` answering ones, ms. */
const POOL_TRIM_INTERVAL_MS = 1000;

/** Whether a source line names a numeric address (IPv4 dotted quad or IPv6). */
function isNumeric(name: string): boolean {
  return /^[0-9.]+$|:/.test(name);
}

/** A pool line of a name (`pool 192.0.2.1` is one source to chronyd: no slots to fill). */
function isPool(sc: SourceConfig): boolean {
  return sc.kind === "pool" && !isNumeric(sc.name);
}

/**
 * Configuration lines in the order chronyd takes them: numeric addresses at
 * once, names after their resolution, so a name never takes an address that
 * a numeric line of the same configuration claims.
 */
export function numericFirst(lines: readonly SourceConfig[]): SourceConfig[] {
  return [...lines.filter((l) => isNumeric(l.name)), ...lines.filter((l) => !isNumeric(l.name))];
}

/** What the manager drives. */
export interface SourceManagerOptions {
  engine: Engine;
  config: Config;
  resolve: Resolver;
  family: "any" | "ipv4" | "ipv6";
  log: Logger;
  /** Carries out engine actions (ClientIo.run). */
  run: (actions: readonly EngineAction[]) => void;
  /** The key file's keys, for `key N` sources; absent: such sources are unauthenticated. */
  keys?: KeyStore;
}

interface Line {
  sc: SourceConfig;
  /** Engine ids of the addresses in use for this line. */
  ids: Set<number>;
  retry: number;
  timer: ReturnType<typeof setTimeout> | null;
  /** A pool that had `maxsources` answering sources (its spare ones removed). */
  trimmed: boolean;
}

/** Resolves, adds, retries and replaces sources. */
export class SourceManager {
  readonly #o: SourceManagerOptions;
  readonly #lines: Line[] = [];
  readonly #lineOf = new Map<number, Line>();
  readonly #nts = new Map<number, NtsSource>();
  readonly #keyAuth = new Map<number, KeyClientAuth>();
  #trimTimer: ReturnType<typeof setInterval> | null = null;
  #closed = false;

  constructor(options: SourceManagerOptions) {
    this.#o = options;
  }

  /** Adds one source line; resolves with the number of addresses added now. */
  async add(sc: SourceConfig): Promise<number> {
    const line: Line = { sc, ids: new Set(), retry: RETRY_MIN, timer: null, trimmed: false };
    this.#lines.push(line);
    if (sc.kind === "pool" && this.#trimTimer === null && !this.#closed) {
      this.#trimTimer = setInterval(() => this.trimPools(), POOL_TRIM_INTERVAL_MS);
      Deno.unrefTimer(this.#trimTimer);
    }
    return await this.#fill(line);
  }

  /**
   * A pool with spare sources whose first `maxsources` have answered keeps
   * those and drops the rest (chronyd's start of a pool); runs every second
   * until every pool is trimmed (then nothing wakes the daemon for it).
   */
  trimPools(): void {
    for (const line of this.#lines) {
      const m = line.sc.maxsources;
      if (!isPool(line.sc) || line.trimmed || line.ids.size < m) continue;
      const ids = [...line.ids].sort((a, b) => a - b);
      const answered = ids.filter((id) =>
        this.#o.engine.isLive(id) && this.#o.engine.sourceHandle(id)!.validReplies() > 0
      );
      if (answered.length < m) continue;
      const keep = new Set(answered.slice(0, m));
      line.trimmed = true;
      if (line.timer !== null) clearTimeout(line.timer);
      line.timer = null;
      for (const id of ids) if (!keep.has(id)) this.#drop(line, id);
    }
    if (!this.#lines.some((l) => l.sc.kind === "pool" && !l.trimmed)) {
      if (this.#trimTimer !== null) clearInterval(this.#trimTimer);
      this.#trimTimer = null;
    }
  }

  /**
   * Sources with unknown address (chronyc `activity`): server lines without
   * an address yet (a name that does not resolve, or resolves only to
   * addresses in use), and the free slots of pools short of `maxsources`.
   */
  unresolved(): number {
    let n = 0;
    for (const line of this.#lines) {
      let live = 0;
      for (const id of line.ids) if (this.#o.engine.isLive(id)) live++;
      if (!isPool(line.sc)) n += live === 0 ? 1 : 0;
      else if (!line.trimmed || live < line.sc.maxsources) {
        n += Math.max(0, poolSlots(line.sc.maxsources) - live);
      }
    }
    return n;
  }

  /** Removes a source (`delete`, `reload sources`); its line goes with its last source. */
  remove(id: number): void {
    const line = this.#lineOf.get(id);
    if (!line) {
      this.#o.run(this.#o.engine.removeSource(id));
      return;
    }
    this.#drop(line, id);
    if (line.ids.size > 0) return;
    if (line.timer !== null) clearTimeout(line.timer);
    line.timer = null;
    const i = this.#lines.indexOf(line);
    if (i >= 0) this.#lines.splice(i, 1);
  }

  /** Removes one source of a line from the engine and from the line. */
  #drop(line: Line, id: number): void {
    this.#o.run(this.#o.engine.removeSource(id));
    line.ids.delete(id);
    this.#lineOf.delete(id);
    this.#nts.get(id)?.close().catch(() => {});
    this.#nts.delete(id);
    this.#keyAuth.delete(id);
  }

  /** The configuration line a source id came from. */
  lineOf(id: number): SourceConfig | undefined {
    return this.#lineOf.get(id)?.sc;
  }

  /** A source was lost (unreachable, Kiss-o'-Death): replace it if its name allows. */
  async lost(id: number, reason: string): Promise<void> {
    const line = this.#lineOf.get(id);
    if (!line || this.#closed) return;
    const { sc } = line;
    const isName = !/^[0-9.]+$|:/.test(sc.name);
    if (!isPool(sc) && !isName) return;
    const inUse = this.#inUse();
    const current = this.#o.engine.sourceAddress(id) ?? undefined;
    const fresh = (await this.#resolveAll(sc)).filter((a) => !inUse.has(a) && a !== current);
    if (fresh.length === 0 && reason !== "kod-deny" && reason !== "kod-rstr") return;
    const old = this.#o.engine.sourceAddress(id);
    this.#o.run(this.#o.engine.removeSource(id));
    await this.#nts.get(id)?.close().catch(() => {});
    this.#nts.delete(id);
    this.#keyAuth.delete(id);
    line.ids.delete(id);
    this.#lineOf.delete(id);
    if (old !== null) this.#o.log.info(`Source ${old} replaced (${reason})`);
    await this.#fill(line);
  }

  /**
   * Resolves every name again (`chronyc refresh`, and every `refresh` seconds):
   * a source whose name no longer points at its address moves to a new one.
   */
  async refresh(): Promise<void> {
    for (const line of this.#lines) {
      if (/^[0-9.]+$|:/.test(line.sc.name)) continue; // a numeric address never changes
      const now = new Set(await this.#resolveAll(line.sc));
      if (now.size === 0) continue;
      for (const id of [...line.ids]) {
        const address = this.#o.engine.sourceAddress(id);
        if (this.#o.engine.isLive(id) && !now.has(address!)) await this.lost(id, "refresh");
      }
    }
  }

  /** The NTS state of a source (for `chronyc authdata`), if it uses NTS. */
  nts(id: number): NtsSource | undefined {
    return this.#nts.get(id);
  }

  /** The symmetric-key authentication of a source (`key N`), if it has one. */
  keyAuth(id: number): KeyClientAuth | undefined {
    return this.#keyAuth.get(id);
  }

  /** `chronyc dump`: saves every NTS source's keys and cookies to ntsdumpdir now. */
  saveNts(): void {
    for (const n of this.#nts.values()) n.save();
  }

  /** Stops retry timers; saves NTS cookies (ntsdumpdir). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#trimTimer !== null) clearInterval(this.#trimTimer);
    this.#trimTimer = null;
    for (const l of this.#lines) if (l.timer !== null) clearTimeout(l.timer);
    await Promise.all([...this.#nts.values()].map((n) => n.close().catch(() => {})));
  }

  #inUse(): Set<string> {
    return this.#o.engine.liveAddresses();
  }

  async #resolveAll(sc: SourceConfig): Promise<string[]> {
    const o = this.#o;
    const fam = o.family !== "any" ? o.family : sc.ipv4 ? "ipv4" : sc.ipv6 ? "ipv6" : undefined;
    try {
      return await o.resolve(sc.name, fam);
    } catch {
      // Any rejection: by the Resolver contract it means the name does not resolve (now);
      // tried again later, as by chronyd (systemResolver itself logs and returns []).
      return [];
    }
  }

  /** Adds addresses until the line has what it wants; schedules a retry if short. */
  async #fill(line: Line): Promise<number> {
    const pool = isPool(line.sc);
    const want = !pool ? 1 : line.trimmed ? line.sc.maxsources : poolSlots(line.sc.maxsources);
    if (line.ids.size >= want || this.#closed) return 0;
    // One source per address, as chronyd keeps them (the port does not matter).
    const resolved = await this.#resolveAll(line.sc);
    const addresses = resolved.filter((a) => !this.#inUse().has(a));
    if (isNumeric(line.sc.name) && resolved.length > 0 && addresses.length === 0) {
      // chronyd refuses a numeric address already in use, and forgets the line.
      this.#o.log.warn(`Could not add source ${line.sc.name}`);
      const i = this.#lines.indexOf(line);
      if (i >= 0 && line.ids.size === 0) this.#lines.splice(i, 1);
      return 0;
    }
    let added = 0;
    for (const a of addresses) {
      if (line.ids.size >= want || this.#closed) break;
      let spec = engineSpec(line.sc, this.#o.config, a);
      const key = line.sc.nts ? null : this.#o.keys?.sourceAuth(line.sc) ?? null;
      if (key) {
        spec = { ...spec, options: { ...spec.options, version: key.version }, auth: key.auth };
      }
      // NTS code (OpenSSL, TLS) is loaded with the first NTS source (issue 12: idle memory).
      const nts = line.sc.nts
        ? await (await import("./nts_client.ts")).prepareNtsSource(
          line.sc,
          a,
          this.#o.config,
          this.#o.log,
          { resolve: this.#o.resolve },
        )
        : null;
      if (this.#inUse().has(a)) {
        // taken while the NTS state was prepared (another line, `add server`)
        await nts?.close().catch(() => {});
        continue;
      }
      const { id, actions } = this.#o.engine.addSource(nts ? { ...spec, auth: nts } : spec);
      if (nts) {
        this.#nts.set(id, nts);
        nts.onReady = () => this.#o.run(this.#o.engine.authReady(id));
      }
      if (key) this.#keyAuth.set(id, key.auth);
      line.ids.add(id);
      this.#lineOf.set(id, line);
      this.#o.run(actions);
      added++;
    }
    if (line.ids.size < want && !this.#closed) {
      // Not (enough) addresses: try again later, as chronyd does for unresolved names.
      const wait = line.retry;
      line.retry = Math.min(RETRY_MAX, line.retry * 2);
      if (line.timer !== null) clearTimeout(line.timer);
      line.timer = setTimeout(() => {
        line.timer = null;
        this.#fill(line).catch(() => {});
      }, wait * 1000);
    } else {
      line.retry = RETRY_MIN;
    }
    return added;
  }
}

/** Slots of a pool line of `maxsources` (what `activity` counts while they are empty). */
function poolSlots(maxsources: number): number {
  return Math.min(2 * maxsources, POOL_SLOTS_MAX);
}
