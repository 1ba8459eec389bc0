/**
 * horae's public surface: the pieces a program can embed or test against.
 * The executable's entry point is `main.ts`; this module re-exports the
 * sans-IO core (time, configuration, NTP, clock discipline, cmdmon codec,
 * NTS records) and the daemon's engine and simulator.
 *
 * @example
 * ```ts
 * import { parseCommandLine, runScenario, scenario } from "./mod.ts";
 * const conf = parseCommandLine(["server 192.0.2.1 iburst"]);
 * const result = runScenario(scenario("lan"), { duration: 600 });
 * console.log(conf.config.sources.length, result.rmsOffset);
 * ```
 * @module
 */
export * from "./lib/time/timestamp.ts";
export { defaultConfig } from "./lib/conf/config.ts";
export type { Config, SourceConfig } from "./lib/conf/config.ts";
export { ConfigError } from "./lib/conf/config_error.ts";
export { parseCommandLine, parseConfig } from "./lib/conf/parse.ts";
export { formatConfig } from "./lib/conf/format.ts";
export { decodePacket, encodePacket, PacketError } from "./lib/ntp/packet.ts";
export type { NtpPacket } from "./lib/ntp/packet.ts";
export { NtpSource } from "./lib/ntp/source.ts";
export { NtpServer } from "./lib/ntp/server.ts";
export type { Clock } from "./lib/clock/clock.ts";
export type { ReferenceUpdate, Sample } from "./lib/clock/sample.ts";
export { SourceStats } from "./lib/clock/sourcestats.ts";
export { selectSources } from "./lib/clock/select.ts";
export { Reference } from "./lib/clock/reference.ts";
export { SimClock } from "./lib/clock/sim_clock.ts";
export { handleRequest } from "./lib/cmdmon/handlers.ts";
export type { CmdmonBackend } from "./lib/cmdmon/handlers.ts";
export { Engine } from "./lib/engine/engine.ts";
export { parseChronydArgs } from "./lib/conf/cli.ts";
export { runScenario } from "./lib/sim/simulation.ts";
export { scenario, SCENARIO_NAMES } from "./lib/sim/scenarios.ts";
