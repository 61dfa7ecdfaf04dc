/**
 * The arithmetic of the amount aggregations, shared by the compiled window code and the lookup tables: the standard
 * deviation from sums of deviations, and the features derived from a window's moments.
 */

/**
 * The population standard deviation of n amounts from the sums of their deviations d = a − K from K, one of them:
 * sqrt(E[d²] − E[d]²). With K in the window, that difference cancels at most what separates K from the mean, not the
 * amounts' whole magnitude (unshifted, a spread under ~3e-5 of the mean was lost to rounding: a cent over ten
 * payments of 100), and equal amounts give deviations of exactly 0, hence 0, not a rounding residue that a z-score
 * would divide into astronomy.
 */
export function populationStddev(n: number, sumOfDeviations: number, sumOfSquaredDeviations: number): number {
  if (n === 0) return 0
  const meanDeviation = sumOfDeviations / n
  const variance = sumOfSquaredDeviations / n - meanDeviation * meanDeviation
  return variance > MIN_VARIANCE ? Math.sqrt(variance) : 0
}

/**
 * Below this a variance reads as 0: the squares of deviations under ~1e-140 (far below any currency's unit) lose their
 * precision to underflow, and two orders of summation would disagree on them.
 */
export const MIN_VARIANCE = 1e-280

/** (amount − mean) / stddev of the window, from deviations from `reference` (mean = reference + E[d]); 0 when the stddev is 0. */
export function zscore(
  amount: number,
  n: number,
  reference: number,
  sumOfDeviations: number,
  sumOfSquaredDeviations: number,
): number {
  const sd = populationStddev(n, sumOfDeviations, sumOfSquaredDeviations)
  return sd > 0 ? (amount - reference - sumOfDeviations / n) / sd : 0
}

/** amount / mean of the window; 1 when the mean is 0 (no history and a zero amount). */
export function amountOverMean(amount: number, count: number, sum: number): number {
  const mean = count > 0 ? sum / count : 0
  return mean > 0 ? amount / mean : 1
}
