import assert from "node:assert/strict";
import { listenFdRange, SocketPool } from "../../lib/net/socket_activation.ts";

Deno.test("LISTEN_FDS: descriptors from 3; LISTEN_PID not checked (as chronyd 4.8)", () => {
  assert.deepEqual(listenFdRange({ LISTEN_FDS: "2" }), { first: 3, count: 2 });
  assert.deepEqual(listenFdRange({ LISTEN_FDS: "1", LISTEN_PID: "1" }), { first: 3, count: 1 });
  for (const bad of [undefined, "", "0", "-1", "2x", " 2", "1e3"]) {
    assert.equal(listenFdRange({ LISTEN_FDS: bad }), null, String(bad));
  }
  assert.equal(listenFdRange({ LISTEN_FDS: "999999" })?.count, 1024, "bounded");
});

Deno.test("socket pool: same family, type, address and port; each taken once", () => {
  const pool = new SocketPool([
    { fd: 3, family: "ipv4", type: "dgram", address: "127.0.0.1", port: 123 },
    { fd: 4, family: "ipv6", type: "dgram", address: "::1", port: 123 },
    { fd: 5, family: "ipv4", type: "stream", address: "127.0.0.1", port: 4460 },
    { fd: 6, family: "ipv4", type: "dgram", address: "127.0.0.1", port: 9999 },
  ]);
  assert.equal(pool.take("ipv4", "dgram", "0.0.0.0", 123), null, "the wildcard is another address");
  assert.equal(pool.take("ipv4", "stream", "127.0.0.1", 123), null, "another type");
  assert.equal(pool.take("ipv6", "dgram", "0:0::1", 123), 4, "addresses compared canonically");
  assert.equal(pool.take("ipv4", "dgram", "127.0.0.1", 0), null, "port 0: any port, never taken");
  assert.equal(pool.take("ipv4", "dgram", "127.0.0.1", 123), 3);
  assert.equal(pool.take("ipv4", "dgram", "127.0.0.1", 123), null, "taken once");
  assert.equal(pool.take("ipv4", "stream", "127.0.0.1", 4460), 5);
  assert.deepEqual(pool.untaken.map((s) => s.fd), [6], "left open, as chronyd 4.8 leaves them");
});
