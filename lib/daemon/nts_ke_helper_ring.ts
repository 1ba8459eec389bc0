/**
 * The hand-over ring between the main thread and one NTS-KE helper
 * (`nts_ke_helpers.ts`, `nts_ke_helper_worker.ts`): a `Uint32Array` on a
 * SharedArrayBuffer. The main thread writes accepted descriptors at
 * `RING_SLOTS + (tail & mask)` and then advances `RING_TAIL`; the helper
 * takes them from `RING_HEAD` up to the tail and advances the head (each
 * index is written by one side only; both count up and wrap at 2^32, the
 * slot count being a power of two). `RING_MESSAGES` counts the messages the
 * main thread posted that the helper has not handled yet: while it is above
 * zero the helper leaves its blocking loop so that its event loop delivers
 * them. An eventfd (its number sent in the helper's `init`) wakes the loop
 * after either. `RING_BUSY` counts the sessions in flight.
 *
 * @example
 * ```ts
 * import { RING_SLOTS, RING_TAIL } from "./nts_ke_helper_ring.ts";
 * const ring = new Uint32Array(new SharedArrayBuffer((RING_SLOTS + 8) * 4));
 * ring[RING_SLOTS + (ring[RING_TAIL]! & 7)] = 42;
 * Atomics.add(ring, RING_TAIL, 1);
 * ```
 * @module
 */

/** Index of the helper's next descriptor to take. */
export const RING_HEAD = 0;
/** Index one past the main thread's last descriptor. */
export const RING_TAIL = 1;
/** Messages posted and not yet handled by the helper. */
export const RING_MESSAGES = 2;
/**
 * Sessions in flight: added by the main thread as it hands one over,
 * subtracted by the helper as each ends (so the main thread's
 * `maxntsconnections` check sees it at once, not when the helper reports).
 */
export const RING_BUSY = 3;
/** Where the slots start. */
export const RING_SLOTS = 4;
