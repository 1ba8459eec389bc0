/**
 * horae's entry point: one program, two personalities.
 *
 * `horae chronyd [flags] [directives]` runs the daemon, `horae chronyc [flags]
 * [command]` the control client. Started through a link named `chronyd` or
 * `chronyc` (the launchers in `bin/`, or a copy of the compiled binary), it
 * takes that personality from its own name.
 *
 * @module
 */
import { personality } from "./lib/daemon/personality.ts";

async function main(): Promise<number> {
  const { name, args } = personality(Deno.args, readArgv0());
  if (name !== "horae") await nameProcess(name);
  switch (name) {
    case "chronyd": {
      const { runChronyd } = await import("./lib/daemon/chronyd.ts");
      return await runChronyd(args);
    }
    case "chronyc": {
      const { runChronycMain } = await import("./lib/daemon/chronyc_main.ts");
      return await runChronycMain(args);
    }
    default:
      console.error(
        "Usage: horae chronyd [OPTION]... [DIRECTIVE]...\n" +
          "       horae chronyc [OPTION]... [COMMAND]...",
      );
      return args.includes("--help") || args.includes("-h") ? 0 : 1;
  }
}

/**
 * Names the process `chronyd` or `chronyc` (PR_SET_NAME on the main thread:
 * /proc/PID/comm, so `ps`, `pidof`, `ss -p` and systemd show that name, not
 * the runtime's). The launchers set argv[0] too.
 */
async function nameProcess(name: string): Promise<void> {
  try {
    const { setThreadName } = await import("./ffi/libc.ts");
    setThreadName(name);
  } catch { /* no libc (not Linux) or no FFI permission: keep the runtime's name */ }
}

/** argv[0] of this process (the name it was started by), from /proc/self/cmdline. */
function readArgv0(): string {
  try {
    const raw = Deno.readFileSync("/proc/self/cmdline");
    const end = raw.indexOf(0);
    return new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end));
  } catch {
    return "";
  }
}

if (import.meta.main) {
  Deno.exit(await main());
}
