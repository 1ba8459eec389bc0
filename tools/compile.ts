/**
 * `deno task compile`: builds the single executable `dist/horae`, one file to
 * copy to a host and link (or copy) as `chronyd` and `chronyc`.
 *
 * Two ways, chosen by what is available offline:
 * - **`DENORT_BIN` set**: `deno compile` with that `denort` runtime (of the
 *   same Deno version; the full `deno` does not work there: it builds a file
 *   that behaves as plain deno). This is Deno's own single executable.
 * - **otherwise** (the default; Deno's site is not needed): a self-extracting
 *   file. A POSIX sh stub is followed by a gzip'd tar of the pinned Deno
 *   running this script and the offline bundle (tools/bundle.ts). On first run
 *   the stub checks the payload's SHA-256 against the one written in the stub,
 *   unpacks it into a cache directory named by that checksum
 *   (`$HORAE_CACHE`, else `$XDG_CACHE_HOME/horae`, `~/.cache/horae`, or
 *   `${TMPDIR:-/tmp}/horae-UID` when there is no writable home), renames it
 *   into place atomically, and from then on starts at once. Two copies of
 *   different builds never share a directory; the file itself may sit on a
 *   read-only file system; the host needs neither Node nor Deno, only sh,
 *   tail, gzip, tar, sha256sum (coreutils).
 *
 * Either way the file takes its personality from its name (`chronyd`,
 * `chronyc`) or from its first argument (`horae chronyd -Q ...`).
 *
 * Options: `--out FILE` (default `dist/horae`).
 *
 * @module
 */
import { buildBundle, WORKER_ENTRIES } from "./bundle.ts";
import { VERSION } from "../lib/version.ts";
import { DENO_V8_OPTION } from "../lib/daemon/runtime_flags.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Runs a command; throws with its stderr when it fails. */
async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  const r = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    ...(cwd ? { cwd } : {}),
  }).output();
  if (!r.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr).trim()}`);
  }
  return new TextDecoder().decode(r.stdout);
}

/** Length of the stub, padded with a comment so the payload offset can be written inside it. */
export const STUB_SIZE = 4096;

/**
 * The sh stub for a payload of the given SHA-256 (hex). The payload starts at
 * byte {@link STUB_SIZE} + 1 (1-based, as `tail -c +N` counts).
 */
export function stub(sha256: string): string {
  const script = `#!/bin/sh
# horae ${VERSION}: a chrony-compatible NTP/NTS daemon (chronyd) and client
# (chronyc) in one self-extracting file. Run it as chronyd or chronyc (link or
# copy it under that name) or as: horae chronyd|chronyc ARGS.
# The payload after this stub is a gzip'd tar of Deno and horae.js; it is
# checked (sha256) and unpacked once into a cache directory named by its sum.
set -eu
sum=${sha256}
self=$(readlink -f -- "$0")
name=$(basename -- "$0")
uid=$(id -u)
pick_cache() {
  if [ -n "\${HORAE_CACHE:-}" ]; then echo "$HORAE_CACHE"; return; fi
  if [ -n "\${XDG_CACHE_HOME:-}" ] && mkdir -p "$XDG_CACHE_HOME/horae" 2>/dev/null; then
    echo "$XDG_CACHE_HOME/horae"; return
  fi
  if [ -n "\${HOME:-}" ] && [ -d "$HOME" ] && [ -w "$HOME" ] && mkdir -p "$HOME/.cache/horae" 2>/dev/null; then
    echo "$HOME/.cache/horae"; return
  fi
  t="\${TMPDIR:-/tmp}/horae-$uid"
  mkdir -p -m 700 "$t"
  # Never use a shared temporary directory that someone else made.
  if [ ! -O "$t" ] || [ -L "$t" ]; then echo "horae: $t is not ours" >&2; exit 2; fi
  echo "$t"
}
base=$(pick_cache)
dir="$base/$sum"
if [ ! -f "$dir/.ok" ]; then
  mkdir -p "$base"
  got=$(tail -c +${STUB_SIZE + 1} "$self" | sha256sum | cut -d' ' -f1)
  if [ "$got" != "$sum" ]; then
    echo "horae: $self is damaged (payload checksum $got, expected $sum)" >&2
    exit 2
  fi
  tmp=$(mktemp -d "$base/.unpack.XXXXXX")
  tail -c +${STUB_SIZE + 1} "$self" | gzip -dc | tar -x -C "$tmp" -f -
  : > "$tmp/.ok"
  # Atomic: a concurrent first run may have won the race; then keep its copy.
  mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
fi
case "$name" in
  chronyd | chronyc) set -- "$name" "$@" ;;
esac
export DENO_DIR="$dir/.deno" DENO_NO_UPDATE_CHECK=1
# argv[0] chronyd/chronyc (ps -f, pidof) with bash's exec -a when there is a bash.
case "$name" in
  chronyd | chronyc) if command -v bash >/dev/null 2>&1; then
    exec bash -c 'd=$0 j=$1; shift; exec -a "$1" "$d" run -A --quiet --no-prompt --no-config \\
      --unstable-net ${DENO_V8_OPTION} "$j" "$@"' "$dir/deno" "$dir/horae.js" "$@"
  fi ;;
esac
exec "$dir/deno" run -A --quiet --no-prompt --no-config --unstable-net ${DENO_V8_OPTION} "$dir/horae.js" "$@"
`;
  const pad = STUB_SIZE - new TextEncoder().encode(script).length - 1;
  if (pad < 2) throw new Error("compile: stub too long");
  return script + "#" + " ".repeat(pad - 1) + "\n";
}

/**
 * Builds the self-extracting file at `out` from `deno` (the Deno executable to
 * embed); returns its payload checksum and size in bytes.
 */
export async function buildSelfExtracting(
  out: string,
  deno: string,
): Promise<{ sha256: string; bytes: number }> {
  const work = await Deno.makeTempDir({ prefix: "horae-compile-" });
  try {
    const payload = `${work}/payload`;
    await Deno.mkdir(payload);
    await buildBundle(`${work}/bundle`);
    await Deno.copyFile(`${work}/bundle/horae.js`, `${payload}/horae.js`);
    // `serverworkers`, `ntsprocesses`: the worker entries, loaded by URL beside horae.js
    for (const w of WORKER_ENTRIES) await Deno.copyFile(`${work}/bundle/${w}`, `${payload}/${w}`);
    await Deno.copyFile(deno, `${payload}/deno`);
    await Deno.chmod(`${payload}/deno`, 0o755);
    await run("tar", [
      "-c",
      "--sort=name",
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      "--mtime=@0",
      "-f",
      `${work}/payload.tar`,
      "-C",
      payload,
      "deno",
      "horae.js",
      ...WORKER_ENTRIES,
    ]);
    await run("gzip", ["-n", "-6", `${work}/payload.tar`]);
    const tgz = await Deno.readFile(`${work}/payload.tar.gz`);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", tgz));
    const sha256 = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    const head = new TextEncoder().encode(stub(sha256));
    const file = new Uint8Array(head.length + tgz.length);
    file.set(head, 0);
    file.set(tgz, head.length);
    const dir = out.slice(0, Math.max(out.lastIndexOf("/"), 0)) || ".";
    await Deno.mkdir(dir, { recursive: true });
    const tmp = `${out}.tmp`;
    await Deno.writeFile(tmp, file, { mode: 0o755 });
    await Deno.chmod(tmp, 0o755);
    await Deno.rename(tmp, out);
    return { sha256, bytes: file.length };
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

async function denoCompile(out: string, denort: string): Promise<number> {
  console.error(`compile: using denort runtime ${denort}`);
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: [
      "compile",
      "-A",
      "--unstable-net",
      "--no-prompt",
      DENO_V8_OPTION,
      "--config",
      `${root}/deno.json`,
      "-o",
      out,
      "--include",
      `${root}/lib/daemon/server_worker.ts`, // `serverworkers`: loaded by URL, not imported
      "--include",
      `${root}/lib/daemon/nts_ke_helper_worker.ts`, // `ntsprocesses`: the same
      `${root}/main.ts`,
    ],
    env: { DENORT_BIN: denort },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    console.error(
      `compile: deno compile failed; DENORT_BIN must be a denort binary of Deno ${Deno.version.deno}`,
    );
  }
  return code;
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--out");
  const out = i >= 0 && Deno.args[i + 1] ? Deno.args[i + 1]! : `${root}/dist/horae`;
  const denort = Deno.env.get("DENORT_BIN");
  if (denort) Deno.exit(await denoCompile(out, denort));
  try {
    const { sha256, bytes } = await buildSelfExtracting(out, Deno.execPath());
    console.log(
      `compile: ${out} (${(bytes / 1e6).toFixed(1)} MB, self-extracting, payload sha256 ` +
        `${sha256.slice(0, 16)}...; DENORT_BIN=denort builds Deno's own executable instead)`,
    );
  } catch (e) {
    console.error(`compile: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
