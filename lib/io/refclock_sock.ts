/**
 * The SOCK refclock driver's IO edge: a Unix datagram socket created at the
 * configured path (chrony.conf(5) `refclock SOCK path`; a stale file there
 * is removed first). Each datagram is one `sock_sample`
 * (`lib/refclock/sock.ts`), handed to `onSample` as it arrives; bad
 * datagrams are counted. `fini()` closes the socket and removes the file.
 *
 * @example
 * ```ts
 * import { SockDriver } from "./refclock_sock.ts";
 * const d = SockDriver.open("/run/chrony.ttyS0.sock", (s) => console.log(s.offset));
 * await d.fini();
 * ```
 * @module
 */
import { type RawDriverSample, type RefclockDriver, RefclockError } from "../refclock/driver.ts";
import { decodeSockSample, SockSampleError } from "../refclock/sock.ts";
import { isOsError } from "./os_error.ts";

/** See the module doc. */
export class SockDriver implements RefclockDriver {
  readonly name = "SOCK";
  readonly path: string;
  readonly #conn: Deno.DatagramConn;
  readonly #done: Promise<void>;
  #closed = false;
  /** Datagrams that were no valid sample. */
  bad = 0;

  private constructor(
    path: string,
    conn: Deno.DatagramConn,
    onSample: (s: RawDriverSample) => void,
  ) {
    this.path = path;
    this.#conn = conn;
    this.#done = this.#loop(onSample);
  }

  /** Creates the socket at `path`. Throws RefclockError. */
  static open(path: string, onSample: (s: RawDriverSample) => void): SockDriver {
    try {
      Deno.removeSync(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        throw new RefclockError(`SOCK ${path}`, (e as Error).message);
      }
    }
    try {
      const conn = Deno.listenDatagram({ transport: "unixpacket", path });
      return new SockDriver(path, conn, onSample);
    } catch (e) {
      throw new RefclockError(`SOCK ${path}`, (e as Error).message);
    }
  }

  async #loop(onSample: (s: RawDriverSample) => void): Promise<void> {
    while (!this.#closed) {
      let bytes: Uint8Array;
      try {
        [bytes] = await this.#conn.receive();
      } catch (e) {
        if (!isOsError(e)) throw e;
        return; // closed (BadResource, by fini): the loop ends
      }
      let s: RawDriverSample;
      try {
        s = decodeSockSample(bytes);
      } catch (e) {
        if (!(e instanceof SockSampleError)) throw e;
        this.bad++; // malformed: counted and dropped
        continue;
      }
      onSample(s);
    }
  }

  async fini(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn.close();
    await this.#done;
    try {
      Deno.removeSync(this.path);
    } catch (e) {
      if (!isOsError(e)) throw e; // already gone
    }
  }
}
