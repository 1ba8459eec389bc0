/**
 * Messages a user of the guides reads at start-up, in chronyd 4.3's words
 * (compared beside the real chronyd in tests/interop/guides_test.ts).
 */
import assert from "node:assert/strict";
import { defaultConfig } from "../../lib/conf/config.ts";
import { KeyStore } from "../../lib/daemon/keys.ts";
import { Logger } from "../../lib/daemon/log.ts";
import { ntsKeExchange, NtsKeTransportError } from "../../lib/io/nts_ke_client.ts";

Deno.test("a missing keyfile: 'Could not open keyfile PATH' and nothing more", () => {
  const lines: string[] = [];
  const log = new Logger({ sink: { lines }, level: 0, now: () => new Date(0) });
  const config = defaultConfig();
  config.keyFile = "/nonexistent/horae/chrony.keys";
  const keys = KeyStore.load(config, log);
  assert.equal(keys.size, 0);
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /Could not open keyfile \/nonexistent\/horae\/chrony\.keys\n?$/);
});

Deno.test("NTS-KE to a closed port: a connect error carrying the system's words", async () => {
  // a port nothing listens on: bind, note it, close
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const err = await ntsKeExchange({ host: "localhost", address: "127.0.0.1", port }).then(
    () => null,
    (e) => e,
  );
  assert.ok(err instanceof NtsKeTransportError, String(err));
  assert.equal(err.kind, "connect");
  assert.equal(err.reason, "Connection refused");
});
