/**
 * NTP-over-PTP framing against datagrams recorded from chronyd 4.3 on
 * loopback (`ptpport`): a client request (strace of its sendmsg) and the
 * server's answer to it.
 */
import assert from "node:assert/strict";
import { decodeNtpOverPtp, encodeNtpOverPtp, PTP_NTP_OFFSET } from "../../lib/ntp/ptp.ts";

const hex = (s: string) => new Uint8Array(s.match(/../g)!.map((b) => parseInt(b, 16)));

/** chronyd 4.3 client request, 96 bytes. */
const REQUEST = hex(
  "010200607b000400000000000000000000000000000000000000000000000000000000000000000000000000" +
    "2023003023000020000000000000000000000000000000000000000000000000000000000000000000000000" +
    "a6bfaff124ce461f",
);
/** chronyd 4.3 server (local stratum 1) reply to it. */
const REPLY = hex(
  "010200607b000400000000000000000000000000000000000000000000000000000000000000000000000000" +
    "20230030240100e600000000000000007f7f0101eebdadc1b23ea6e6a6bfaff124ce461feebdadc2e5eeeb09" +
    "eebdadc2e5f3c750",
);

Deno.test("NTP-over-PTP: chronyd's request and reply decode to their NTP messages", () => {
  assert.equal(REQUEST.length, 96);
  const req = decodeNtpOverPtp(REQUEST)!;
  assert.equal(req.length, 48);
  assert.equal(req[0], 0x23); // LI 0, VN 4, mode 3
  const rep = decodeNtpOverPtp(REPLY)!;
  assert.equal(rep[0], 0x24); // mode 4
  assert.equal(rep[1], 1); // stratum 1
  // the reply's origin timestamp is the request's transmit timestamp
  assert.deepEqual(rep.subarray(24, 32), req.subarray(40, 48));
  // our encoder writes chronyd's bytes exactly
  assert.deepEqual(encodeNtpOverPtp(req), REQUEST);
  assert.deepEqual(encodeNtpOverPtp(rep), REPLY);
  assert.equal(PTP_NTP_OFFSET, 48);
});

Deno.test("NTP-over-PTP: what chronyd 4.3 ignores is refused", () => {
  const bad = (f: (b: Uint8Array) => void) => {
    const b = REQUEST.slice();
    f(b);
    return decodeNtpOverPtp(b);
  };
  assert.equal(bad((b) => (b[4] = 7)), null); // another domain
  assert.equal(decodeNtpOverPtp(REQUEST, 7), null);
  assert.notEqual(decodeNtpOverPtp(encodeNtpOverPtp(decodeNtpOverPtp(REQUEST)!, 7), 7), null);
  assert.equal(bad((b) => (b[6] = 0)), null); // not unicast
  assert.equal(bad((b) => (b[0] = 0)), null); // Sync, not Delay_Req
  assert.equal(bad((b) => (b[0] = 0x11)), null); // transportSpecific set
  assert.equal(bad((b) => (b[1] = 0x12)), null); // minorVersionPTP set
  assert.equal(bad((b) => (b[3] = 0x61)), null); // messageLength off
  assert.equal(bad((b) => (b[45] = 0x24)), null); // another TLV
  assert.equal(decodeNtpOverPtp(REQUEST.subarray(PTP_NTP_OFFSET)), null); // plain NTP
  assert.equal(decodeNtpOverPtp(new Uint8Array(0)), null);
  // a correction field (a transparent clock's) is accepted and ignored
  assert.notEqual(bad((b) => (b[13] = 0x10)), null);
});
