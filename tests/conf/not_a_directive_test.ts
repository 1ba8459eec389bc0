/**
 * `maxstratum` is not a chrony directive (chronyd 4.3 and 4.8 stop with
 * "Invalid directive"): horae refuses it as it refuses any unknown directive.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../lib/conf/parse.ts";
import { ConfigError } from "../../lib/conf/config_error.ts";

Deno.test("maxstratum is an invalid directive, as in chronyd 4.3 and 4.8", () => {
  assert.throws(() => parseConfig("maxstratum 3\n", { file: "c.conf" }), ConfigError);
});
