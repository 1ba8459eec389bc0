/**
 * From chrony.conf's `server`/`pool`/`peer` lines to what the engine needs:
 * name resolution (a server takes its first address, a pool up to
 * `maxsources` of them) and the mapping of options.
 *
 * @example
 * ```ts
 * import { engineSpec } from "./source_spec.ts";
 * import type { Config, SourceConfig } from "../conf/config.ts";
 * function specOf(sc: SourceConfig, cfg: Config) {
 *   return engineSpec(sc, cfg, "192.0.2.1");
 * }
 * ```
 * @module
 */
import type { Config, SourceConfig } from "../conf/config.ts";
import type { EngineOptions, EngineSourceSpec } from "./engine.ts";
import type { NtpSourceOptions } from "../ntp/source.ts";
import { DEFAULT_MAX_UNREACH } from "../clock/select.ts";

/** The engine's description of one configured source at one address. */
export function engineSpec(sc: SourceConfig, config: Config, address: string): EngineSourceSpec {
  const options: Partial<NtpSourceOptions> = {
    kind: sc.kind,
    port: sc.port,
    minpoll: sc.minpoll,
    maxpoll: sc.maxpoll,
    iburst: sc.iburst,
    burst: sc.burst,
    maxdelay: sc.maxdelay,
    maxdelaydevratio: sc.maxdelaydevratio,
    offset: sc.offset,
    polltarget: sc.polltarget,
    offline: sc.offline,
    autoOffline: sc.autoOffline,
    minstratum: sc.minstratum,
    maxClockError: config.maxClockError,
    version: sc.version ?? 4,
    xleave: sc.xleave,
    extF323: sc.extfields.includes(0xf323),
    extF324: sc.extfields.includes(0xf324),
  };
  if (sc.presend !== undefined) options.presend = sc.presend;
  const copy = sc.copy ? { copy: true } : {};
  // clockprecision: the minimum noise of the measurements (chrony.conf(5))
  if (config.clockPrecision !== undefined && config.clockPrecision > 0) {
    options.precision = config.clockPrecision;
  }
  if (sc.maxdelayratio !== undefined) options.maxdelayratio = sc.maxdelayratio;
  if (sc.mindelay !== undefined) options.mindelay = sc.mindelay;
  if (sc.maxdelayquant !== undefined) options.maxdelayquant = sc.maxdelayquant;
  if (sc.asymmetry !== undefined) options.asymmetry = sc.asymmetry;
  if (sc.filter !== undefined) options.filter = sc.filter;
  const minSamples = sc.minsamples ?? config.minSamples;
  const maxSamples = sc.maxsamples ?? config.maxSamples;
  return {
    name: sc.kind === "pool" ? address : sc.name,
    address,
    options,
    select: {
      noselect: sc.noselect,
      prefer: sc.prefer,
      trust: sc.trust,
      require: sc.require,
      ...(sc.maxunreach !== DEFAULT_MAX_UNREACH ? { maxUnreach: sc.maxunreach } : {}),
    },
    ...(minSamples > 0 ? { minSamples } : {}),
    ...(maxSamples > 0 ? { maxSamples } : {}),
    ...(sc.kind === "pool" ? { pool: sc.name } : {}),
    ...copy,
  };
}

/** Resolves a name to numeric addresses (injected: getaddrinfo in the daemon, a table in tests). */
export type Resolver = (name: string, family?: "ipv4" | "ipv6") => Promise<string[]>;

/**
 * The addresses to use for one source line: the first for a server or peer,
 * up to `maxsources` for a pool. Family from `-4`/`-6` or the source's own
 * `ipv4`/`ipv6` option.
 */
export async function resolveSource(
  sc: SourceConfig,
  resolve: Resolver,
  family: "any" | "ipv4" | "ipv6",
): Promise<string[]> {
  const fam = family !== "any" ? family : sc.ipv4 ? "ipv4" : sc.ipv6 ? "ipv6" : undefined;
  const all = await resolve(sc.name, fam);
  return sc.kind === "pool" ? all.slice(0, sc.maxsources) : all.slice(0, 1);
}

/** The engine's selection settings from chrony.conf's global directives. */
export function selectOptions(config: Config): NonNullable<EngineOptions["select"]> {
  return {
    minSources: config.minSources,
    maxDistance: config.maxDistance,
    maxJitter: config.maxJitter,
    combineLimit: config.combineLimit,
    reselectDist: config.reselectDist,
    stratumWeight: config.stratumWeight,
    orphanStratum: config.local?.orphan ? config.local.stratum : null,
  };
}
