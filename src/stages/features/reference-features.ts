import type { Transaction } from '../../core/transaction-v1.js'
import { passesFilter, windowKeyOf } from '../windows/window-groups.js'
import type { FeatureDefinition } from './feature-definition.js'
import { populationStddev, toFeatureRow } from './to-feature-row.js'

/**
 * The oracle: every window feature recomputed from scratch over the events added so far, by a direct reading of
 * the semantics in topology/features.ts. Slow on purpose (a full scan per feature); property tests compare the
 * incremental stores against it and the window benchmark uses it as its baseline.
 */
export function referenceFeatureRow(definitions: readonly FeatureDefinition[], added: readonly Transaction[], tx: Transaction): number[] {
  const derivedOnly = toFeatureRow(definitions.filter((d) => d.kind === 'derived'))
  const derived = Array.from(derivedOnly(tx, new Map()))
  let nextDerived = 0
  return definitions.map((d) => {
    if (d.kind === 'derived') return derived[nextDerived++]!
    const delayMs = d.delayMs ?? 0
    const endMs = tx.eventTimeMs - delayMs
    const key = windowKeyOf(d.key, tx)
    const amounts: number[] = []
    let previousMs: number | undefined
    for (const e of added) {
      if (windowKeyOf(d.key, e) !== key || !passesFilter(d.filter, e) || e.eventTimeMs > endMs) continue
      if (previousMs === undefined || e.eventTimeMs > previousMs) previousMs = e.eventTimeMs
      if (e.eventTimeMs > endMs - d.spanMs) amounts.push(e.amount)
    }
    if (delayMs === 0 && passesFilter(d.filter, tx)) amounts.push(tx.amount)
    const n = amounts.length
    const sum = amounts.reduce((a, b) => a + b, 0)
    const mean = n ? sum / n : 0
    const stddev = populationStddev(n, sum, amounts.reduce((a, b) => a + b * b, 0))
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
        return stddev
      case 'zscore':
        return stddev > 0 ? (tx.amount - mean) / stddev : 0
      case 'amount_over_mean':
        return mean > 0 ? tx.amount / mean : 1
      case 'seconds_since_last':
        return (previousMs === undefined ? d.spanMs : Math.min(d.spanMs, endMs - previousMs)) / 1000
    }
  })
}
