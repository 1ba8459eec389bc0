/**
 * Which caught errors are the system's answer rather than a bug. IO code
 * expects the system to refuse now and then (a file that is not there, a
 * directory it may not read, a device that fails an ioctl, a peer that
 * reset) and handles that; anything else (a TypeError, a RangeError, an
 * assertion) is a bug and must surface, so `catch` blocks in lib/ test
 * errors with {@link isOsError} or a named class and rethrow the rest.
 *
 * @example
 * ```ts
 * import { isOsError } from "./os_error.ts";
 * let text = "";
 * try {
 *   text = Deno.readTextFileSync("/nonexistent/file");
 * } catch (e) {
 *   if (!isOsError(e)) throw e; // missing or unreadable: keep the default
 * }
 * ```
 * @module
 */

/**
 * Whether `e` is an error the operating system reported: one of Deno's
 * `Deno.errors` classes (NotFound, PermissionDenied, BadResource...) or any
 * Error carrying an errno name in `code` ("ENOENT", ffi's ErrnoError, ...).
 */
export function isOsError(e: unknown): e is Error {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string" && /^E[A-Z0-9]+$/.test(code)) return true;
  for (const c of Object.values(Deno.errors)) if (e instanceof c) return true;
  return false;
}
