import assert from "node:assert/strict";
import { DnsError, resolve } from "../../lib/io/dns.ts";

Deno.test("dns: localhost resolves through getaddrinfo to 127.0.0.1", async () => {
  const addrs = await resolve("localhost");
  assert.ok(addrs.includes("127.0.0.1"), `got ${addrs}`);
  assert.deepEqual(await resolve("localhost", "ipv4"), ["127.0.0.1"]);
});

Deno.test("dns: numeric addresses come back unchanged", async () => {
  assert.deepEqual(await resolve("192.0.2.7"), ["192.0.2.7"]);
  assert.deepEqual(await resolve("2001:db8::1", "ipv6"), ["2001:db8::1"]);
});

Deno.test("dns: a numeric address of the other family is NOT_FOUND", async () => {
  await assert.rejects(
    () => resolve("192.0.2.7", "ipv6"),
    (e: unknown) => e instanceof DnsError && e.code === "NOT_FOUND",
  );
});

Deno.test("dns: a name under .invalid is not found", async () => {
  await assert.rejects(
    () => resolve("no-such-host.invalid"),
    (e: unknown) =>
      e instanceof DnsError && (e.code === "NOT_FOUND" || e.code === "TRY_AGAIN") &&
      e.host === "no-such-host.invalid",
  );
});
