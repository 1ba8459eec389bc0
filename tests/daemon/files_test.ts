import assert from "node:assert/strict";
import {
  FileWriteError,
  readBytesAsText,
  removeStaleFiles,
  strerror,
  writeFileAtomic,
} from "../../lib/daemon/files.ts";

async function withDir(f: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "horae-files-" });
  try {
    await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("atomic write goes through FILE.tmp (one fixed name, as chronyd) and leaves nothing behind", async () => {
  await withDir(async (dir) => {
    // A temporary file a killed writer left behind is replaced, not added to.
    await Deno.writeTextFile(`${dir}/drift.tmp`, "stale");
    writeFileAtomic(`${dir}/drift`, "1 2\n");
    writeFileAtomic(`${dir}/drift`, "3 4\n");
    assert.equal(await Deno.readTextFile(`${dir}/drift`), "3 4\n");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["drift"]);
  });
});

Deno.test("atomic write never follows a symlink planted at FILE.tmp", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/target`, "keep");
    await Deno.symlink(`${dir}/target`, `${dir}/drift.tmp`);
    writeFileAtomic(`${dir}/drift`, "1 2\n");
    assert.equal(await Deno.readTextFile(`${dir}/target`), "keep");
    assert.equal(await Deno.readTextFile(`${dir}/drift`), "1 2\n");
  });
});

Deno.test("atomic write failures: chronyd's words, no temporary file left", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/drift`);
    assert.throws(
      () => writeFileAtomic(`${dir}/drift`, "1 2\n"),
      (e: unknown) =>
        e instanceof FileWriteError &&
        e.message === `Could not replace ${dir}/drift with ${dir}/drift.tmp : Is a directory`,
    );
    assert.throws(
      () => writeFileAtomic(`${dir}/none/drift`, "1 2\n"),
      (e: unknown) =>
        e instanceof FileWriteError &&
        e.message === `Could not open ${dir}/none/drift.tmp : No such file or directory`,
    );
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["drift"]);
  });
});

Deno.test("start-up removes the stale temporary files of the daemon's files only", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/dump`);
    await Deno.mkdir(`${dir}/nts`);
    const stale = [
      "drift.tmp",
      "drift.tmp12345", // named after the PID by older horae versions
      "pid.tmp",
      "dump/127.0.0.1.dat.tmp",
      "nts/ntskeys.tmp",
      "nts/ntskeys.tmp999",
      "nts/ntp.example.net:4460.nts.tmp",
    ];
    const kept = ["drift", "other.tmp", "drift.tmpx", "dump/notes.tmp", "nts/x.tmp"];
    for (const f of [...stale, ...kept]) await Deno.writeTextFile(`${dir}/${f}`, "x");
    const debug: string[] = [];
    removeStaleFiles({
      driftFile: { path: `${dir}/drift` },
      pidFile: `${dir}/pid`,
      dumpDir: `${dir}/dump`,
      ntsDumpDir: `${dir}/nts`,
    }, { debug: (m) => debug.push(m) });
    for (const f of stale) await assert.rejects(() => Deno.stat(`${dir}/${f}`), f);
    for (const f of kept) await Deno.stat(`${dir}/${f}`);
    assert.equal(debug.length, stale.length);
  });
});

Deno.test("strerror drops Deno's tail; files read as bytes keep a BOM and NULs", async () => {
  assert.equal(
    strerror(new Error("Is a directory (os error 21): rename 'a' -> 'b'")),
    "Is a directory",
  );
  await withDir(async (dir) => {
    await Deno.writeFile(`${dir}/f`, Uint8Array.from([0xef, 0xbb, 0xbf, 0x31, 0, 0x32]));
    assert.equal(readBytesAsText(`${dir}/f`), "\u00ef\u00bb\u00bf1\u00002");
  });
});
