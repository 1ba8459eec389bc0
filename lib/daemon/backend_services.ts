/**
 * The real system behind the cmdmon backend's {@link BackendServices}: the
 * daemon's clock, CLOCK_REALTIME, atomic file writes and the sourcedir
 * reader. Tests give the backend their own.
 *
 * @example
 * ```ts
 * import { systemBackendServices } from "./backend_services.ts";
 * import type { Clock } from "../clock/clock.ts";
 * function services(clock: Clock) {
 *   return systemBackendServices(clock);
 * }
 * ```
 * @module
 */
import type { Clock } from "../clock/clock.ts";
import { loadSourceDirs } from "../conf/load.ts";
import { realNow } from "../io/realtime.ts";
import type { BackendServices } from "./cmdmon_backend.ts";

/** The services of a running daemon whose cooked time is `clock`'s. */
export function systemBackendServices(clock: Pick<Clock, "now">): BackendServices {
  return {
    now: () => clock.now(),
    realNow,
    readSourceDirs: (dirs) => loadSourceDirs(dirs).sources,
  };
}
