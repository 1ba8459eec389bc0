/**
 * An injected hardware-clock device for the driver tests: ioctls are
 * answered by handlers fed with recorded kernel data (buffers laid out per
 * ffi/layout.ts, which tests/ffi/layout_test.ts checks against the C
 * headers); reads return queued records. Every call is recorded.
 */
import { type ClockDevice, DEVICE_ERRNO, DeviceError } from "../../lib/refclock/device.ts";

export type IoctlHandler = (arg: Uint8Array | null) => number;

export class FakeDevice implements ClockDevice {
  readonly path: string;
  readonly handlers: Map<number, IoctlHandler>;
  readonly reads: Uint8Array[] = [];
  /** Successful-or-not requests in order, with the argument as the driver sent it. */
  readonly calls: { request: number; arg: Uint8Array | null }[] = [];
  closed = false;

  constructor(path: string, handlers: Record<number, IoctlHandler> = {}) {
    this.path = path;
    this.handlers = new Map(Object.entries(handlers).map(([k, v]) => [Number(k), v]));
  }

  ioctl(request: number, arg: Uint8Array | null): number {
    if (this.closed) throw new DeviceError("ioctl", 9, this.path);
    const h = this.handlers.get(request);
    // the kernel answers requests a driver does not know with ENOTTY
    if (!h) {
      throw new DeviceError(`ioctl 0x${request.toString(16)}`, DEVICE_ERRNO.ENOTTY, this.path);
    }
    this.calls.push({ request, arg: arg ? arg.slice() : null }); // as sent
    return h(arg);
  }

  read(buf: Uint8Array): number {
    if (this.closed) throw new DeviceError("read", 9, this.path);
    const next = this.reads.shift();
    if (!next) return 0;
    buf.set(next.subarray(0, buf.length));
    return Math.min(next.length, buf.length);
  }

  async waitReadable(timeoutMs: number): Promise<boolean> {
    if (this.reads.length > 0) return true;
    await new Promise((r) => setTimeout(r, Math.min(timeoutMs, 5)));
    return this.reads.length > 0;
  }

  close(): void {
    this.closed = true;
  }
}

/** A handler that fails with `errno`. */
export function failWith(errno: number): IoctlHandler {
  return () => {
    throw new DeviceError("ioctl", errno);
  };
}
