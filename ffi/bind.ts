/**
 * Binds a C library's functions for horae with Deno's FFI, cheaply at first
 * and fast once calls are frequent (issue 12: an idle daemon near Deno's
 * memory floor).
 *
 * `Deno.dlopen` compiles, for every synchronous symbol, a machine-code
 * trampoline for V8's fast calls with the Cranelift code generator, at once:
 * the first one touches ~2 MB of Deno's binary (resident from then on) and
 * each costs start-up time. Those trampolines pay only for calls from hot,
 * optimised code; a client daemon polling once a minute makes a few dozen
 * calls a minute. So {@link bindLibrary} first binds each synchronous symbol
 * through its address and `Deno.UnsafeFnPointer` (libffi, no code generated,
 * ~0.5 µs more per call) and switches every one of them to `Deno.dlopen`'s
 * fast functions when they are called often: {@link UPGRADE_CALLS} calls
 * within one second (a server under load), or when {@link upgradeLibraries}
 * is called. Results, errors and `errno` behave the same on both paths (both
 * call the function synchronously on the calling thread). Symbols declared
 * `nonblocking` (run on a worker thread, never compiled) are bound by
 * `Deno.dlopen` directly.
 *
 * @example
 * ```ts
 * import { bindLibrary } from "./bind.ts";
 * const libc = bindLibrary("libc.so.6", { getpid: { parameters: [], result: "i32" } } as const);
 * const pid = libc.getpid();
 * ```
 * @module
 */

/** Calls within one second after which a library's symbols switch to fast calls. */
export const UPGRADE_CALLS = 512;

interface Bound {
  /** Replaces the slow wrappers by `Deno.dlopen`'s functions (idempotent). */
  upgrade(): void;
  fast: boolean;
}

const bound: Bound[] = [];
const boundOf = new WeakMap<object, Bound>();

/** Switches every library bound by {@link bindLibrary} to fast calls now. */
export function upgradeLibraries(): void {
  for (const b of bound) b.upgrade();
}

/** Whether `symbols` (from {@link bindLibrary}) use fast calls by now (for tests and benchmarks). */
export function usesFastCalls(symbols: object): boolean {
  return boundOf.get(symbols)?.fast ?? false;
}

/**
 * The symbols of `path` as `Deno.dlopen(path, symbols).symbols` would give
 * them, bound as described in the module documentation.
 */
export function bindLibrary<const S extends Deno.ForeignLibraryInterface>(
  path: string,
  symbols: S,
): Deno.DynamicLibrary<S>["symbols"] {
  const sync: Record<string, Deno.ForeignFunction> = {};
  const other: Record<string, Deno.ForeignFunction | Deno.ForeignStatic> = {};
  const addresses: Record<string, Deno.ForeignStatic> = {};
  for (const [key, def] of Object.entries(symbols)) {
    if ("parameters" in def && !def.nonblocking) {
      sync[key] = def;
      addresses[key] = {
        name: def.name ?? key,
        type: "pointer",
        ...(def.optional ? { optional: true } : {}),
      };
    } else {
      other[key] = def;
    }
  }
  // deno-lint-ignore no-explicit-any
  const out: Record<string, any> = { ...Deno.dlopen(path, other).symbols };
  const where = Deno.dlopen(path, addresses).symbols as Record<string, Deno.PointerValue>;
  let calls = 0;
  let since = performance.now();
  const b: Bound = {
    fast: false,
    upgrade() {
      if (b.fast) return;
      b.fast = true;
      Object.assign(out, Deno.dlopen(path, sync).symbols);
    },
  };
  bound.push(b);
  boundOf.set(out, b);
  /** Counts a slow call; every UPGRADE_CALLS calls, upgrades when they came within a second. */
  const count = () => {
    if (++calls < UPGRADE_CALLS) return;
    const now = performance.now();
    if (now - since < 1000) b.upgrade();
    calls = 0;
    since = now;
  };
  for (const [key, def] of Object.entries(sync)) {
    const at = where[key];
    if (at === null || at === undefined) {
      out[key] = null; // an optional symbol this library lacks
      continue;
    }
    const fnDef = { parameters: def.parameters, result: def.result };
    const fn = new Deno.UnsafeFnPointer(at as Deno.PointerObject<typeof fnDef>, fnDef);
    // deno-lint-ignore no-explicit-any
    out[key] = (...args: any[]) => {
      count();
      // deno-lint-ignore no-explicit-any
      return (fn.call as (...a: any[]) => unknown)(...args);
    };
  }
  return out as Deno.DynamicLibrary<S>["symbols"];
}
