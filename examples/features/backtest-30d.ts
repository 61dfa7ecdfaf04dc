import type { FeatureDefinition } from '../../src/stages/features/feature-definition.js'
import { cardFraudFeatures } from '../../topology/features.js'

const HOUR_MS = 3_600_000
const DAY_MS = 24 * HOUR_MS

/** A terminal lookup ending a day ago, at hourly resolution, with labels reported up to an hour ago. */
const terminal = (aggregation: 'count' | 'fraud_count', days: number): FeatureDefinition => ({
  kind: 'lookup',
  name: `terminal_${aggregation === 'count' ? 'tx' : 'fraud'}_count_${days}d_lb`,
  key: 'terminal',
  aggregation,
  resolutionMs: HOUR_MS,
  spanMs: days * DAY_MS,
  delayMs: DAY_MS,
  labelLagMs: HOUR_MS,
  description: `${aggregation === 'count' ? 'transactions' : 'known fraud'} at the terminal in the ${days} days ending a day ago`,
})

/**
 * The default features plus a month of history, the set a backtest of a longer-memory model reads: 30-day card
 * windows and terminal lookups over 1, 7 and 30 days. `fraudstream features --features examples/features/backtest-30d.ts`
 * and `npm run bench:offline -- --features examples/features/backtest-30d.ts` use it.
 */
export const features: readonly FeatureDefinition[] = [
  ...cardFraudFeatures,
  {
    kind: 'window',
    name: 'card_count_30d',
    key: 'card',
    aggregation: 'count',
    spanMs: 30 * DAY_MS,
    description: 'card transactions in 30 days',
  },
  {
    kind: 'window',
    name: 'card_sum_30d',
    key: 'card',
    aggregation: 'sum',
    spanMs: 30 * DAY_MS,
    description: 'card amount in 30 days',
  },
  ...[1, 7, 30].flatMap((days) => [terminal('count', days), terminal('fraud_count', days)]),
]
