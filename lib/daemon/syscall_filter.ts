/**
 * chronyd(8) `-F LEVEL` in the daemon: loads horae's seccomp filter
 * (`ffi/seccomp.ts`) once start-up is over - every socket open, the
 * pidfile written, privileges dropped - so the allow-list holds only what
 * the running daemon needs. The filter is synchronised onto every thread the
 * process has (TSYNC) and inherited by the threads created later.
 *
 * A level outside -2..2 is fatal ("Unsupported filter level"), as is a filter
 * the kernel refuses ("Failed to load seccomp rules"), like chronyd.
 *
 * Test hook: with `HORAE_TEST_SECCOMP_PROBE=ptrace|packet` in the
 * environment, SIGUSR2 makes the daemon call a forbidden system call
 * ({@link forbiddenCall}) and log what it returned; tests/daemon/seccomp_test.ts
 * uses it to show the filter refusing a call while the daemon serves.
 *
 * @module
 */
import type { Logger } from "./log.ts";
import { PrivilegeError } from "./privileges.ts";
import { forbiddenCall, installFilter, validLevel } from "../../ffi/seccomp.ts";

/** Throws {@link PrivilegeError} for a level chronyd refuses. */
export function checkFilterLevel(level: number): void {
  if (!validLevel(level)) throw new PrivilegeError("seccomp", "Unsupported filter level");
}

/** Loads the filter of `level` (nothing at 0); throws {@link PrivilegeError} on failure. */
export function applySystemCallFilter(level: number, log: Logger): void {
  if (level === 0) return;
  checkFilterLevel(level);
  const probe = Deno.env.get("HORAE_TEST_SECCOMP_PROBE");
  if (probe === "ptrace" || probe === "packet") {
    Deno.addSignalListener("SIGUSR2", () => {
      const r = forbiddenCall(probe);
      log.info(`Test probe ${probe}: result ${r.result} errno ${r.errno}`);
    });
  }
  try {
    installFilter(level);
  } catch (e) {
    throw new PrivilegeError("seccomp", `Failed to load seccomp rules : ${(e as Error).message}`);
  }
  log.info(`Loaded seccomp filter (level ${Math.abs(level)})`);
}
