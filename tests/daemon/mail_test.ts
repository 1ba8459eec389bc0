import assert from "node:assert/strict";
import { mailOnChangeText, SENDMAIL_COMMAND } from "../../lib/daemon/mail.ts";
import { fromUnixSeconds } from "../../lib/time/timestamp.ts";

Deno.test("mailonchange: chronyd 4.3's message (as its sendmail got it) and command", () => {
  assert.equal(SENDMAIL_COMMAND, "/usr/lib/sendmail -t");
  // 2026-12-04T21:29:10Z, a Friday
  assert.equal(
    mailOnChangeText("root@localhost", "vm", fromUnixSeconds(1_796_419_750), -1, 0.5),
    "To: root@localhost\n" +
      "Subject: chronyd reports change to system clock on node [vm]\n\n" +
      "On Friday, 04 December 2026\n" +
      "  with the system clock reading 21:29:10 (UTC)\n\n" +
      "chronyd started to apply an adjustment of -1.000 seconds to it,\n" +
      "  which exceeded the reporting threshold of 0.500 seconds\n\n",
  );
});
