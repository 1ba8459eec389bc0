/**
 * The chronyd daemon mode (placeholder until the wiring lands).
 * @module
 */
import type { ParseResult } from "../conf/parse.ts";
import type { ChronydOptions } from "./cli.ts";
import type { Logger } from "./log.ts";

/** Runs the daemon; returns the exit code. */
export function runDaemon(_conf: ParseResult, _o: ChronydOptions, log: Logger): Promise<number> {
  log.fatal("daemon mode is not supported yet");
  return Promise.resolve(1);
}
