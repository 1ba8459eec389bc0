/**
 * `deno task package` end to end: the tarball's files, modes and
 * reproducibility; install.sh into a DESTDIR (never the real system), the
 * installed `chronyd -v` / `chronyc -v` / `chronyd -p -f` on the installed
 * configuration; the unit's `-u _chrony` and the tmpfiles owners; install.sh
 * with DESTDIR printing the `_chrony` user step instead of running it; install.sh keeping an existing configuration and refusing to
 * replace another chronyd; the unit's alias chronyd.service; `systemd-analyze
 * verify` on the installed unit (by both names) when systemd-analyze exists.
 */
import assert from "node:assert/strict";
import { VERSION } from "../../lib/version.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const NAME = `horae-${VERSION}-linux-${Deno.build.arch}`;
/** The pinned Deno running this test: what the installed launchers run. */
const DENO = Deno.execPath();

async function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  cwd = "/tmp",
) {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", env, cwd })
    .output();
  const dec = new TextDecoder();
  return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
}

async function ok(cmd: string, args: string[], env: Record<string, string> = {}, cwd = "/tmp") {
  const r = await run(cmd, args, env, cwd);
  assert.equal(r.code, 0, `${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** Builds the package into `dir` through the task's script, as `deno task package --out`. */
async function buildInto(dir: string, epoch: string): Promise<string> {
  const out = await ok(DENO, ["run", "-A", `${ROOT}/tools/package.ts`, "--out", dir], {
    SOURCE_DATE_EPOCH: epoch,
  });
  assert.match(out, /package: sha256 [0-9a-f]{64}/);
  return `${dir}/${NAME}.tar.gz`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("deno task package: tarball, install.sh into DESTDIR, installed chronyd runs", async (t) => {
  const tmp = await Deno.makeTempDir({ prefix: "horae-package-test-" });
  try {
    const tarball = await buildInto(`${tmp}/dist`, "1700000000");

    await t.step("the tarball lists every file with its mode, owner 0:0, one mtime", async () => {
      const listing = await ok("tar", [
        "--list",
        "--verbose",
        "--numeric-owner",
        "--full-time",
        "--file",
        tarball,
      ], { TZ: "UTC" });
      const entries = new Map<
        string,
        { mode: string; owner: string; time: string; link?: string }
      >();
      for (const line of listing.trim().split("\n")) {
        // -rw-r--r-- 0/0   1535 2023-11-14 22:13:20 horae-.../etc/chrony.conf
        const m = line.match(/^(\S+) (\S+)\s+\d+ (\S+ \S+) (.+?)(?: -> (.+))?$/);
        assert.ok(m, line);
        const [, mode, owner, time, name, link] = m;
        entries.set(name!.replace(/\/$/, ""), {
          mode: mode!,
          owner: owner!,
          time: time!,
          ...(link ? { link } : {}),
        });
      }
      const want: Record<string, string> = {
        [NAME]: "drwxr-xr-x",
        [`${NAME}/README`]: "-rw-r--r--",
        [`${NAME}/install.sh`]: "-rwxr-xr-x",
        [`${NAME}/bin`]: "drwxr-xr-x",
        [`${NAME}/bin/chronyd`]: "lrwxrwxrwx",
        [`${NAME}/bin/chronyc`]: "lrwxrwxrwx",
        [`${NAME}/bin/horae`]: "lrwxrwxrwx",
        [`${NAME}/etc`]: "drwxr-xr-x",
        [`${NAME}/etc/chrony.conf`]: "-rw-r--r--",
        [`${NAME}/lib`]: "drwxr-xr-x",
        [`${NAME}/lib/horae`]: "drwxr-xr-x",
        [`${NAME}/lib/horae/horae`]: "-rwxr-xr-x",
        [`${NAME}/lib/horae/horae.js`]: "-rw-r--r--",
        [`${NAME}/lib/horae/nts_ke_helper_worker.ts`]: "-rw-r--r--",
        [`${NAME}/lib/horae/server_worker.ts`]: "-rw-r--r--",
        [`${NAME}/lib/systemd`]: "drwxr-xr-x",
        [`${NAME}/lib/systemd/system`]: "drwxr-xr-x",
        [`${NAME}/lib/systemd/system/horae.service`]: "-rw-r--r--",
        [`${NAME}/lib/tmpfiles.d`]: "drwxr-xr-x",
        [`${NAME}/lib/tmpfiles.d/horae.conf`]: "-rw-r--r--",
      };
      assert.deepEqual([...entries.keys()].sort(), Object.keys(want).sort());
      for (const [name, mode] of Object.entries(want)) {
        const e = entries.get(name)!;
        assert.equal(e.mode, mode, name);
        assert.equal(e.owner, "0/0", name);
        assert.equal(e.time, "2023-11-14 22:13:20", name);
      }
      for (const link of ["chronyd", "chronyc", "horae"]) {
        assert.equal(entries.get(`${NAME}/bin/${link}`)!.link, "../lib/horae/horae");
      }
    });

    await t.step("the same sources and SOURCE_DATE_EPOCH give the same bytes", async () => {
      const again = await buildInto(`${tmp}/dist2`, "1700000000");
      assert.deepEqual(await Deno.readFile(again), await Deno.readFile(tarball));
    });

    await ok("tar", ["--extract", "--gzip", "--file", tarball, "--directory", tmp]);
    const pkg = `${tmp}/${NAME}`;
    const dest = `${tmp}/root`;
    // Stand-ins for the tools that change the system's users, first in PATH: a
    // DESTDIR install must not run them (if it did, they only leave a mark).
    await Deno.mkdir(`${tmp}/fakebin`);
    for (const tool of ["useradd", "adduser", "groupadd", "addgroup"]) {
      await Deno.writeTextFile(
        `${tmp}/fakebin/${tool}`,
        `#!/bin/sh\necho "${tool} $*" >>'${tmp}/user-tools-called'\nexit 1\n`,
        { mode: 0o755 },
      );
    }
    const fakePath = `${tmp}/fakebin:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`;

    await t.step("shipped unit, tmpfiles snippet and configuration", async () => {
      const unit = await Deno.readTextFile(`${pkg}/lib/systemd/system/horae.service`);
      assert.match(
        unit,
        /^ExecStart=\/usr\/local\/sbin\/chronyd -n -u _chrony -f \/etc\/chrony\/chrony.conf$/m,
      );
      // systemd would chown these to the unit's User= (root) at every start.
      assert.doesNotMatch(unit, /^(Runtime|State|Logs)Directory=/m);
      assert.match(unit, /^ProtectSystem=strict$/m);
      assert.match(unit, /^ProtectHome=yes$/m);
      assert.match(unit, /^PrivateTmp=yes$/m);
      assert.match(unit, /^ReadWritePaths=\/var\/lib\/chrony \/var\/log\/chrony \/run\/chrony$/m);
      assert.match(
        unit,
        /^CapabilityBoundingSet=CAP_SYS_TIME CAP_NET_BIND_SERVICE CAP_SETUID CAP_SETGID CAP_CHOWN CAP_DAC_OVERRIDE$/m,
      );
      const tmpfiles = await Deno.readTextFile(`${pkg}/lib/tmpfiles.d/horae.conf`);
      const dirs = tmpfiles.split("\n").filter((l) => l.startsWith("d ")).sort();
      assert.deepEqual(dirs, [
        "d /run/chrony 0750 _chrony _chrony -",
        "d /var/lib/chrony 0755 _chrony _chrony -",
        "d /var/log/chrony 0755 _chrony _chrony -",
      ]);
      const conf = await Deno.readTextFile(`${pkg}/etc/chrony.conf`);
      for (const d of ["pool ", "makestep ", "rtcsync", "driftfile ", "ntsdumpdir ", "logdir "]) {
        assert.match(conf, new RegExp(`^${d}`, "m"), d);
      }
      const readme = await Deno.readTextFile(`${pkg}/README`);
      assert.ok(readme.startsWith(`horae ${VERSION} for Linux (${Deno.build.arch})`));
    });

    await t.step("the unpacked package runs in place", async () => {
      const v = await ok(`${pkg}/bin/chronyd`, ["-v"], { DENO });
      assert.match(v, /^chronyd \(horae\) version /);
    });

    await t.step("the packaged daemon is chronyd in /proc/PID/comm and argv[0]", async () => {
      const dir = `${tmp}/named`;
      await Deno.mkdir(dir, { mode: 0o700 });
      await Deno.writeTextFile(
        `${dir}/c.conf`,
        `port 0\ncmdport 0\nbindcmdaddress ${dir}/s.sock\npidfile ${dir}/p.pid\n`,
      );
      const child = new Deno.Command(`${pkg}/bin/chronyd`, {
        args: ["-d", "-x", "-f", `${dir}/c.conf`],
        env: { DENO },
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        for (let i = 0; i < 100 && !(await exists(`${dir}/p.pid`)); i++) {
          await new Promise((res) => setTimeout(res, 50));
        }
        const comm = (await Deno.readTextFile(`/proc/${child.pid}/comm`)).trim();
        const argv0 = (await Deno.readTextFile(`/proc/${child.pid}/cmdline`)).split("\0")[0]!;
        assert.deepEqual([comm, argv0], ["chronyd", "chronyd"]);
      } finally {
        child.kill("SIGTERM");
        await child.status;
      }
    });

    await t.step("install.sh DESTDIR=... PREFIX=/usr installs only under DESTDIR", async () => {
      // CREATE_USER=1 too: with DESTDIR the system's users are never touched.
      const out = await ok("sh", [`${pkg}/install.sh`], {
        DESTDIR: dest,
        PREFIX: "/usr",
        CREATE_USER: "1",
        PATH: fakePath,
      });
      assert.doesNotMatch(out, /systemctl/); // next steps only without DESTDIR
      assert.match(
        out,
        /^install: user _chrony: not created \(DESTDIR\); on the target system, if missing, run: (useradd --system --user-group --home-dir \/var\/lib\/chrony|adduser --system --group --home \/var\/lib\/chrony) .*_chrony$/m,
      );
      assert.equal(await exists(`${tmp}/user-tools-called`), false, "useradd/adduser ran");
      for (
        const f of [
          "usr/lib/horae/horae.js",
          "usr/lib/horae/server_worker.ts",
          "usr/lib/horae/nts_ke_helper_worker.ts",
          "usr/share/doc/horae/README",
        ]
      ) {
        assert.equal((await Deno.stat(`${dest}/${f}`)).mode! & 0o777, 0o644, f);
      }
      assert.equal((await Deno.stat(`${dest}/usr/lib/horae/horae`)).mode! & 0o777, 0o755);
      assert.equal(await Deno.readLink(`${dest}/usr/sbin/chronyd`), "../lib/horae/horae");
      assert.equal(await Deno.readLink(`${dest}/usr/bin/chronyc`), "../lib/horae/horae");
      assert.equal(await Deno.readLink(`${dest}/usr/bin/horae`), "../lib/horae/horae");
      const unit = await Deno.readTextFile(`${dest}/usr/lib/systemd/system/horae.service`);
      assert.match(
        unit,
        /^ExecStart=\/usr\/sbin\/chronyd -n -u _chrony -f \/etc\/chrony\/chrony.conf$/m,
      );
      assert.doesNotMatch(unit, /\/usr\/local/);
      // Also chronyd.service (`systemctl restart chronyd`), not conflicting with itself.
      assert.match(unit, /^\[Install\][^[]*^Alias=chronyd\.service$/m);
      assert.doesNotMatch(unit, /^Conflicts=.*\bchronyd\.service/m);
      assert.equal(
        await Deno.readLink(`${dest}/usr/lib/systemd/system/chronyd.service`),
        "horae.service",
      );
      assert.ok(await exists(`${dest}/usr/lib/tmpfiles.d/horae.conf`));
      assert.ok(await exists(`${dest}/etc/chrony/chrony.conf`));
    });

    await t.step(
      "installed chronyd -v, chronyc -v, chronyd -p -f the installed chrony.conf",
      async () => {
        const v = await ok(`${dest}/usr/sbin/chronyd`, ["-v"], { DENO });
        assert.match(v, new RegExp(`^chronyd \\(horae\\) version ${VERSION} `));
        const c = await ok(`${dest}/usr/bin/chronyc`, ["-v"], { DENO });
        assert.match(c, new RegExp(`^chronyc \\(horae\\) version ${VERSION} `));
        const p = await ok(`${dest}/usr/sbin/chronyd`, [
          "-p",
          "-f",
          `${dest}/etc/chrony/chrony.conf`,
        ], {
          DENO,
        });
        for (
          const d of [
            "pool pool.ntp.org iburst",
            "makestep 1 3",
            "rtcsync",
            "logdir /var/log/chrony",
          ]
        ) {
          assert.ok(p.includes(d), `${d} in:\n${p}`);
        }
      },
    );

    await t.step(
      "a second install keeps chrony.conf; another chronyd is not replaced",
      async () => {
        await Deno.writeTextFile(`${dest}/etc/chrony/chrony.conf`, "server 192.0.2.1\n");
        const again = await ok("sh", [`${pkg}/install.sh`, `DESTDIR=${dest}`, "PREFIX=/usr"], {
          PATH: fakePath,
        });
        assert.match(again, /user _chrony: not created \(DESTDIR\)/);
        assert.equal(await exists(`${tmp}/user-tools-called`), false, "useradd/adduser ran");
        assert.equal(
          await Deno.readTextFile(`${dest}/etc/chrony/chrony.conf`),
          "server 192.0.2.1\n",
        );
        assert.ok(await exists(`${dest}/etc/chrony/chrony.conf.horae`));

        const other = `${tmp}/other`;
        await Deno.mkdir(`${other}/usr/sbin`, { recursive: true });
        await Deno.writeTextFile(`${other}/usr/sbin/chronyd`, "#!/bin/sh\n", { mode: 0o755 });
        const r = await run("sh", [`${pkg}/install.sh`], { DESTDIR: other, PREFIX: "/usr" });
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /not horae's/);
        assert.equal(await Deno.readTextFile(`${other}/usr/sbin/chronyd`), "#!/bin/sh\n");
      },
    );

    await t.step("systemd-analyze verify accepts the installed unit", async () => {
      const which = await run("sh", ["-c", "command -v systemd-analyze"]);
      if (which.code !== 0) {
        console.log("skipped: no systemd-analyze");
        return;
      }
      // Point ExecStart at the DESTDIR copy so verify checks our chronyd, not the host's.
      const unit = (await Deno.readTextFile(`${dest}/usr/lib/systemd/system/horae.service`))
        .replaceAll("/usr/sbin/chronyd", `${dest}/usr/sbin/chronyd`);
      await Deno.mkdir(`${tmp}/verify`);
      await Deno.writeTextFile(`${tmp}/verify/horae.service`, unit);
      await Deno.symlink("horae.service", `${tmp}/verify/chronyd.service`);
      for (const name of ["horae.service", "chronyd.service"]) {
        const r = await run("systemd-analyze", ["verify", `${tmp}/verify/${name}`]);
        assert.equal(r.code, 0, `${name}: ${r.stderr}`);
        const complaints = r.stderr.split("\n").filter((l) => /(horae|chronyd)\.service/.test(l));
        assert.deepEqual(complaints, [], r.stderr);
      }
    });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
