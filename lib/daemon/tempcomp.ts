/**
 * The daemon's side of `tempcomp` (lib/clock/tempcomp.ts has the maths):
 * reads the points file at start (errors are fatal, with chronyd's words),
 * then reads the sensor file at once and every `interval` seconds; a valid
 * reading sets the clock's compensation and writes a `tempcomp.log` line
 * (`log tempcomp`); an unreadable sensor or a compensation beyond 10 ppm is
 * logged as chronyd 4.3 logs it and leaves the compensation as it was.
 *
 * @example
 * ```ts ignore
 * const t = startTempComp(config.tempComp, clock, log, logs);
 * t.stop();
 * ```
 * @module
 */
import type { TempCompConfig } from "../conf/config.ts";
import type { Clock } from "../clock/clock.ts";
import {
  attachTempComp,
  compensation,
  compensationProblem,
  parseSensor,
  parseTempCompPoints,
  TempCompError,
  type TempPoint,
} from "../clock/tempcomp.ts";
import { isOsError } from "../io/os_error.ts";
import type { Logger } from "./log.ts";
import type { LogWriter } from "./log_writer.ts";
import { tempCompLine } from "../engine/logfiles.ts";
import { strerror } from "./files.ts";

/** A running compensation. */
export interface RunningTempComp {
  /** Reads the sensor now (the timer does it every interval). */
  update(): void;
  stop(): void;
}

/** Starts `tempcomp`; throws {@link TempCompError} when the points file cannot be used. */
export function startTempComp(
  config: TempCompConfig,
  clock: Clock,
  log: Logger,
  logs: LogWriter | null,
): RunningTempComp {
  let form: { t0: number; k0: number; k1: number; k2: number } | TempPoint[];
  if ("pointsFile" in config) {
    let text: string;
    try {
      text = Deno.readTextFileSync(config.pointsFile);
    } catch (e) {
      throw new TempCompError(`Could not open ${config.pointsFile} : ${strerror(e)}`);
    }
    form = parseTempCompPoints(text, config.pointsFile);
  } else {
    form = { t0: config.t0, k0: config.k0, k1: config.k1, k2: config.k2 };
  }
  const setComp = attachTempComp(clock);
  const update = () => {
    let temp: number | null = null;
    try {
      temp = parseSensor(Deno.readTextFileSync(config.file));
    } catch (e) {
      if (!isOsError(e)) throw e; // unreadable or missing: the same warning as bad text, below
    }
    if (temp === null) {
      log.warn(`Could not read temperature from ${config.file}`);
      return;
    }
    const comp = compensation(form, temp);
    const problem = compensationProblem(comp);
    if (problem !== null) {
      log.warn(problem);
      return;
    }
    setComp(comp);
    logs?.write("tempcomp", tempCompLine(clock.now(), temp, comp));
  };
  update();
  const timer = setInterval(update, Math.max(0.001, config.interval) * 1000);
  return {
    update,
    stop: () => clearInterval(timer),
  };
}
