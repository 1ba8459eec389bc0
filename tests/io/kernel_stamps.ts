/**
 * The kernel turns RX software time stamps on for the whole machine lazily:
 * the first socket asking for them schedules the switch (a deferred static
 * key), so a datagram received just after may come without a stamp when no
 * other socket on the machine holds them on. Tests that assert a kernel stamp
 * first hold them on with {@link holdKernelStamps}.
 * @module
 */
import { UdpSocket } from "../../lib/io/udp.ts";

/**
 * Opens a time-stamping loopback socket and sends itself datagrams (at most 50,
 * 20 ms apart) until one comes back with a kernel stamp; returns the socket,
 * to be closed when the test ends. Throws when no stamp ever comes.
 */
export async function holdKernelStamps(): Promise<UdpSocket> {
  const s = UdpSocket.open({ family: "ipv4", address: "127.0.0.1" });
  let stamped = false;
  s.onPacket((_b, _f, _rx, _l, kernel) => {
    if (kernel) stamped = true;
  });
  for (let i = 0; i < 50 && !stamped; i++) {
    s.send(new Uint8Array(4), s.localAddress());
    await new Promise((r) => setTimeout(r, 20));
  }
  if (!stamped) {
    await s.close();
    throw new Error("the kernel gave no RX time stamp within 1 s");
  }
  return s;
}
