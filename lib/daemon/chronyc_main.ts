/**
 * `chronyc`: horae's control client (lib/cmdmon/chronyc.ts) on the real
 * terminal and sockets.
 *
 * @module
 */
import { runChronyc } from "../cmdmon/chronyc.ts";
import { chronycIo } from "../io/cmdmon_client.ts";

/** Runs chronyc with `args`; returns its exit code. */
export async function runChronycMain(args: readonly string[]): Promise<number> {
  return await runChronyc([...args], chronycIo());
}
