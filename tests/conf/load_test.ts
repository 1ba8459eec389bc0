import assert from "node:assert/strict";
import { ConfigError } from "../../lib/conf/config_error.ts";
import { formatConfig } from "../../lib/conf/format.ts";
import { loadConfigFile } from "../../lib/conf/load.ts";
import { sharedPath } from "../interop/harness.ts";

const EXAMPLES = sharedPath("examples");

function exampleFiles(): string[] {
  try {
    return [...Deno.readDirSync(EXAMPLES)]
      .filter((e) => e.isFile && e.name.endsWith(".conf"))
      .map((e) => `${EXAMPLES}/${e.name}`)
      .sort();
  } catch {
    return [];
  }
}

Deno.test({
  name: "every shipped example configuration parses without error",
  ignore: exampleFiles().length === 0,
  fn() {
    for (const path of exampleFiles()) {
      const r = loadConfigFile(path);
      assert.deepEqual(r.errors, [], path);
      assert.ok(r.directives.length > 0, path);
      assert.ok(formatConfig(r).length > 0, path);
    }
  },
});

Deno.test({
  name: "the lan-server example is understood in detail",
  ignore: exampleFiles().length === 0,
  fn() {
    const c = loadConfigFile(`${EXAMPLES}/lan-server.conf`).config;
    assert.deepEqual(c.sources.map((s) => [s.kind, s.iburst]), [
      ["pool", true],
      ["pool", true],
      ["pool", true],
    ]);
    assert.deepEqual(c.makestep, { threshold: 1, limit: 3 });
    assert.equal(c.minSources, 2);
    assert.equal(c.local?.orphan, true);
    assert.deepEqual(c.log, ["measurements", "statistics", "tracking"]);
  },
});

Deno.test("includes and confdirs are read from disk relative to real directories", () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.mkdirSync(`${dir}/d`);
    Deno.writeTextFileSync(`${dir}/d/a.conf`, "makestep 1 3\n");
    Deno.writeTextFileSync(`${dir}/d/b.sources`, "server 192.0.2.1\n");
    Deno.writeTextFileSync(
      `${dir}/main.conf`,
      `server a\nconfdir ${dir}/d\nsourcedir ${dir}/d\ninclude ${dir}/d/*.conf\n`,
    );
    const r = loadConfigFile(`${dir}/main.conf`);
    assert.deepEqual(r.config.makestep, { threshold: 1, limit: 3 });
    assert.deepEqual(r.config.sources.map((s) => s.name), ["a", "192.0.2.1"]);
    assert.equal(r.directives.filter((d) => d.name === "makestep").length, 2);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a missing main file is a ConfigError naming it", () => {
  assert.throws(
    () => loadConfigFile("/nonexistent/chrony.conf"),
    (e) => e instanceof ConfigError && e.file === "/nonexistent/chrony.conf",
  );
});
