/**
 * `deno task package`: builds `dist/horae-VERSION-linux-ARCH.tar.gz`, an
 * installable package made from the offline bundle (see tools/bundle.ts) and
 * the files in `etc/package/`:
 *
 * ```
 * horae-VERSION-linux-ARCH/
 *   README  install.sh
 *   bin/chronyd  bin/chronyc  bin/horae   -> ../lib/horae/horae
 *   lib/horae/horae.js  lib/horae/server_worker.ts  lib/horae/nts_ke_helper_worker.ts
 *   lib/horae/horae   (+ lib/horae/deno with --with-deno)
 *   etc/chrony.conf
 *   lib/systemd/system/horae.service
 *   lib/tmpfiles.d/horae.conf
 * ```
 *
 * Options: `--out DIR` (default `dist/`), `--with-deno` (put the Deno running
 * this script, the pinned one under ./denow, into the package so the host
 * needs none). Offline: nothing is downloaded. Reproducible: the system's
 * `tar` writes entries sorted by name, owned by 0:0, with one mtime
 * (`SOURCE_DATE_EPOCH`, else the last commit's time), and `gzip -n` stores no
 * name or time.
 *
 * @module
 */
import { buildBundle, WORKER_ENTRIES } from "./bundle.ts";
import { VERSION } from "../lib/version.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** What {@link buildPackage} needs. */
export interface PackageOptions {
  /** Directory the tarball is written to (created if needed). */
  out: string;
  /** Copy this Deno executable into the package as `lib/horae/deno`. */
  deno?: string;
}

/** Runs a command; throws with its stderr when it fails. Returns stdout. */
async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  const r = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
    ...(cwd ? { cwd } : {}),
  })
    .output();
  if (!r.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(r.stderr).trim()}`);
  }
  return new TextDecoder().decode(r.stdout);
}

/** The archive's mtime: SOURCE_DATE_EPOCH, else the last commit's time, else 0. */
async function sourceDate(): Promise<number> {
  const env = Deno.env.get("SOURCE_DATE_EPOCH");
  if (env && /^\d+$/.test(env)) return Number(env);
  try {
    const t = (await run("git", ["-C", root, "log", "-1", "--format=%ct"])).trim();
    if (/^\d+$/.test(t)) return Number(t);
  } catch { /* not a git checkout */ }
  return 0;
}

/** The package's base name, `horae-VERSION-linux-ARCH`. */
export function packageName(): string {
  return `horae-${VERSION}-linux-${Deno.build.arch}`;
}

async function copy(from: string, to: string, mode: number): Promise<void> {
  await Deno.copyFile(from, to);
  await Deno.chmod(to, mode);
}

/** Builds the package; returns the tarball's path. */
export async function buildPackage(opts: PackageOptions): Promise<string> {
  const name = packageName();
  const stage = await Deno.makeTempDir({ prefix: "horae-package-" });
  try {
    const top = `${stage}/${name}`;
    const src = `${root}/etc/package`;
    for (const dir of ["bin", "etc", "lib/horae", "lib/systemd/system", "lib/tmpfiles.d"]) {
      await Deno.mkdir(`${top}/${dir}`, { recursive: true });
    }
    await buildBundle(`${stage}/bundle`);
    await copy(`${stage}/bundle/horae.js`, `${top}/lib/horae/horae.js`, 0o644);
    for (const w of WORKER_ENTRIES) {
      await copy(`${stage}/bundle/${w}`, `${top}/lib/horae/${w}`, 0o644);
    }
    await copy(`${stage}/bundle/horae`, `${top}/lib/horae/horae`, 0o755);
    if (opts.deno) await copy(opts.deno, `${top}/lib/horae/deno`, 0o755);
    for (const link of ["chronyd", "chronyc", "horae"]) {
      await Deno.symlink("../lib/horae/horae", `${top}/bin/${link}`);
    }
    await copy(`${src}/chrony.conf`, `${top}/etc/chrony.conf`, 0o644);
    await copy(`${src}/horae.service`, `${top}/lib/systemd/system/horae.service`, 0o644);
    await copy(`${src}/horae.tmpfiles.conf`, `${top}/lib/tmpfiles.d/horae.conf`, 0o644);
    await copy(`${src}/install.sh`, `${top}/install.sh`, 0o755);
    const readme = (await Deno.readTextFile(`${src}/README`))
      .replaceAll("@VERSION@", VERSION).replaceAll("@ARCH@", Deno.build.arch);
    await Deno.writeTextFile(`${top}/README`, readme);
    await Deno.chmod(`${top}/README`, 0o644);
    for (
      const dir of [
        "",
        "/bin",
        "/etc",
        "/lib",
        "/lib/horae",
        "/lib/systemd",
        "/lib/systemd/system",
        "/lib/tmpfiles.d",
      ]
    ) {
      await Deno.chmod(`${top}${dir}`, 0o755);
    }

    await Deno.mkdir(opts.out, { recursive: true });
    const out = await Deno.realPath(opts.out);
    const tar = `${out}/${name}.tar`;
    await Deno.remove(`${tar}.gz`).catch(() => {});
    await run("tar", [
      "--create",
      "--file",
      tar,
      "--directory",
      stage,
      "--format=gnu",
      "--sort=name",
      `--mtime=@${await sourceDate()}`,
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      name,
    ]);
    await run("gzip", ["-n", "-9", "-f", tar]);
    return `${tar}.gz`;
  } finally {
    await Deno.remove(stage, { recursive: true });
  }
}

function usage(): never {
  console.error("usage: deno task package [--out DIR] [--with-deno]");
  Deno.exit(2);
}

if (import.meta.main) {
  const opts: PackageOptions = { out: `${root}/dist` };
  const args = [...Deno.args];
  while (args.length > 0) {
    const a = args.shift()!;
    if (a === "--out") opts.out = args.shift() ?? usage();
    else if (a.startsWith("--out=")) opts.out = a.slice("--out=".length);
    else if (a === "--with-deno") opts.deno = Deno.execPath();
    else usage();
  }
  try {
    const file = await buildPackage(opts);
    const sum = await crypto.subtle.digest("SHA-256", await Deno.readFile(file));
    const hex = Array.from(new Uint8Array(sum), (b) => b.toString(16).padStart(2, "0")).join("");
    console.log(`package: ${file}\npackage: sha256 ${hex}`);
  } catch (e) {
    console.error(`package: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
