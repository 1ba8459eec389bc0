import assert from "node:assert/strict";
import { poller } from "../../lib/io/poller.ts";
import { close, eventfd, eventfdRead, eventfdWrite } from "../../ffi/libc.ts";

Deno.test("poller: a readable eventfd runs its callback, and the poller goes idle after unregister", async () => {
  const fd = eventfd(0);
  try {
    let reads = 0;
    const fired = new Promise<void>((resolve) => {
      poller.register(fd, () => {
        reads += eventfdRead(fd);
        resolve();
      });
    });
    assert.equal(poller.size, 1);
    eventfdWrite(fd);
    await fired;
    assert.equal(reads, 1);
    await poller.unregister(fd);
    assert.equal(poller.size, 0);
    await poller.idle();
  } finally {
    close(fd);
  }
});

Deno.test("poller: two descriptors are watched at once and each callback sees only its own", async () => {
  const a = eventfd(0);
  const b = eventfd(0);
  try {
    const seen: string[] = [];
    let done: () => void = () => {};
    const both = new Promise<void>((r) => (done = r));
    poller.register(a, () => {
      eventfdRead(a);
      seen.push("a");
      if (seen.length === 2) done();
    });
    poller.register(b, () => {
      eventfdRead(b);
      seen.push("b");
      if (seen.length === 2) done();
    });
    eventfdWrite(b);
    await new Promise((r) => setTimeout(r, 5));
    eventfdWrite(a);
    await both;
    assert.deepEqual([...seen].sort(), ["a", "b"]);
    await poller.unregister(a);
    await poller.unregister(b);
    await poller.idle();
  } finally {
    close(a);
    close(b);
  }
});

Deno.test("poller: a throwing callback is reported and the loop keeps serving", async () => {
  const fd = eventfd(0);
  const errors: unknown[] = [];
  const saved = poller.onCallbackError;
  poller.onCallbackError = (e) => errors.push(e);
  try {
    let calls = 0;
    const second = new Promise<void>((resolve) => {
      poller.register(fd, () => {
        eventfdRead(fd);
        calls++;
        if (calls === 1) throw new Error("boom");
        resolve();
      });
    });
    eventfdWrite(fd);
    await new Promise((r) => setTimeout(r, 10));
    eventfdWrite(fd);
    await second;
    assert.equal(errors.length, 1);
    await poller.unregister(fd);
    await poller.idle();
  } finally {
    poller.onCallbackError = saved;
    close(fd);
  }
});

Deno.test("poller: a hold keeps one poll loop across registrations; releasing it ends the loop", async () => {
  const loops0 = poller.loops;
  const release = poller.hold();
  let idle = false;
  const idled = poller.idle().then(() => (idle = true));
  try {
    for (let i = 0; i < 3; i++) {
      const fd = eventfd(0);
      try {
        const fired = new Promise<void>((resolve) => {
          poller.register(fd, () => {
            eventfdRead(fd);
            resolve();
          });
        });
        eventfdWrite(fd);
        await fired;
        await poller.unregister(fd);
      } finally {
        close(fd);
      }
    }
    assert.equal(poller.size, 0);
    assert.equal(poller.loops, loops0 + 1, "one loop for the whole hold");
    assert.equal(idle, false, "held: the poll() stays outstanding with nothing registered");
  } finally {
    release();
    release(); // a second call does nothing
  }
  await idled;
  await poller.idle();
  // without a hold, a registration starts a loop of its own again
  const fd = eventfd(0);
  try {
    poller.register(fd, () => eventfdRead(fd));
    assert.equal(poller.loops, loops0 + 2);
    await poller.unregister(fd);
    await poller.idle();
  } finally {
    close(fd);
  }
});

Deno.test("poller: a draining callback run in the loop's first round may register another descriptor (one loop, no second)", async () => {
  const a = eventfd(0);
  const b = eventfd(0);
  try {
    eventfdWrite(a); // readable before the loop starts: its first, checking poll() sees it
    const loopsBefore = poller.loops;
    let done: () => void = () => {};
    const bRead = new Promise<void>((r) => (done = r));
    poller.register(
      a,
      () => {
        eventfdRead(a);
        poller.register(
          b,
          () => {
            eventfdRead(b);
            done();
          },
          undefined,
          true,
        );
        eventfdWrite(b);
      },
      undefined,
      true,
    );
    await bRead;
    assert.equal(poller.loops - loopsBefore, 1, "one poll loop serves both descriptors");
    await poller.unregister(a);
    await poller.unregister(b);
    await poller.idle();
  } finally {
    close(a);
    close(b);
  }
});
