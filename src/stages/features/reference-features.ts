import type { Transaction } from '../../core/transaction-v1.js'
import { groupIdOf, logHorizonsOf, passesFilter, windowGroupsOf, windowKeyOf } from '../windows/window-groups.js'
import type { Label } from '../../core/label-v1.js'
import { lookupKeyOf } from '../lookups/lookup-plan.js'
import { fraudRatio } from '../lookups/key-aggregate.js'
import type { FeatureDefinition, LookupFeature, WindowFeature } from './feature-definition.js'
import { populationStddev, zscore } from '../windows/compile-windows.js'
import { DERIVE } from './to-feature-row.js'

/**
 * The oracle: every window feature recomputed from scratch over the events added so far, by a direct reading of
 * the semantics in topology/features.ts. Slow on purpose (a full scan per feature); property tests compare the
 * incremental stores against it and the window benchmark uses it as its baseline. `watermarkMs`: the partition's
 * watermark, for a late transaction's windows, which leave out the events the contract calls expired.
 */
export function referenceFeatureRow(definitions: readonly FeatureDefinition[], added: readonly Transaction[], tx: Transaction, watermarkMs = -Infinity): number[] {
  const derived = definitions.filter((d) => d.kind === 'derived').map((d) => DERIVE[d.field](tx))
  // Only a late transaction's windows reach back this far (and the baseline of bench:windows passes no watermark).
  const expiry = watermarkMs === -Infinity ? undefined : expiryHorizons(definitions)
  let nextDerived = 0
  return definitions.map((d) => {
    if (d.kind === 'derived') return derived[nextDerived++]!
    if (d.kind === 'lookup') return NaN
    const expiredAtOrBeforeMs = expiry ? watermarkMs - expiry(d) : -Infinity
    const delayMs = d.delayMs ?? 0
    const endMs = tx.eventTimeMs - delayMs
    const key = windowKeyOf(d.key, tx)
    const amounts: number[] = []
    const values = new Set<string>()
    const counted = (e: Transaction) => passesFilter(d.filter, e) && (d.field === undefined || e[d.field] !== undefined)
    let previousMs: number | undefined
    for (const e of added) {
      if (windowKeyOf(d.key, e) !== key || !counted(e) || e.eventTimeMs > endMs || e.eventTimeMs <= expiredAtOrBeforeMs) continue
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
    const n = amounts.length
    const sum = amounts.reduce((a, b) => a + b, 0)
    const mean = n ? sum / n : 0
    // From deviations from one of the amounts, as populationStddev takes them (any one will do): amount − sum / n
    // loses to rounding what separates two amounts a few ulps apart, and the z-score divides by just that.
    const reference = amounts[0] ?? 0
    const deviations = amounts.map((a) => a - reference)
    const sumOfDeviations = deviations.reduce((a, b) => a + b, 0)
    const sumOfSquaredDeviations = deviations.reduce((a, b) => a + b * b, 0)
    switch (d.aggregation) {
      case 'count':
        return n
      case 'sum':
        return sum
      case 'mean':
        return mean
      case 'min':
        return n ? Math.min(...amounts) : 0
      case 'max':
        return n ? Math.max(...amounts) : 0
      case 'stddev':
        return populationStddev(n, sumOfDeviations, sumOfSquaredDeviations)
      case 'zscore':
        return zscore(tx.amount, n, reference, sumOfDeviations, sumOfSquaredDeviations)
      case 'amount_over_mean':
        return mean > 0 ? tx.amount / mean : 1
      case 'seconds_since_last':
        return (previousMs === undefined ? d.spanMs : Math.min(d.spanMs, endMs - previousMs)) / 1000
      case 'distinct_count':
        return values.size
    }
  })
}

/**
 * Per window feature, how far behind the watermark its events expire (topology/features.ts): the longest span + delay
 * of the set for a count or time since last of the card alone; the longest among the other windows for the others.
 */
function expiryHorizons(definitions: readonly FeatureDefinition[]): (d: WindowFeature) => number {
  const groups = windowGroupsOf(definitions)
  const { horizonMs, attributesHorizonMs } = logHorizonsOf(groups)
  const timesOnly = new Set(groups.filter((g) => g.readsTimesOnly).map((g) => g.id))
  return (d) => (timesOnly.has(groupIdOf(d)) ? horizonMs : attributesHorizonMs)
}

/**
 * The lookup oracle: a direct reading of LookupFeature over every on-time transaction and every label, with no
 * buckets, tables or watermarks.
 */
export function referenceLookup(feature: LookupFeature, transactions: readonly Transaction[], labels: readonly Label[], tx: Transaction): number {
  const endMs = Math.floor((tx.eventTimeMs - feature.delayMs) / feature.resolutionMs) * feature.resolutionMs
  const startMs = endMs - feature.spanMs
  const cutoffMs = Math.floor((tx.eventTimeMs - feature.labelLagMs) / feature.resolutionMs) * feature.resolutionMs
  const key = lookupKeyOf(feature.key, tx)
  if (key === undefined) return 0
  const inWindow = transactions.filter((e) => lookupKeyOf(feature.key, e) === key && e.eventTimeMs >= startMs && e.eventTimeMs < endMs)
  if (feature.aggregation === 'count') return inWindow.length
  if (feature.aggregation === 'sum') return inWindow.reduce((total, e) => total + e.amount, 0)
  const latest = new Map<string, Label>()
  for (const label of labels) {
    if (label.transactionTimeMs === undefined) continue
    if (lookupKeyOf(feature.key, label) !== key || label.transactionTimeMs < startMs || label.transactionTimeMs >= endMs || label.reportedAtMs >= cutoffMs) continue
    const known = latest.get(label.transaction_id)
    if (!known || label.reportedAtMs >= known.reportedAtMs) latest.set(label.transaction_id, label)
  }
  const fraud = [...latest.values()].filter((l) => l.is_fraud).length
  if (feature.aggregation === 'fraud_count') return fraud
  return fraudRatio(fraud, inWindow.length)
}
