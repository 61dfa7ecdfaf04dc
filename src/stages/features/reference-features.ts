import type { Transaction } from '../../core/transaction-v1.js'
import type { Label } from '../../core/label-v1.js'
import type {
  DerivedFeature,
  FeatureDefinition,
  LookupFeature,
  LookupKey,
  WindowAggregation,
  WindowFeature,
  WindowFilter,
  WindowKey,
} from './feature-definition.js'

// The oracle imports types only: a constant or function shared with the code it checks would be wrong in both
// places at once and the property tests would still pass. What it needs of the contract is restated below.

/** The contract's variance floor: a variance at or below it reads as 0 (population-stddev.ts has the production one). */
const MIN_VARIANCE = 1e-280

/**
 * The oracle: every window feature recomputed from scratch over the events added so far, by a direct reading of
 * the semantics in topology/features.ts, sharing no code with the incremental path (its keys are strings, its
 * filters and derived fields its own, its arithmetic exact: see exactMoments). Slow on purpose (a full scan per
 * feature); property tests compare the incremental stores against it, and the window benchmark uses it with
 * `doubleMoments` as its naive baseline. `watermarkMs`: the partition's watermark, for a late transaction's windows,
 * which leave out the events the contract calls expired.
 */
export function referenceFeatureRow(
  definitions: readonly FeatureDefinition[],
  added: readonly Transaction[],
  tx: Transaction,
  watermarkMs = -Infinity,
  moments: MomentsFn = exactMoments,
): number[] {
  // Only a late transaction's windows reach back this far (and the baseline of bench:windows passes no watermark).
  const expiry = watermarkMs === -Infinity ? undefined : expiryHorizons(definitions)
  return definitions.map((d) => {
    if (d.kind === 'derived') return referenceDerived(d, tx)
    if (d.kind === 'lookup') return NaN
    const expiredAtOrBeforeMs = expiry ? watermarkMs - expiry(d) : -Infinity
    const delayMs = d.delayMs ?? 0
    const endMs = tx.eventTimeMs - delayMs
    const key = keyOf(d.key, tx)
    const amounts: number[] = []
    const values = new Set<string>()
    const counted = (e: Transaction) => passes(d.filter, e) && (d.field === undefined || e[d.field] !== undefined)
    let previousMs: number | undefined
    for (const e of added) {
      if (keyOf(d.key, e) !== key || !counted(e) || e.eventTimeMs > endMs || e.eventTimeMs <= expiredAtOrBeforeMs)
        continue
      if (previousMs === undefined || e.eventTimeMs > previousMs) previousMs = e.eventTimeMs
      if (e.eventTimeMs > endMs - d.spanMs) {
        amounts.push(e.amount)
        if (d.field) values.add(e[d.field]!)
      }
    }
    if (delayMs === 0 && counted(tx)) {
      amounts.push(tx.amount)
      if (d.field) values.add(tx[d.field]!)
    }
    return aggregate(
      d.aggregation,
      { amounts, newestMs: previousMs, endMs, spanMs: d.spanMs, values },
      tx.amount,
      moments,
    )
  })
}

/** What a window holds, as the aggregations read it. */
interface WindowContents {
  readonly amounts: readonly number[]
  /** The newest event at or before the window's end, undefined when none. */
  readonly newestMs: number | undefined
  readonly endMs: number
  readonly spanMs: number
  /** The distinct values of the feature's field among the events. */
  readonly values: ReadonlySet<string>
}

/** A window aggregation, as window and lookup features both define it; `amount`: the transaction's. */
function aggregate(aggregation: WindowAggregation, window: WindowContents, amount: number, moments: MomentsFn): number {
  const { amounts, newestMs, endMs, spanMs } = window
  const n = amounts.length
  switch (aggregation) {
    case 'count':
      return n
    case 'sum':
      return moments(amounts).sum
    case 'mean':
      return moments(amounts).mean
    case 'min':
      return n ? Math.min(...amounts) : 0
    case 'max':
      return n ? Math.max(...amounts) : 0
    case 'stddev':
      return moments(amounts).stddev
    case 'zscore':
      return moments(amounts).zscore(amount)
    case 'amount_over_mean': {
      const mean = moments(amounts).mean
      return mean > 0 ? amount / mean : 1
    }
    case 'seconds_since_last':
      return (newestMs === undefined ? spanMs : Math.min(spanMs, endMs - newestMs)) / 1000
    case 'distinct_count':
      return window.values.size
  }
}

/** A window's amounts as its features read them; 0 for every one of an empty window. */
export interface Moments {
  readonly sum: number
  readonly mean: number
  /** Population standard deviation; 0 when the variance is at most MIN_VARIANCE (the contract's floor). */
  readonly stddev: number
  /** (amount − mean) / stddev, 0 when the stddev is 0. */
  zscore(amount: number): number
}

export type MomentsFn = (amounts: readonly number[]) => Moments

/**
 * The moments in exact arithmetic: each amount is an integer number of 2^-1074 (every finite double is), so the sums
 * of amounts and of their squares are exact BigInts, and mean, variance and the z-score's numerator are exact
 * fractions rounded once. The incremental windows must come within 1e-9 of these.
 */
export function exactMoments(amounts: readonly number[]): Moments {
  const n = BigInt(amounts.length)
  if (n === 0n) return EMPTY_MOMENTS
  let sum = 0n
  let sumOfSquares = 0n
  for (const amount of amounts) {
    const x = asUnits(amount)
    sum += x
    sumOfSquares += x * x
  }
  const variance = ratio(n * sumOfSquares - sum * sum, n * n * UNIT * UNIT)
  const stddev = variance > MIN_VARIANCE ? Math.sqrt(variance) : 0
  return {
    sum: ratio(sum, UNIT),
    mean: ratio(sum, n * UNIT),
    stddev,
    zscore: (amount) => (stddev > 0 ? ratio(n * asUnits(amount) - sum, n * UNIT) / stddev : 0),
  }
}

/** The moments as a naive implementation computes them, in doubles (two passes): bench:windows' baseline. */
export function doubleMoments(amounts: readonly number[]): Moments {
  const n = amounts.length
  if (n === 0) return EMPTY_MOMENTS
  let sum = 0
  for (const amount of amounts) sum += amount
  const mean = sum / n
  let squares = 0
  for (const amount of amounts) squares += (amount - mean) ** 2
  const stddev = squares / n > MIN_VARIANCE ? Math.sqrt(squares / n) : 0
  return { sum, mean, stddev, zscore: (amount) => (stddev > 0 ? (amount - mean) / stddev : 0) }
}

const EMPTY_MOMENTS: Moments = { sum: 0, mean: 0, stddev: 0, zscore: () => 0 }

/** 2^1074: a finite double times this is an integer. */
const UNIT = 1n << 1074n

/** A finite double as an exact integer number of 2^-1074. */
function asUnits(value: number): bigint {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, value)
  const bits = view.getBigUint64(0)
  const exponent = Number((bits >> 52n) & 0x7ffn)
  const fraction = bits & ((1n << 52n) - 1n)
  // Normal: (2^52 + fraction) · 2^(exponent − 1075); subnormal: fraction · 2^-1074.
  const units = exponent === 0 ? fraction : (fraction | (1n << 52n)) << BigInt(exponent - 1)
  return bits >> 63n ? -units : units
}

/** numerator / denominator (> 0) as the nearest double, give or take an ulp. */
function ratio(numerator: bigint, denominator: bigint): number {
  if (numerator === 0n) return 0
  const negative = numerator < 0n
  const magnitude = negative ? -numerator : numerator
  // A quotient of 64 to 65 bits: its conversion to a double rounds once.
  const shift = 64 - (magnitude.toString(2).length - denominator.toString(2).length)
  const quotient = shift >= 0 ? (magnitude << BigInt(shift)) / denominator : magnitude / (denominator << BigInt(-shift))
  let value = Number(quotient)
  // × 2^-shift in steps a double can hold (a tiny variance has a shift past 1074).
  let exponent = -shift
  for (; exponent < -1000; exponent += 1000) value *= 2 ** -1000
  for (; exponent > 1000; exponent -= 1000) value *= 2 ** 1000
  value *= 2 ** exponent
  return negative ? -value : value
}

/** The derived fields as topology/features.ts describes them, through Date (the incremental path does its own arithmetic). */
function referenceDerived(d: DerivedFeature, tx: Transaction): number {
  const at = new Date(tx.eventTimeMs)
  switch (d.field) {
    case 'hour_in': {
      const hour = at.getUTCHours()
      const hours = Array.from({ length: 24 }, (_, h) => h).filter((h) =>
        d.from < d.to ? h >= d.from && h < d.to : h >= d.from || h < d.to,
      )
      return hours.includes(hour) ? 1 : 0
    }
    case 'amount_at_least':
      return tx.amount >= d.value ? 1 : 0
    case 'value_in':
      return d.values.some((v) => v === tx[d.of]) ? 1 : 0
    case 'amount':
      return tx.amount
    case 'log1p_amount':
      return Math.log1p(tx.amount)
    case 'is_night':
      return at.getUTCHours() >= 22 || at.getUTCHours() < 6 ? 1 : 0
    case 'is_abroad':
      return tx.country !== tx.card_country ? 1 : 0
    case 'is_card_not_present':
      return tx.channel === 'ecom' || tx.channel === 'moto' ? 1 : 0
    case 'is_zero_amount':
      return tx.amount === 0 ? 1 : 0
    case 'hour_of_day':
      return at.getUTCHours()
    case 'is_weekend':
      return at.getUTCDay() === 0 || at.getUTCDay() === 6 ? 1 : 0
  }
}

/** A transaction's key in a window, as a string (the incremental path compares hashes and codes). */
function keyOf(key: WindowKey, tx: Transaction): string {
  switch (key) {
    case 'card':
      return tx.card_id
    case 'card+merchant':
      return `${tx.card_id}\u0000${tx.merchant_id}`
    case 'card+terminal':
      return `${tx.card_id}\u0000${tx.terminal_id}`
    case 'card+country':
      return `${tx.card_id}\u0000${tx.country}`
  }
}

function passes(filter: WindowFilter | undefined, tx: Transaction): boolean {
  switch (filter) {
    case undefined:
      return true
    case 'abroad':
      return tx.country !== tx.card_country
    case 'card_not_present':
      return tx.channel === 'ecom' || tx.channel === 'moto'
    case 'night': {
      const hour = new Date(tx.eventTimeMs).getUTCHours()
      return hour >= 22 || hour < 6
    }
  }
}

/**
 * Per window feature, how far behind the watermark its events expire (topology/features.ts): windows that share
 * key, filter, field and delay read event times only when all of them are counts or times since last of the card
 * alone, with no filter; those keep the longest span + delay of the set, every other window the longest span +
 * delay among the others.
 */
function expiryHorizons(definitions: readonly FeatureDefinition[]): (d: WindowFeature) => number {
  const windows = definitions.filter((d): d is WindowFeature => d.kind === 'window')
  const sharing = (d: WindowFeature) => `${d.key}|${d.filter ?? ''}|${d.field ?? ''}|${d.delayMs ?? 0}`
  const readsMore = new Set(
    windows
      .filter(
        (d) =>
          d.key !== 'card' ||
          d.filter ||
          d.field ||
          (d.aggregation !== 'count' && d.aggregation !== 'seconds_since_last'),
      )
      .map(sharing),
  )
  const reach = (d: WindowFeature) => d.spanMs + (d.delayMs ?? 0)
  const horizonMs = Math.max(0, ...windows.map(reach))
  const attributesHorizonMs = Math.max(0, ...windows.filter((d) => readsMore.has(sharing(d))).map(reach))
  return (d) => (readsMore.has(sharing(d)) ? attributesHorizonMs : horizonMs)
}

/** The transaction (or label) field each lookup key reads, as topology/features.ts describes them. */
const LOOKUP_KEY_FIELD = {
  terminal: 'terminal_id',
  merchant: 'merchant_id',
  customer: 'customer_id',
  device: 'device_id',
} as const satisfies Record<LookupKey, string>

/** A transaction's or label's key for a lookup key kind, as a string; undefined without the field. */
function lookupKeyOf(
  kind: LookupKey,
  ids: { readonly [F in (typeof LOOKUP_KEY_FIELD)[LookupKey]]?: string | undefined },
): string | undefined {
  const id = ids[LOOKUP_KEY_FIELD[kind]]
  return id === undefined ? undefined : `${kind}:${id}`
}

/**
 * The lookup oracle: a direct reading of LookupFeature over every on-time transaction and every label, with no
 * buckets, tables or watermarks. A transaction without the key's field reads an empty window.
 */
export function referenceLookup(
  feature: LookupFeature,
  transactions: readonly Transaction[],
  labels: readonly Label[],
  tx: Transaction,
): number {
  const endMs = Math.floor((tx.eventTimeMs - feature.delayMs) / feature.resolutionMs) * feature.resolutionMs
  const startMs = endMs - feature.spanMs
  const cutoffMs = Math.floor((tx.eventTimeMs - feature.labelLagMs) / feature.resolutionMs) * feature.resolutionMs
  const key = lookupKeyOf(feature.key, tx)
  const inWindow =
    key === undefined
      ? []
      : transactions.filter(
          (e) => lookupKeyOf(feature.key, e) === key && e.eventTimeMs >= startMs && e.eventTimeMs < endMs,
        )
  if (feature.aggregation === 'fraud_count') return knownFraud(feature, labels, key, startMs, endMs, cutoffMs)
  if (feature.aggregation === 'fraud_ratio') {
    // At most 1: labels are placed by their own transaction's time and fields, so they can name transactions the
    // count never saw (late ones, or ones never scored here).
    const fraud = knownFraud(feature, labels, key, startMs, endMs, cutoffMs)
    return inWindow.length > 0 ? Math.min(1, fraud / inWindow.length) : 0
  }
  const field = feature.field
  const contents: WindowContents = {
    amounts: inWindow.map((e) => e.amount),
    newestMs: inWindow.length > 0 ? Math.max(...inWindow.map((e) => e.eventTimeMs)) : undefined,
    endMs,
    spanMs: feature.spanMs,
    values: new Set(field ? inWindow.flatMap((e) => (e[field] === undefined ? [] : [e[field]])) : []),
  }
  return aggregate(feature.aggregation, contents, tx.amount, exactMoments)
}

/** Transactions of the key in [startMs, endMs) whose latest label reported before the cutoff says fraud. */
function knownFraud(
  feature: LookupFeature,
  labels: readonly Label[],
  key: string | undefined,
  startMs: number,
  endMs: number,
  cutoffMs: number,
): number {
  const latest = new Map<string, Label>()
  for (const label of labels) {
    if (key === undefined || label.transactionTimeMs === undefined) continue
    if (
      lookupKeyOf(feature.key, label) !== key ||
      label.transactionTimeMs < startMs ||
      label.transactionTimeMs >= endMs ||
      label.reportedAtMs >= cutoffMs
    )
      continue
    const known = latest.get(label.transaction_id)
    if (!known || label.reportedAtMs >= known.reportedAtMs) latest.set(label.transaction_id, label)
  }
  return [...latest.values()].filter((l) => l.is_fraud).length
}
