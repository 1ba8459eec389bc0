/**
 * `maxstratum` and `maxtxbuffers` are not chrony directives (chronyd 4.3 and
 * 4.8 stop with "Invalid directive"; chrony.conf(5) 4.8 has neither): horae
 * refuses them as it refuses any unknown directive.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../lib/conf/parse.ts";
import { ConfigError } from "../../lib/conf/config_error.ts";

Deno.test("maxstratum is an invalid directive, as in chronyd 4.3 and 4.8", () => {
  assert.throws(() => parseConfig("maxstratum 3\n", { file: "c.conf" }), ConfigError);
});

Deno.test("maxtxbuffers is an invalid directive, as in chronyd 4.3 and 4.8", () => {
  assert.throws(() => parseConfig("maxtxbuffers 10\n", { file: "c.conf" }), ConfigError);
});
