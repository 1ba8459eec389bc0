/**
 * `maxstratum`, `maxtxbuffers` and `minstratum` are not chrony directives
 * (chronyd 4.3 and 4.8 stop with "Invalid directive"; chrony.conf(5) 4.8 has
 * none of them; `minstratum` is only a source option): horae refuses them as it
 * refuses any unknown directive, naming the file and line.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../lib/conf/parse.ts";
import { ConfigError } from "../../lib/conf/config_error.ts";
import { CHRONYD48, haveChrony, haveChrony48 } from "../interop/harness.ts";

Deno.test("maxstratum is an invalid directive, as in chronyd 4.3 and 4.8", () => {
  assert.throws(() => parseConfig("maxstratum 3\n", { file: "c.conf" }), ConfigError);
});

Deno.test("maxtxbuffers is an invalid directive, as in chronyd 4.3 and 4.8", () => {
  assert.throws(() => parseConfig("maxtxbuffers 10\n", { file: "c.conf" }), ConfigError);
});

const MINSTRATUM_FILE = "pidfile /tmp/x.pid\nminstratum 3\n";

Deno.test("minstratum as a directive is refused with its file and line", () => {
  assert.throws(
    () => parseConfig(MINSTRATUM_FILE, { file: "c.conf" }),
    (e) => e instanceof ConfigError && e.message === 'c.conf:2: unknown directive "minstratum"',
  );
  // Still a source option.
  const c = parseConfig("server 127.0.0.1 minstratum 3\n", { file: "c.conf" });
  assert.equal(c.config.sources[0]?.minstratum, 3);
});

/** Runs a real chronyd's `-p` on the minstratum file; returns its exit code and stderr. */
async function chronydParse(binary: string): Promise<{ code: number; err: string }> {
  const dir = await Deno.makeTempDir({ prefix: "hL-minstratum-" });
  try {
    await Deno.chmod(dir, 0o700);
    const conf = `${dir}/c.conf`;
    await Deno.writeTextFile(conf, MINSTRATUM_FILE.replace("/tmp/x.pid", `${dir}/p.pid`));
    const out = await new Deno.Command(binary, {
      args: ["-x", "-u", "root", "-f", conf, "-p"],
      stdout: "null",
      stderr: "piped",
    }).output();
    return { code: out.code, err: new TextDecoder().decode(out.stderr).replaceAll(conf, "FILE") };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "chronyd 4.3 also refuses minstratum as a directive at line 2",
  ignore: !haveChrony(),
  async fn() {
    const r = await chronydParse("/usr/sbin/chronyd");
    assert.notEqual(r.code, 0);
    assert.match(r.err, /Fatal error : Invalid directive at line 2 in file FILE/);
  },
});

Deno.test({
  name: "chronyd 4.8 also refuses minstratum as a directive at line 2",
  ignore: !haveChrony48(),
  async fn() {
    const r = await chronydParse(CHRONYD48);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /Fatal error : Invalid directive minstratum at line 2 in file FILE/);
  },
});
