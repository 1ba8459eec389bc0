/**
 * The daemon's symmetric keys: reads `keyfile` at start and on `chronyc
 * rekey` (the edge around lib/ntp/keyfile.ts), logs each bad line once with
 * its file and line, and makes the per-source {@link KeyClientAuth} for
 * `server ... key N`, warning as chronyd does about keys that are missing or
 * shorter than 80 bits.
 *
 * @example
 * ```ts
 * import { KeyStore } from "./keys.ts";
 * import type { Config } from "../conf/config.ts";
 * import type { Logger } from "./log.ts";
 * function keysOf(config: Config, log: Logger) {
 *   const keys = KeyStore.load(config, log); // reads config.keyFile, if any
 *   keys.get(1)?.type; // "MD5", ...
 *   keys.reload(); // chronyc rekey
 * }
 * ```
 * @module
 */
import type { Config, SourceConfig } from "../conf/config.ts";
import { KEY_TYPE_IDS, parseKeyFile, SHORT_KEY_BITS, type SymmetricKey } from "../ntp/keyfile.ts";
import { KeyClientAuth } from "../ntp/key_auth.ts";
import { defaultVersionForKey, loadDigests } from "../ntp/mac.ts";
import type { AuthDataReport } from "../cmdmon/reports.ts";
import type { Logger } from "./log.ts";
import { isOsError } from "../io/os_error.ts";

/** `authdata`'s "never" for the NTS-KE columns. */
const NEVER = 0xffffffff;

/** The key file's keys, re-readable. */
export class KeyStore {
  /** Path of the key file, or null without `keyfile`. */
  readonly path: string | null;
  readonly #log: Logger;
  #keys = new Map<number, SymmetricKey>();

  private constructor(path: string | null, log: Logger) {
    this.path = path;
    this.#log = log;
  }

  /** Reads `config.keyFile` (none: an empty store). Problems are logged, never thrown. */
  static load(config: Config, log: Logger): KeyStore {
    const store = new KeyStore(config.keyFile ?? null, log);
    store.reload();
    return store;
  }

  /** A store holding `keys` (tests, tools). */
  static of(keys: Iterable<SymmetricKey>, log: Logger): KeyStore {
    const store = new KeyStore(null, log);
    for (const k of keys) store.#keys.set(k.id, k);
    return store;
  }

  /** Whether `keyfile` is configured. */
  get configured(): boolean {
    return this.path !== null;
  }

  /** Number of usable keys. */
  get size(): number {
    return this.#keys.size;
  }

  /** The key with this ID, or undefined. */
  get(id: number): SymmetricKey | undefined {
    return this.#keys.get(id);
  }

  /** A lookup function over the current keys (follows reloads). */
  readonly lookup = (id: number): SymmetricKey | undefined => this.#keys.get(id);

  /** Re-reads the key file (`rekey`); keeps the old keys if the file cannot be read. */
  reload(): boolean {
    if (this.path === null) return true;
    let text: string;
    try {
      text = Deno.readTextFileSync(this.path);
    } catch (e) {
      if (!isOsError(e)) throw e;
      this.#log.warn(`Could not open keyfile ${this.path}`); // chronyd's words, no reason
      return false;
    }
    const { keys, errors } = parseKeyFile(text, { file: this.path });
    for (const e of errors) this.#log.warn(`Key file ${e.message}`);
    this.#keys = keys;
    return true;
  }

  /**
   * The authentication of a source with `sc.key` (null without), and the
   * NTP version of its requests (`sc.version`, else 3 for keys longer than
   * 160 bits, else 4). Warns about a missing or short key.
   */
  sourceAuth(sc: SourceConfig): { auth: KeyClientAuth; version: number } | null {
    if (sc.key === undefined) return null;
    const key = this.get(sc.key);
    if (key === undefined) this.#log.warn(`Key ${sc.key} is missing from the key file`);
    else if (key.key.length * 8 < SHORT_KEY_BITS) {
      this.#log.warn(`Key ${sc.key} is shorter than ${SHORT_KEY_BITS} bits`);
    }
    return {
      auth: new KeyClientAuth(sc.key, this.lookup),
      version: sc.version ?? (key ? defaultVersionForKey(key.type) : 4),
    };
  }
}

/** The `chronyc authdata` row of a source using key `keyId` (mode 1, "SK"). */
export function keyAuthData(keyId: number, key: SymmetricKey | undefined): AuthDataReport {
  return {
    mode: 1,
    keyType: key ? KEY_TYPE_IDS[key.type] : 0,
    keyId,
    keyLength: key ? key.key.length * 8 : 0,
    keAttempts: 0,
    lastKeAgo: NEVER,
    cookies: 0,
    cookieLength: 0,
    nak: 0,
  };
}

/**
 * The daemon's keys: the digests (node:crypto) loaded only with a `keyfile`
 * (issue 12), then the file read (a missing one logged, as chronyd).
 */
export async function loadKeys(config: Config, log: Logger): Promise<KeyStore> {
  if (config.keyFile) await loadDigests();
  return KeyStore.load(config, log);
}
