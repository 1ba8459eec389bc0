import assert from "node:assert/strict";
import { formatConfig } from "../../lib/conf/format.ts";
import { loadConfigFile } from "../../lib/conf/load.ts";
import { sharedPath } from "../interop/harness.ts";

const CHRONYD = "/usr/sbin/chronyd";
const EXAMPLES = sharedPath("examples");

function available(): boolean {
  try {
    Deno.statSync(CHRONYD);
    Deno.statSync(EXAMPLES);
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "formatConfig prints exactly what the real chronyd -p prints for every example",
  ignore: !available(),
  fn() {
    const files = [...Deno.readDirSync(EXAMPLES)]
      .filter((e) => e.name.endsWith(".conf"))
      .map((e) => `${EXAMPLES}/${e.name}`)
      .sort();
    for (const path of files) {
      const out = new Deno.Command(CHRONYD, { args: ["-p", "-f", path], stderr: "null" })
        .outputSync();
      assert.equal(out.code, 0, path);
      const theirs = new TextDecoder().decode(out.stdout);
      assert.equal(formatConfig(loadConfigFile(path)), theirs, path);
    }
  },
});
