/**
 * Weighted linear regression of offset against time, with a runs test on the
 * residuals deciding how many of the newest points to keep (chronyc(1)
 * `sourcestats`: "If the number of runs is too low, chronyd discards older
 * samples and re-runs the regression until the number of runs becomes
 * acceptable").
 *
 * The fit is ordinary weighted least squares. The runs test is the
 * Wald–Wolfowitz test (normal approximation) on the signs of the residuals:
 * a straight line through data that really bends leaves long runs of
 * residuals with the same sign, i.e. too few runs. After it, a second test
 * (ours) drops further old points while a weighted quadratic fit finds a
 * significant curvature ({@linkcode CURVATURE_T}): it sees a frequency that
 * wandered within the window well before the runs do (on the simulator's lan
 * path with a 1e-9/s random walk, worst RMS of five seeds 21.8 -> 5.9 µs).
 *
 * Steps of the source (ours, `steps: true`, issue 17): a line through a
 * window that straddles a step of the offsets fails the runs test, but so
 * does every shorter window that still straddles it, so the runs test used
 * to throw the window down to a handful of points on the first sample after
 * the step and then accept a straddling window (4 runs in ~10 points) for
 * ~9 samples, its slope hundreds of ppm off. {@linkcode findStep} looks for a
 * shift of the newest points first: one point off the line (it may be an
 * outlier) is left out of the fit; from {@linkcode STEP_MIN_AFTER} points
 * that agree, the step is fitted as a shift of the older points (which keep
 * the slope); once `minKeep` points follow it, the points before it go.
 *
 * @example
 * ```ts
 * import { regress } from "./regression.ts";
 * // points x (s, relative to the newest), y (s), weights
 * const fit = regress([-2, -1, 0], [0.1, 0.2, 0.3], [1, 1, 1], { minKeep: 3 });
 * fit.slope; // 0.1
 * fit.intercept; // 0.3 (value at x = 0)
 * ```
 * @module
 */

/** One-sided critical value of the runs test (standard normal, ~2.3 % false alarms). Our choice. */
export const RUNS_TEST_Z = 2.0;

/**
 * After the runs test, older points are also dropped while a weighted
 * quadratic fit finds a curvature this many standard errors from 0 (the
 * frequency wandered within the window). Our choice, tuned on the simulator.
 */
export const CURVATURE_T = 2.5;
/** The curvature test never leaves fewer points than this (our choice). */
export const CURVATURE_MIN_KEEP = 12;

/**
 * A shift of the newest points against the line through the older ones is a
 * step of the source when it is this many of the older points' standard
 * errors from 0 ({@linkcode findStep}; our choice: far above noise, a 5 ms step
 * over a 10 µs path is hundreds).
 */
export const STEP_T = 30;
/**
 * The points after a step must agree with each other: each one's weighted
 * residual around the shifted line within this many of the older points'
 * residual standard deviations (not a bend of the frequency, nor outliers;
 * our choice).
 */
export const STEP_AGREE = 6;
/**
 * ...or within this fraction of the step itself (a point on a noisier path
 * after a large step is still at the new level, not the old one; our choice).
 */
export const STEP_AGREE_FRACTION = 0.125;
/**
 * Points after a step before it counts as one: with fewer the newest points
 * might be outliers and are left out of the fit until they are this many
 * (our choice).
 */
export const STEP_MIN_AFTER = 2;
/**
 * From two points after a split on, a step must fit the points this many
 * times better (weighted sum of squares) than a bend of the line at the same
 * place (our choice).
 */
export const STEP_BEND_RATIO = 2;
/** Points before a step needed to judge it (their noise is the yardstick; our choice). */
export const STEP_MIN_BEFORE = 8;

/** Residuals below this (seconds) mean the line fits exactly: no runs test needed. Our choice (1 ps). */
export const EXACT_FIT_TOLERANCE = 1e-12;

/** Options of {@linkcode regress}. */
export interface RegressOptions {
  /** Never keep fewer than this many of the newest points (at least 3 are kept when available). */
  minKeep: number;
  /** Also drop old points while the curvature test fails ({@linkcode CURVATURE_T}). Default true. */
  curvature?: boolean;
  /**
   * Look for a step of the offsets among the newest `max(minKeep, 3)` points
   * ({@linkcode findStep}): the points before a step go once that many points
   * follow it; until then the step is part of the fit (a shift of the older
   * points), and fewer than {@linkcode STEP_MIN_AFTER} points after it are
   * left out of the fit. Default false.
   */
  steps?: boolean;
}

/** A step of the offsets found by {@linkcode findStep}. */
export interface OffsetStep {
  /** Index of the first point after the step. */
  at: number;
  /** Size of the step (the newer points minus the line through the older ones), seconds. */
  size: number;
  /** The step over the standard error of its size. */
  t: number;
}

/** Result of a fit: the line `y = intercept + slope * x` with its uncertainties. */
export interface RegressionFit {
  /** Value of the line at x = 0 (the caller's reference time), seconds. */
  intercept: number;
  /** Slope, s/s. */
  slope: number;
  /** Standard error of `intercept`, seconds. */
  interceptSd: number;
  /** Standard error of `slope`, s/s. */
  slopeSd: number;
  /** Residual standard deviation of a point of weight 1 (the best points), seconds. */
  residualSd: number;
  /** Index of the oldest point kept: points before it should be dropped. */
  start: number;
  /** Number of points used in the fit (`end - start`). */
  used: number;
  /** Number of runs of residual signs over the used points. */
  runs: number;
  /** Weighted mean of x over the used points (where the intercept is best known), seconds. */
  xMean: number;
  /**
   * Points from this index on were left out of the fit (`length` when none):
   * the newest points after a possible step, fewer than {@linkcode STEP_MIN_AFTER}.
   */
  end: number;
  /**
   * The fit is of the points shifted by the step found among them: points
   * before `step.at` count as `y + step.size` (the line is the newest
   * points'); null when no step is modelled.
   */
  step: OffsetStep | null;
}

/** Raised when inputs do not describe a fit (empty, mismatched lengths, bad weights). */
export class RegressionError extends Error {
  override name = "RegressionError";
  /** @param detail what is wrong with the input */
  constructor(readonly detail: string) {
    super(`regression: ${detail}`);
  }
}

/** Number of runs of equal signs in `residuals` (zero counts as positive). */
export function countRuns(residuals: readonly number[]): number {
  let runs = 0;
  let prev: boolean | null = null;
  for (const r of residuals) {
    const pos = r >= 0;
    if (pos !== prev) runs++;
    prev = pos;
  }
  return runs;
}

/**
 * Wald–Wolfowitz runs test: does a sequence with `positives` and `negatives`
 * signs and `runs` runs have acceptably many runs for random signs? One-sided
 * (only too few runs fails) at {@linkcode RUNS_TEST_Z} standard deviations.
 */
export function runsAcceptable(runs: number, positives: number, negatives: number): boolean {
  const n = positives + negatives;
  if (positives === 0 || negatives === 0) {
    // All residuals of one sign: only plausible for very short sequences.
    return n < 4;
  }
  const p2 = 2 * positives * negatives;
  const mean = p2 / n + 1;
  const variance = (p2 * (p2 - n)) / (n * n * (n - 1));
  return runs >= mean - RUNS_TEST_Z * Math.sqrt(variance);
}

interface PlainFit {
  intercept: number;
  slope: number;
  interceptSd: number;
  slopeSd: number;
  residualSd: number;
  residuals: number[];
  xMean: number;
}

function fitFrom(
  x: readonly number[],
  y: readonly number[],
  w: readonly number[],
  start: number,
  params = 2,
): PlainFit {
  const n = x.length - start;
  let sw = 0, swx = 0, swy = 0;
  for (let i = start; i < x.length; i++) {
    const wi = w[i]!;
    sw += wi;
    swx += wi * x[i]!;
    swy += wi * y[i]!;
  }
  const xm = swx / sw, ym = swy / sw;
  let sxx = 0, sxy = 0;
  for (let i = start; i < x.length; i++) {
    const dx = x[i]! - xm;
    sxx += w[i]! * dx * dx;
    sxy += w[i]! * dx * (y[i]! - ym);
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  const intercept = ym - slope * xm;
  const residuals: number[] = [];
  let swrr = 0;
  for (let i = start; i < x.length; i++) {
    const r = y[i]! - (intercept + slope * x[i]!);
    residuals.push(r);
    swrr += w[i]! * r * r;
  }
  // Unit-weight variance; with 2 points or fewer there is no residual freedom
  // (`params` counts a modelled step as a third parameter).
  const s2 = n > params ? swrr / (n - params) : 0;
  const slopeVar = sxx > 0 ? s2 / sxx : 0;
  const interceptVar = s2 / sw + xm * xm * slopeVar;
  return {
    intercept,
    slope,
    interceptSd: Math.sqrt(interceptVar),
    slopeSd: Math.sqrt(slopeVar),
    residualSd: Math.sqrt(s2),
    residuals,
    xMean: xm,
  };
}

/**
 * t statistic of the quadratic term of a weighted fit `y = a + b x + c x²`
 * over points `start..`, or 0 when it cannot be computed (fewer than 5
 * points, degenerate abscissae).
 */
export function curvatureT(
  x: readonly number[],
  y: readonly number[],
  w: readonly number[],
  start: number,
): number {
  const n = x.length - start;
  if (n < 5) return 0;
  // Centre and scale x for conditioning.
  let sw = 0, swx = 0;
  for (let i = start; i < x.length; i++) {
    sw += w[i]!;
    swx += w[i]! * x[i]!;
  }
  const xm = swx / sw;
  let span = 0;
  for (let i = start; i < x.length; i++) span = Math.max(span, Math.abs(x[i]! - xm));
  if (!(span > 0)) return 0;
  // Normal equations M b = v for b = (a, b, c) in u = (x - xm) / span.
  const M = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  const v = [0, 0, 0];
  for (let i = start; i < x.length; i++) {
    const u = (x[i]! - xm) / span, wi = w[i]!;
    const f = [1, u, u * u];
    for (let r = 0; r < 3; r++) {
      v[r]! += wi * f[r]! * y[i]!;
      for (let c = 0; c < 3; c++) M[r]![c]! += wi * f[r]! * f[c]!;
    }
  }
  const inv = invert3(M);
  if (inv === null) return 0;
  const b = [0, 1, 2].map((r) => inv[r]![0]! * v[0]! + inv[r]![1]! * v[1]! + inv[r]![2]! * v[2]!);
  let swrr = 0;
  for (let i = start; i < x.length; i++) {
    const u = (x[i]! - xm) / span;
    const r = y[i]! - (b[0]! + b[1]! * u + b[2]! * u * u);
    swrr += w[i]! * r * r;
  }
  const s2 = swrr / (n - 3);
  const se = Math.sqrt(s2 * inv[2]![2]!);
  return se > 0 ? b[2]! / se : 0;
}

/**
 * Looks for a step of the offsets among the newest `maxAfter` points: for
 * each split, a weighted fit of one line through all the points with the
 * points after the split shifted by a constant. The split whose shift is the
 * most standard errors from 0 counts when it is at least {@linkcode STEP_T}
 * of them (the standard error from the residuals of the points before the
 * split, at least {@linkcode STEP_MIN_BEFORE} of them), and every point after
 * it lies within {@linkcode STEP_AGREE} residual standard deviations of the
 * shifted line or {@linkcode STEP_AGREE_FRACTION} of the shift (outliers that
 * disagree are no step), and, from two points
 * after it on, the shift fits {@linkcode STEP_BEND_RATIO} times better than a
 * bend of the line at the same place (a change of frequency is no step).
 * Null when there is none.
 *
 * @param x abscissae, seconds, oldest first; `y` ordinates, seconds; `w` weights
 * @param maxAfter largest number of points after the step considered
 */
export function findStep(
  x: readonly number[],
  y: readonly number[],
  w: readonly number[],
  maxAfter: number,
): OffsetStep | null {
  const n = x.length;
  let sw = 0, swx = 0;
  for (let i = 0; i < n; i++) {
    sw += w[i]!;
    swx += w[i]! * x[i]!;
  }
  const xm = swx / sw;
  let span = 0;
  for (let i = 0; i < n; i++) span = Math.max(span, Math.abs(x[i]! - xm));
  if (!(span > 0)) return null;
  const u = x.map((v) => (v - xm) / span);
  let best: OffsetStep | null = null;
  for (let k = 1; k <= maxAfter; k++) {
    const at = n - k;
    if (at < STEP_MIN_BEFORE) break;
    // y = a + b u + c [i >= at]
    const shift = fit3(u, y, w, (i) => i >= at ? 1 : 0);
    if (shift === null) continue;
    let rss = 0;
    for (let i = 0; i < at; i++) rss += w[i]! * shift.resid[i]! ** 2;
    const sd = Math.max(Math.sqrt(rss / (at - 2)), EXACT_FIT_TOLERANCE);
    const c = shift.coef[2]!;
    const t = c / (sd * Math.sqrt(shift.inv[2]![2]!));
    if (!(Math.abs(t) >= STEP_T)) continue;
    if (best !== null && Math.abs(t) <= Math.abs(best.t)) continue;
    let agree = true;
    for (let i = at; i < n; i++) {
      const r = Math.abs(shift.resid[i]!);
      if (r * Math.sqrt(w[i]!) > STEP_AGREE * sd && r > Math.abs(c) * STEP_AGREE_FRACTION) {
        agree = false;
      }
    }
    if (!agree) continue;
    // A bend (y = a + b u + c max(0, u - u[at - 1])) must not fit as well: from two points on,
    // the newer points lie on a level, not on a new slope.
    if (k >= 2) {
      const knot = u[at - 1]!;
      const bend = fit3(u, y, w, (i) => Math.max(0, u[i]! - knot));
      if (bend !== null && !(STEP_BEND_RATIO * shift.rss < bend.rss)) continue;
    }
    best = { at, size: c, t };
  }
  return best;
}

/** Weighted least squares of y on (1, u, f(i)): coefficients, (X'WX)^-1, residuals, their weighted sum of squares. */
function fit3(
  u: readonly number[],
  y: readonly number[],
  w: readonly number[],
  f: (i: number) => number,
): { coef: number[]; inv: number[][]; resid: number[]; rss: number } | null {
  const M = [[0, 0, 0], [0, 0, 0], [0, 0, 0]];
  const v = [0, 0, 0];
  const basis = u.map((ui, i) => [1, ui, f(i)]);
  for (let i = 0; i < u.length; i++) {
    const g = basis[i]!, wi = w[i]!;
    for (let r = 0; r < 3; r++) {
      v[r]! += wi * g[r]! * y[i]!;
      for (let c = 0; c < 3; c++) M[r]![c]! += wi * g[r]! * g[c]!;
    }
  }
  const inv = invert3(M);
  if (inv === null) return null;
  const coef = [0, 1, 2].map((r) =>
    inv[r]![0]! * v[0]! + inv[r]![1]! * v[1]! + inv[r]![2]! * v[2]!
  );
  let rss = 0;
  const resid = basis.map((g, i) => {
    const r = y[i]! - (coef[0]! + coef[1]! * g[1]! + coef[2]! * g[2]!);
    rss += w[i]! * r * r;
    return r;
  });
  return { coef, inv, resid, rss };
}

function invert3(m: number[][]): number[][] | null {
  const [a, b, c] = m[0]!, [d, e, f] = m[1]!, [g, h, i] = m[2]!;
  const A = e! * i! - f! * h!, B = -(d! * i! - f! * g!), C = d! * h! - e! * g!;
  const det = a! * A + b! * B + c! * C;
  if (!(Math.abs(det) > 1e-300)) return null;
  return [
    [A / det, -(b! * i! - c! * h!) / det, (b! * f! - c! * e!) / det],
    [B / det, (a! * i! - c! * g!) / det, -(a! * f! - c! * d!) / det],
    [C / det, -(a! * h! - b! * g!) / det, (a! * e! - b! * d!) / det],
  ];
}

/**
 * Fits `y = intercept + slope * x` by weighted least squares over the newest
 * points, dropping the oldest ones while the runs test on the residuals fails.
 *
 * Points must be ordered oldest first. Weights are relative (the best points
 * should have weight 1: `residualSd` is the spread of such a point). The
 * newest `max(minKeep, 3)` points (or all, if fewer) are always kept.
 *
 * @param x abscissae, seconds relative to the caller's reference time
 * @param y ordinates (offsets), seconds
 * @param w weights, > 0
 * @throws {RegressionError} on empty or inconsistent input
 */
export function regress(
  x: readonly number[],
  y: readonly number[],
  w: readonly number[],
  options: RegressOptions,
): RegressionFit {
  const n = x.length;
  if (n === 0) throw new RegressionError("no points");
  if (y.length !== n || w.length !== n) throw new RegressionError("x, y and w differ in length");
  for (const wi of w) {
    if (!(wi > 0) || !Number.isFinite(wi)) throw new RegressionError(`weight ${wi} is not > 0`);
  }
  const keep = Math.min(n, Math.max(3, options.minKeep));
  // A step among the newest points (options.steps): the points before it go
  // once `keep` points follow it; until then it is fitted as a shift of the
  // older points; fewer than STEP_MIN_AFTER points after it are left out.
  let first = 0, end = n, step: OffsetStep | null = null, ys = y;
  const found = options.steps ? findStep(x, y, w, keep) : null;
  if (found !== null) {
    const after = n - found.at;
    if (after >= keep) first = found.at;
    else if (after < STEP_MIN_AFTER) end = found.at;
    else {
      step = found;
      ys = y.map((v, i) => i < found.at ? v + found.size : v);
    }
  }
  const xs = end < n ? x.slice(0, end) : x, ws = end < n ? w.slice(0, end) : w;
  if (end < n) ys = ys.slice(0, end);
  const params = step === null ? 2 : 3;
  // The newest start allowed: `keep` points kept, 3 in the fit.
  const last = Math.min(n - keep, Math.max(0, end - 3));
  let chosen: { start: number; fit: PlainFit; runs: number } | null = null;
  for (let start = first; start <= last; start++) {
    const fit = fitFrom(xs, ys, ws, start, params);
    const runs = countRuns(fit.residuals);
    let pos = 0;
    for (const r of fit.residuals) if (r >= 0) pos++;
    const exact = fit.residuals.every((r) => Math.abs(r) <= EXACT_FIT_TOLERANCE);
    const ok = exact || runsAcceptable(runs, pos, fit.residuals.length - pos);
    if (ok || start === last) {
      chosen = { start, fit, runs };
      break;
    }
  }
  // The loop always chooses (its last iteration accepts); keep TS satisfied.
  if (chosen === null) throw new RegressionError("no fit chosen");
  const exactLine = chosen.fit.residuals.every((r) => Math.abs(r) <= EXACT_FIT_TOLERANCE);
  if (options.curvature !== false && !exactLine) {
    // At most half of the points go per fit: a curvature seen by chance in a
    // noisy window must not leave a handful of points (samples dropped here
    // are gone for good, so a real bend still goes over a few fits).
    let start = chosen.start;
    const limit = Math.min(
      n - Math.max(keep, CURVATURE_MIN_KEEP),
      start + Math.floor((end - start) / 2),
      last,
    );
    while (start < limit && Math.abs(curvatureT(xs, ys, ws, start)) > CURVATURE_T) start++;
    if (start !== chosen.start) {
      const fit = fitFrom(xs, ys, ws, start, params);
      chosen = { start, fit, runs: countRuns(fit.residuals) };
    }
  }
  const { start, fit, runs } = chosen;
  return {
    intercept: fit.intercept,
    slope: fit.slope,
    interceptSd: fit.interceptSd,
    slopeSd: fit.slopeSd,
    residualSd: fit.residualSd,
    start,
    used: end - start,
    runs,
    xMean: fit.xMean,
    end,
    step,
  };
}
