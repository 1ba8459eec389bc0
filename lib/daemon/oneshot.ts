/**
 * chronyd's one-shot modes: `-Q` measures and prints `System clock wrong by
 * X seconds (ignored)`; `-q` also steps the clock by that amount, as chronyd
 * does in this mode. Both run the daemon's own engine (the same sample
 * filtering, statistics and selection) until the first estimate is made,
 * then exit. With `-t SEC` they give up after SEC seconds; without it, as
 * chronyd 4.3 does, once no source can still become selectable: a source
 * can while its remaining decided polls of the first {@link REACH_BITS} - 1
 * (`NtpSource.reachUpdates`: answered, found unanswered, or not sent for
 * want of NTS cookies) plus its samples reach
 * {@link ONESHOT_MIN_SAMPLES} (with `iburst` and nothing answering: about
 * 8 s for a refused NTS-KE, 10 s for a silent server). Either failure says so in chronyd's words
 * ("Timeout reached", "No suitable source for synchronisation") and exits 1;
 * like chronyd in this mode, no selection change is logged.
 *
 * @example
 * ```ts
 * import { runOneShot } from "./oneshot.ts";
 * import type { Config } from "../conf/config.ts";
 * import type { ChronydOptions } from "../conf/cli.ts";
 * import type { Logger } from "./log.ts";
 * async function chronydQ(cfg: Config, opts: ChronydOptions, log: Logger) {
 *   const code = await runOneShot(cfg, opts, log); // the exit status
 * }
 * ```
 * @module
 */
import type { Config } from "../conf/config.ts";
import type { ChronydOptions } from "../conf/cli.ts";
import type { Logger } from "./log.ts";
import { Engine } from "../engine/engine.ts";
import { REACH_BITS } from "../ntp/reach.ts";
import { ClientIo } from "./client_io.ts";
import type { ReferenceUpdate } from "../clock/sample.ts";
import { engineSpec, resolveSource, selectOptions } from "../engine/source_spec.ts";
import { openSystemClock, systemResolver } from "./system.ts";
import type { NtsSource } from "./nts_client.ts";
import { type KeyStore, loadKeys } from "./keys.ts";

/** Samples a source needs to be selectable in chronyd's one-shot rule (its regression minimum). */
export const ONESHOT_MIN_SAMPLES = 3;
/** How often the one-shot rule is checked, ms. */
const CHECK_INTERVAL_MS = 100;

/** Runs `-q` or `-Q`; returns the exit code. */
export async function runOneShot(
  config: Config,
  o: ChronydOptions,
  log: Logger,
  loaded?: KeyStore,
): Promise<number> {
  const readOnly = o.noClockControl || o.mode === "offset-only";
  const clock = openSystemClock({ readOnly, maxSlewRate: config.maxSlewRate });
  let result: ReferenceUpdate | null = null;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const engine = new Engine({
    clock,
    discipline: {
      update(u) {
        result ??= u;
        done();
        return [];
      },
    },
    randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)),
    select: selectOptions(config),
    maxClockError: config.maxClockError,
    // chronyd logs no selection changes in this mode
    logSelection: false,
  });
  const lost = new Set<number>();
  const onSourceLost = (id: number) => {
    lost.add(id);
    if (engine.liveIds().every((id) => lost.has(id))) done();
  };
  const io = new ClientIo({
    engine,
    clock,
    log,
    ...(config.acquisitionPort !== undefined ? { port: config.acquisitionPort } : {}),
    bindAddress: config.bindAcqAddress,
    ...(config.bindAcqDevice ? { device: config.bindAcqDevice } : {}),
    onSourceLost,
  });

  const resolve = systemResolver(log);
  const keys = loaded ?? await loadKeys(config, log);
  const ntsSources: NtsSource[] = [];
  for (const sc of config.sources) {
    // systemResolver logs a name that does not resolve and gives no addresses (never throws)
    const addresses = await resolveSource(sc, resolve, o.family);
    for (const a of addresses) {
      const spec = engineSpec(sc, config, a);
      if (!sc.nts) {
        const key = keys.sourceAuth(sc);
        engine.addSource(
          key
            ? { ...spec, options: { ...spec.options, version: key.version }, auth: key.auth }
            : spec,
        );
        continue;
      }
      const { NTS_KE_RETRY_MAX, prepareNtsSource } = await import("./nts_client.ts");
      // chronyd 4.3 was not seen to retry a failed NTS-KE within 200 s: once per run here
      const nts = await prepareNtsSource(sc, a, config, log, {
        resolve,
        retryMin: NTS_KE_RETRY_MAX,
      });
      ntsSources.push(nts);
      const { id } = engine.addSource({ ...spec, auth: nts });
      nts.onReady = () => io.run(engine.authReady(id));
      // a failed NTS-KE (certificate, connection) is retried; its polls count as unanswered
    }
  }
  if (engine.liveIds().length === 0) {
    log.warn("No suitable source for synchronisation");
    await io.close();
    return 1;
  }

  let timer: ReturnType<typeof setTimeout> | null = null;
  let timedOut = false;
  if (o.timeout !== null) {
    timer = setTimeout(() => {
      timedOut = true;
      done();
    }, o.timeout * 1000);
  }
  io.run(engine.start());
  // chronyd's end of the one-shot when no source can be selected any more (module doc)
  const hopeless = (id: number) => {
    const p = engine.pollProgress(id);
    return p === null || lost.has(id) || p.reachUpdates >= REACH_BITS - 1 ||
      REACH_BITS - 1 - p.reachUpdates + p.samples < ONESHOT_MIN_SAMPLES;
  };
  const check = setInterval(() => {
    if (engine.liveIds().every(hopeless)) done();
  }, CHECK_INTERVAL_MS);
  await finished;
  clearInterval(check);
  if (timer !== null) clearTimeout(timer);
  await io.close();
  await Promise.all(ntsSources.map((n) => n.close()));
  engine.close();

  const update = result as ReferenceUpdate | null;
  if (update === null) {
    // chronyd's only words here: after -t the timeout, else (every source lost) no source
    if (timedOut) log.info("Timeout reached");
    else log.warn("No suitable source for synchronisation");
    return 1;
  }
  const correction = -update.offset;
  if (o.mode === "offset-only") {
    log.info(`System clock wrong by ${correction.toFixed(6)} seconds (ignored)`);
    return 0;
  }
  log.info(`System clock wrong by ${correction.toFixed(6)} seconds (step)`);
  if (readOnly) {
    log.warn("Could not step system clock");
    return 0;
  }
  clock.step(update.offset);
  return 0;
}
