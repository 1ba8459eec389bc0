/**
 * `deno task bundle`: builds the offline artifact `dist/horae-bundle/`:
 * `horae.js` (one JavaScript bundle of main.ts and everything it imports),
 * `server_worker.ts` and `nts_ke_helper_worker.ts` (the same for the `serverworkers` and
 * `ntsprocesses` thread entries, JavaScript) and
 * a launcher `horae` (plus `chronyd`/`chronyc` links) that runs it with any
 * Deno 2.x found beside it, in PATH, or through this checkout's ./denow.
 * Nothing is downloaded at build or run time. `buildBundle(dir)` is also used
 * by `tools/package.ts`.
 *
 * @module
 */
import { DENO_V8_OPTION } from "../lib/daemon/runtime_flags.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Worker entries of lib/daemon, bundled each on its own beside horae.js. */
export const WORKER_ENTRIES = ["server_worker.ts", "nts_ke_helper_worker.ts"] as const;

/** `deno bundle` of one entry module into `file`; throws naming `what` when it fails. */
async function bundleEntry(entry: string, file: string, what: string): Promise<void> {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform",
      "deno",
      "--config",
      `${root}/deno.json`,
      "-o",
      file,
      entry,
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) throw new Error(`${what} exited with ${code}`);
}

/**
 * Builds `horae.js` and the launchers `horae`, `chronyd`, `chronyc` (links)
 * into `out` (created if needed). Throws when `deno bundle` fails.
 */
export async function buildBundle(out: string): Promise<void> {
  await Deno.mkdir(out, { recursive: true });
  await bundleEntry(`${root}/main.ts`, `${out}/horae.js`, "deno bundle");
  // `serverworkers`, `ntsprocesses`: the worker entries are loaded by URL beside the bundle (their
  // names as in lib/)
  for (const entry of WORKER_ENTRIES) {
    await bundleEntry(`${root}/lib/daemon/${entry}`, `${out}/${entry}`, `deno bundle (${entry})`);
  }
  await Deno.writeTextFile(`${out}/horae`, LAUNCHER, { mode: 0o755 });
  await Deno.chmod(`${out}/horae`, 0o755);
  for (const name of ["chronyd", "chronyc"]) {
    try {
      await Deno.remove(`${out}/${name}`);
    } catch { /* absent */ }
    await Deno.symlink("horae", `${out}/${name}`);
  }
}

/** The launcher script: runs `horae.js` beside it with Deno 2.x. */
export const LAUNCHER = `#!/bin/sh
# horae offline bundle launcher: runs horae.js with Deno 2.x (DENO env, a deno
# beside this file, or deno in PATH). Linked as chronyd/chronyc it takes that
# personality.
set -eu
self=$(readlink -f -- "$0")
dir=$(dirname -- "$self")
deno=\${DENO:-}
[ -n "$deno" ] || { [ -x "$dir/deno" ] && deno="$dir/deno"; } || true
[ -n "$deno" ] || deno=$(command -v deno || true)
[ -n "$deno" ] || { echo "horae: no deno found (set DENO=/path/to/deno)" >&2; exit 2; }
case "$(basename -- "$0")" in
  chronyd | chronyc)
    set -- "$(basename -- "$0")" "$@"
    # ps, pidof and ss find it by that name too: argv[0] with bash's exec -a
    # (without bash only /proc/PID/comm, which horae sets itself, says so).
    if command -v bash >/dev/null 2>&1; then
      exec bash -c 'd=$0 j=$1; shift; exec -a "$1" "$d" run -A --quiet --no-prompt --no-config \\
        --unstable-net ${DENO_V8_OPTION} "$j" "$@"' "$deno" "$dir/horae.js" "$@"
    fi
    ;;
esac
exec "$deno" run -A --quiet --no-prompt --no-config --unstable-net ${DENO_V8_OPTION} "$dir/horae.js" "$@"
`;
if (import.meta.main) {
  const out = `${root}/dist/horae-bundle`;
  try {
    await buildBundle(out);
  } catch (e) {
    console.error(`bundle: ${(e as Error).message}`);
    Deno.exit(1);
  }
  console.log(`bundle: ${out}/horae.js and launchers horae, chronyd, chronyc`);
}
