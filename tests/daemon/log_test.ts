import assert from "node:assert/strict";
import { Logger, logValue, MAX_LOG_MESSAGE, sanitizeLogMessage } from "../../lib/daemon/log.ts";

Deno.test("log messages: control characters escaped, so a value cannot forge a line", () => {
  const lines: string[] = [];
  const log = new Logger({ sink: { lines }, level: 0, now: () => new Date(0) });
  log.warn('unexpected "x\n1970-01-01T00:00:00Z Selected source 10.0.0.1\u001b[2J\u0085"');
  assert.deepEqual(lines, [
    '1970-01-01T00:00:00Z unexpected "x\\x0a1970-01-01T00:00:00Z Selected source 10.0.0.1\\x1b[2J\\x85"',
  ]);
});

Deno.test("log messages: a 10 MB value is cut to a bounded line", () => {
  const lines: string[] = [];
  const log = new Logger({ sink: { lines }, level: 0, now: () => new Date(0) });
  const huge = "k".repeat(10 * 1024 * 1024);
  log.warn(`Could not load NTS server keys : line 3: unexpected "${huge}"`);
  assert.equal(lines.length, 1);
  assert.ok(lines[0]!.length < MAX_LOG_MESSAGE + 100, `${lines[0]!.length}`);
  assert.match(lines[0]!, /\.\.\. \(\d+ more characters\)$/);
  // Cutting never splits an escape.
  const cut = sanitizeLogMessage("a".repeat(9) + "\u0001", 10);
  assert.equal(cut, "aaaaaaaaa... (1 more characters)");
  assert.equal(sanitizeLogMessage("plain"), "plain");
  assert.equal(logValue("x".repeat(100), 8), "xxxxxxxx...");
});
