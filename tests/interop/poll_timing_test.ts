/**
 * Issue 16.6: iburst spacing and the back-off of unanswered sources, horae
 * beside the real chronyd 4.3. Two fake servers on loopback, one that answers
 * and one that never does, are each polled (`minpoll 0 maxpoll 2 iburst`) by
 * a chronyd and a horae daemon of their own. The servers log when each
 * request arrives, its poll field and source port; both daemons must send
 * the same sequence.
 */
import assert from "node:assert/strict";
import { freePort, haveChrony, runCommand, startChronyd, startHorae } from "./harness.ts";
import { UdpSocket } from "../../lib/io/udp.ts";
import { realNow } from "../../lib/io/realtime.ts";
import {
  decodePacket,
  encodePacket,
  MODE_SERVER,
  newPacket,
  timestampToNtp,
} from "../../lib/ntp/packet.ts";
import { ntp64Bits } from "../../lib/time/timestamp.ts";

interface Arrival {
  at: number; // s since the first request
  poll: number;
  port: number;
}

/** A fake NTP server on `address:port` that logs requests and answers when `answer`. */
function fakeServer(address: string, port: number, answer: boolean) {
  const sock = UdpSocket.open({ family: "ipv4", address, port });
  const log: Arrival[] = [];
  let first = 0n;
  sock.onPacket((bytes, from) => {
    const now = realNow();
    if (log.length === 0) first = now;
    const q = decodePacket(bytes);
    log.push({ at: Number(now - first) / 1e9, poll: q.poll, port: from.port });
    if (!answer) return;
    const t = timestampToNtp(realNow());
    sock.send(
      encodePacket({
        ...newPacket(),
        mode: MODE_SERVER,
        stratum: 1,
        poll: q.poll,
        precision: -20,
        referenceId: 0x47505300,
        referenceTs: ntp64Bits(t - (10n << 32n)),
        originTs: q.transmitTs,
        receiveTs: t,
        transmitTs: t,
      }),
      from,
    );
  });
  return { log, close: () => sock.close() };
}

/**
 * The two daemons send on the same schedule: each request's time since the first, horae
 * against chronyd, within chronyd's random ~2 % plus scheduling slack under load. Times are
 * compared after removing the median difference, so one request sent late (a busy machine,
 * or the first one delayed by start-up) moves only its own time, not every later interval.
 */
function assertSchedule(horae: Arrival[], chronyd: Arrival[], what: string) {
  assert.equal(horae.length, chronyd.length, what);
  const d = horae.map((h, i) => h.at - chronyd[i]!.at).sort((a, b) => a - b);
  const shift = d[Math.floor(d.length / 2)]!;
  horae.forEach((h, i) => {
    const c = chronyd[i]!.at;
    assert.ok(
      Math.abs(h.at - shift - c) <= 0.04 * c + 0.15,
      `${what} request ${i + 1}: horae at ${h.at.toFixed(3)} s, chronyd at ${c.toFixed(3)} s ` +
        `(schedules aligned by ${shift.toFixed(3)} s)`,
    );
  });
}

Deno.test({
  name: "interop: iburst spacing and back-off of a silent server match chronyd 4.3",
  ignore: !haveChrony(),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // chronyd and horae each get their own pair of servers (127.0.0.2/3 and .4/.5)
    const ports = [freePort(), freePort()];
    const servers = {
      chronyd: {
        good: fakeServer("127.0.0.2", ports[0]!, true),
        silent: fakeServer("127.0.0.3", ports[1]!, false),
      },
      horae: {
        good: fakeServer("127.0.0.4", ports[0]!, true),
        silent: fakeServer("127.0.0.5", ports[1]!, false),
      },
    };
    const opts = "minpoll 0 maxpoll 2 iburst";
    // One source per daemon: chronyd spaces the requests of different sources
    // apart, which would shift its schedule.
    const [chronydGood, chronydSilent, horaeGood, horaeSilent] = await Promise.all([
      startChronyd({ lines: [`server 127.0.0.2 port ${ports[0]} ${opts}`] }),
      startChronyd({ lines: [`server 127.0.0.3 port ${ports[1]} ${opts}`] }),
      startHorae([`server 127.0.0.4 port ${ports[0]} ${opts}`]),
      startHorae([`server 127.0.0.5 port ${ports[1]} ${opts}`]),
    ]);
    try {
      // the silent servers' 10th request comes ~8.5 s after the first
      const deadline = Date.now() + 20_000;
      while (
        (servers.chronyd.silent.log.length < 10 || servers.horae.silent.log.length < 10) &&
        Date.now() < deadline
      ) await new Promise((r) => setTimeout(r, 100));
      const c = servers.chronyd, h = servers.horae;
      const silentC = c.silent.log.slice(0, 10), silentH = h.silent.log.slice(0, 10);
      console.log("chronyd silent", silentC.map((a) => `${a.at.toFixed(2)}/${a.poll}`).join(" "));
      console.log("horae   silent", silentH.map((a) => `${a.at.toFixed(2)}/${a.poll}`).join(" "));
      assert.equal(silentH.length, 10, "horae sent fewer than 10 requests to the silent server");
      // poll fields: 0 x5 (iburst), 1 x4, then 2: the same for both
      assert.deepEqual(silentH.map((a) => a.poll), silentC.map((a) => a.poll));
      assertSchedule(silentH, silentC, "silent");
      // answered iburst: 4 requests 0.25 s apart, then the poll interval (1 s)
      const goodC = c.good.log.slice(0, 6), goodH = h.good.log.slice(0, 6);
      console.log("chronyd good", goodC.map((a) => `${a.at.toFixed(2)}/${a.poll}`).join(" "));
      console.log("horae   good", goodH.map((a) => `${a.at.toFixed(2)}/${a.poll}`).join(" "));
      assertSchedule(goodH, goodC, "answered");
      // `chronyc -n sources` shows the same Poll for the silent source (2: maxpoll)
      const pollOf = async (sock: string) => {
        const r = await runCommand("/usr/bin/chronyc", ["-n", "-h", sock, "sources"]);
        const row = r.stdout.split("\n").find((l) => l.startsWith("^"));
        return row?.split(/\s+/)[3];
      };
      const [pc, ph] = [await pollOf(chronydSilent.socket), await pollOf(horaeSilent.socket)];
      assert.equal(pc, "2");
      assert.equal(ph, pc);
      // every request from its own source port, as chronyd's
      for (const log of [silentC, silentH]) {
        assert.equal(new Set(log.map((a) => a.port)).size, log.length);
      }
    } finally {
      await Promise.all([horaeGood.stop(), horaeSilent.stop()]);
      await Promise.all([chronydGood.stop(), chronydSilent.stop()]);
      for (const s of [servers.chronyd, servers.horae]) {
        await s.good.close();
        await s.silent.close();
      }
    }
  },
});
