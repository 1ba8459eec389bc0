/**
 * `deno task check:system`: the delivery checks that need a real systemd and a
 * container engine, run on this machine with Debian's packages only and
 * printing each step:
 *
 * 1. podman, runc and debootstrap (installed with apt-get when missing and
 *    root);
 * 2. a local Debian 12 base image `localhost/debmin:12` made with
 *    `debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus`
 *    (no image registry is needed; kept between runs, `--rebuild` remakes it);
 * 3. the package (`tools/package.ts --with-deno`) installed with install.sh in
 *    a container booted with systemd as PID 1; with a drop-in adding `-x`
 *    (containers get no CAP_SYS_TIME) the unit is started by its alias
 *    `chronyd` and by its name `horae`: active, running as `_chrony` with no
 *    capability left, socket and directories where tmpfiles.d puts them,
 *    `chronyc tracking` answers, `systemctl stop` ends it; without `-x` the
 *    daemon stops at start naming CAP_SYS_TIME;
 * 4. the image from `etc/container/Containerfile` built on that base and run
 *    as a sidecar (`-x`) sharing `/run/chrony` with a second container whose
 *    real chronyc (Debian's) reads `tracking` through the socket;
 * 5. sizes of the images.
 *
 * Containers run with `--network none` (nothing leaves the machine) and are
 * removed at the end; images are kept as a cache. Exit code 0 when every
 * check passed.
 *
 * @module
 */
import { VERSION } from "../lib/version.ts";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const BASE = "localhost/debmin:12";
const IMAGE = "localhost/horae:check";
const CLIENT = "localhost/horae-chronyc:check";
const PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"];
const ULIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"];
const dec = new TextDecoder();

let failures = 0;
function step(text: string) {
  console.log(`\n== ${text}`);
}
function check(what: string, ok: boolean, detail = "") {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${!ok && detail ? `\n     ${detail}` : ""}`);
  if (!ok) failures++;
}

async function sh(
  cmd: string[],
  opts: { input?: Uint8Array; allowFail?: boolean; quiet?: boolean } = {},
): Promise<{ code: number; out: string; err: string }> {
  const child = new Deno.Command(cmd[0]!, {
    args: cmd.slice(1),
    stdin: opts.input ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (opts.input) {
    const w = child.stdin.getWriter();
    await w.write(opts.input);
    await w.close();
  }
  const o = await child.output();
  const r = { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
  if (r.code !== 0 && !opts.allowFail) {
    throw new Error(`${cmd.join(" ")} exited ${r.code}: ${(r.err || r.out).trim().slice(-2000)}`);
  }
  if (!opts.quiet && r.code !== 0) console.log(`     (${cmd[0]} exited ${r.code})`);
  return r;
}

const podman = (args: string[], opts: Parameters<typeof sh>[1] = {}) =>
  sh([...PODMAN, ...args], opts);

function have(tool: string): boolean {
  for (const dir of ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]) {
    try {
      if (Deno.statSync(`${dir}/${tool}`).isFile) return true;
    } catch { /* next */ }
  }
  return false;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

async function tools() {
  step("tools: podman, runc, debootstrap");
  const missing = ["podman", "runc", "debootstrap"].filter((t) => !have(t));
  if (missing.length > 0) {
    if (Deno.uid() !== 0) throw new Error(`missing ${missing.join(" ")} (install them as root)`);
    console.log(`installing ${missing.join(" ")} with apt-get`);
    await sh(["apt-get", "update", "-qq"]);
    await sh(["apt-get", "install", "-y", "-qq", ...missing]);
  }
  check("tools present", ["podman", "runc", "debootstrap"].every(have));
}

async function baseImage(rebuild: boolean) {
  step(`base image ${BASE} (debootstrap minbase + systemd)`);
  const exists = (await podman(["image", "exists", BASE], { allowFail: true, quiet: true }))
    .code === 0;
  if (exists && !rebuild) {
    check("base image present (kept from an earlier run)", true);
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "horae-debootstrap-", dir: "/var/tmp" });
  try {
    const t0 = Date.now();
    await sh([
      "debootstrap",
      "--variant=minbase",
      "--include=systemd,systemd-sysv,dbus",
      "bookworm",
      `${dir}/root`,
    ]);
    const tar = new Deno.Command("tar", {
      args: ["-C", `${dir}/root`, "-c", "."],
      stdout: "piped",
    }).spawn();
    const imp = new Deno.Command(PODMAN[0]!, {
      args: [...PODMAN.slice(1), "import", "-", BASE],
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    await tar.stdout.pipeTo(imp.stdin);
    const r = await imp.output();
    check(`debootstrap and import (${((Date.now() - t0) / 1000).toFixed(0)} s)`, r.success);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function waitFor(what: string, f: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return true;
    await new Promise((r) => setTimeout(r, 500));
  }
  console.log(`     (timed out waiting for ${what})`);
  return false;
}

async function systemdUnit() {
  step("package under systemd: install.sh, the unit started by `chronyd` and by `horae`");
  const out = await Deno.makeTempDir({ prefix: "horae-syspkg-" });
  let cid = "";
  try {
    await sh([
      Deno.execPath(),
      "run",
      "-A",
      `${root}/tools/package.ts`,
      "--with-deno",
      "--out",
      out,
    ]);
    const tgz = `${out}/horae-${VERSION}-linux-${Deno.build.arch}.tar.gz`;
    cid = (await podman([
      "run",
      "-d",
      "--systemd=always",
      "--network",
      "none",
      ...ULIMITS,
      BASE,
      "/sbin/init",
    ])).out.trim();
    const exec = (cmd: string, allowFail = true) =>
      podman(["exec", cid, "sh", "-c", cmd], { allowFail, quiet: true });
    check(
      "systemd boots in the container",
      await waitFor("systemd", async () => {
        const s = (await exec("systemctl is-system-running")).out.trim();
        return s === "running" || s === "degraded";
      }, 60_000),
    );
    await podman(["cp", tgz, `${cid}:/tmp/horae.tgz`]);
    const inst = await exec(
      "cd /tmp && tar xzf horae.tgz && cd horae-*/ && ./install.sh PREFIX=/usr/local 2>&1",
    );
    check("install.sh", inst.code === 0, inst.out);
    check("user _chrony made by install.sh", (await exec("id -u _chrony")).code === 0);
    await exec("systemd-tmpfiles --create /usr/local/lib/tmpfiles.d/horae.conf");
    // Containers get no CAP_SYS_TIME: a drop-in runs the same command with -x.
    await exec(
      "mkdir -p /etc/systemd/system/horae.service.d && printf '%s\\n' '[Unit]' " +
        "'ConditionCapability=' '[Service]' 'ExecStart=' " +
        "'ExecStart=/usr/local/sbin/chronyd -n -x -u _chrony -f /etc/chrony/chrony.conf' " +
        "> /etc/systemd/system/horae.service.d/observe-only.conf && systemctl daemon-reload",
    );
    const hasAlias = (await exec("systemctl enable horae 2>&1 && systemctl cat chronyd.service"))
      .code === 0;
    check("the unit answers to chronyd.service (Alias=)", hasAlias);
    for (const name of hasAlias ? ["chronyd", "horae"] : ["horae"]) {
      const started = await exec(`systemctl start ${name}`);
      check(`systemctl start ${name}`, started.code === 0, started.out + started.err);
      const active = await waitFor(
        "active and serving",
        async () =>
          (await exec("systemctl is-active horae")).out.trim() === "active" &&
          (await exec("/usr/local/bin/chronyc -n tracking")).code === 0,
        30_000,
      );
      check(`${name}: active, chronyc tracking answers`, active);
      const type = (await exec("systemctl show -p Type --value horae")).out.trim();
      check(`${name}: Type=notify, started only after READY=1`, type === "notify");
      const pid = (await exec("systemctl show -p MainPID --value horae")).out.trim();
      const status = (await exec(`cat /proc/${pid}/status`)).out;
      const uid = (await exec("id -u _chrony")).out.trim();
      check(`${name}: runs as _chrony`, new RegExp(`^Uid:\\s+${uid}\\s`, "m").test(status));
      check(`${name}: no capability left`, /^CapEff:\s+0+$/m.test(status), status);
      const sock = (await exec("stat -c '%a %U %G' /run/chrony/chronyd.sock")).out.trim();
      check(
        `${name}: /run/chrony/chronyd.sock 755 _chrony _chrony`,
        sock === "755 _chrony _chrony",
      );
      const stopped = await exec("systemctl stop horae && systemctl is-active horae");
      check(`${name}: systemctl stop ends it`, stopped.out.trim() === "inactive");
      const journal = (await exec("journalctl -u horae --no-pager -n 5")).out;
      check(`${name}: it logged its exit`, /chronyd exiting/.test(journal), journal);
    }
    const noCap = await exec("/usr/local/sbin/chronyd -d -f /etc/chrony/chrony.conf 2>&1");
    check(
      "without -x (no CAP_SYS_TIME): fatal at start, naming CAP_SYS_TIME and -x",
      noCap.code !== 0 && /CAP_SYS_TIME.*-x/.test(noCap.out),
      noCap.out,
    );
  } finally {
    if (cid) await podman(["rm", "-f", "-t", "2", cid], { allowFail: true, quiet: true });
    await Deno.remove(out, { recursive: true }).catch(() => {});
  }
}

async function sidecar() {
  step("container image: etc/container/Containerfile on the local base, run as a sidecar");
  // npm runs inside the build: hand it this machine's CA bundle, which also
  // holds any TLS-intercepting proxy's CA (harmless where there is none).
  const ca = [Deno.env.get("NODE_EXTRA_CA_CERTS"), "/etc/ssl/certs/ca-certificates.crt"].find(
    (p) => p !== undefined && isFile(p),
  );
  const t0 = Date.now();
  const built = await podman([
    "build",
    "--build-arg",
    `BASE=${BASE}`,
    ...(ca ? ["--secret", `id=npmca,src=${ca}`] : []),
    "-f",
    `${root}/etc/container/Containerfile`,
    "-t",
    IMAGE,
    root,
  ], { allowFail: true });
  check(`podman build (${((Date.now() - t0) / 1000).toFixed(0)} s)`, built.code === 0, built.err);
  if (built.code !== 0) return;
  // The other side of the sidecar: Debian's own chronyc.
  const ctx = await Deno.makeTempDir({ prefix: "horae-chronyc-img-" });
  await Deno.writeTextFile(
    `${ctx}/Containerfile`,
    `FROM ${BASE}\nRUN printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && ` +
      "chmod +x /usr/sbin/policy-rc.d && apt-get update -qq && " +
      "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chrony " +
      ">/dev/null && rm -rf /var/lib/apt/lists/*\n",
  );
  const client = await podman(["build", "-t", CLIENT, ctx], { allowFail: true });
  await Deno.remove(ctx, { recursive: true });
  check("client image with Debian's chronyc", client.code === 0, client.err);
  const vol = `horae-check-run-${Deno.pid}`;
  const name = `horae-check-sidecar-${Deno.pid}`;
  await podman(["volume", "create", vol], { quiet: true });
  try {
    await podman([
      "run",
      "-d",
      "--name",
      name,
      "--network",
      "none",
      ...ULIMITS,
      "-v",
      `${vol}:/run/chrony`,
      IMAGE,
      "chronyd",
      "-d",
      "-x",
      "-f",
      "/etc/chrony/chrony.conf",
    ]);
    const tracking = () =>
      podman([
        "run",
        "--rm",
        "--network",
        "none",
        ...ULIMITS,
        "-v",
        `${vol}:/run/chrony`,
        CLIENT,
        "chronyc",
        "-n",
        "tracking",
      ], { allowFail: true, quiet: true });
    let last = { code: 1, out: "", err: "" };
    const ok = await waitFor("the sidecar's socket", async () => {
      last = await tracking();
      return last.code === 0 && /^Reference ID/m.test(last.out);
    }, 30_000);
    check("the real chronyc in another container reads tracking through /run/chrony", ok, last.err);
    await podman(["stop", "-t", "5", name], { allowFail: true, quiet: true });
    const logs = (await podman(["logs", name], { allowFail: true, quiet: true })).err;
    check("the sidecar stops cleanly", /chronyd exiting/.test(logs), logs.slice(-500));
    await podman(["rm", "-f", name], { allowFail: true, quiet: true });
    const noCap = await podman(
      ["run", "--rm", "--network", "none", ...ULIMITS, IMAGE],
      { allowFail: true, quiet: true },
    );
    check(
      "the image's default command without CAP_SYS_TIME: fatal, naming CAP_SYS_TIME and -x",
      noCap.code !== 0 && /CAP_SYS_TIME.*-x/.test(noCap.out + noCap.err),
      noCap.out + noCap.err,
    );
  } finally {
    await podman(["rm", "-f", name], { allowFail: true, quiet: true });
    await podman(["volume", "rm", "-f", vol], { allowFail: true, quiet: true });
  }
}

async function sizes() {
  step("sizes");
  for (const img of [BASE, IMAGE, CLIENT]) {
    const r = await podman(["image", "inspect", "--format", "{{.Size}}", img], {
      allowFail: true,
      quiet: true,
    });
    if (r.code === 0) console.log(`${img}: ${(Number(r.out.trim()) / 1e6).toFixed(0)} MB`);
  }
}

if (import.meta.main) {
  const rebuild = Deno.args.includes("--rebuild");
  try {
    await tools();
    await baseImage(rebuild);
    await systemdUnit();
    await sidecar();
    await sizes();
  } catch (e) {
    console.log(`FAIL ${(e as Error).message}`);
    failures++;
  }
  console.log(`\ncheck:system: ${failures === 0 ? "all checks passed" : `${failures} failed`}`);
  Deno.exit(failures === 0 ? 0 : 1);
}
