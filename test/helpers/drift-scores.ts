import { fileURLToPath } from 'node:url'
import { readRegistry } from '../../src/adapters/onnx/model-package.js'
import { Random } from '../../src/generator/random.js'
import { cardFraudFeatures } from '../../topology/features.js'

/** The shipped champion (`models/registry.json`): what `drift` compares when no --model is given. */
export const CHAMPION = (() => {
  const [name, version] = readRegistry(fileURLToPath(new URL('../../models/', import.meta.url))).champion.split('@')
  return { name: name!, version: version! }
})()

const DAY_MS = 24 * 60 * 60 * 1000

/** Features the injected drift moves: amounts ×3 move both amount columns, the country mix moves is_abroad. */
export const DRIFTED_FEATURES = ['amount', 'log_amount', 'is_abroad'] as const

export interface DriftScoresOptions {
  readonly seed: number
  /** Start of the reference window; the current window follows it. */
  readonly startMs: number
  readonly referenceDays: number
  readonly currentDays: number
  readonly referenceRows: number
  readonly currentRows: number
  /** Amounts ×3 and a mostly foreign country mix in the current window. */
  readonly drift: boolean
}

/**
 * `scores` rows (JSONEachRow, every f_ column of topology/features.ts) of a reference window and the current window
 * after it. Every feature but DRIFTED_FEATURES is drawn from the same distribution in both windows, with one of
 * each shape drift detection must handle: counts (many ties), 0/1 flags, continuous values and a constant.
 */
export function driftScoreRows(options: DriftScoresOptions): Record<string, unknown>[] {
  const random = new Random(options.seed)
  const rows: Record<string, unknown>[] = []
  const windows = [
    { fromMs: options.startMs, spanMs: options.referenceDays * DAY_MS, n: options.referenceRows, current: false },
    {
      fromMs: options.startMs + options.referenceDays * DAY_MS,
      spanMs: options.currentDays * DAY_MS,
      n: options.currentRows,
      current: true,
    },
  ]
  for (const window of windows) {
    const drifted = window.current && options.drift
    const countries: readonly (readonly [string, number])[] = drifted
      ? [
          ['FR', 0.3],
          ['US', 0.3],
          ['BR', 0.2],
          ['NG', 0.2],
        ]
      : [
          ['FR', 0.75],
          ['DE', 0.15],
          ['ES', 0.1],
        ]
    for (let i = 0; i < window.n; i++) {
      const eventTimeMs = window.fromMs + Math.floor((i / window.n) * window.spanMs)
      const amount = Math.round(random.logNormal(40, 1) * (drifted ? 3 : 1) * 100) / 100
      const country = random.weighted(countries)
      const isAbroad = country === 'FR' ? 0 : 1
      const row: Record<string, unknown> = {}
      for (const [k, definition] of cardFraudFeatures.entries()) {
        const name = definition.name
        row[`f_${name}`] =
          name === 'amount'
            ? amount
            : name === 'log_amount'
              ? Math.log1p(amount)
              : name === 'is_abroad'
                ? isAbroad
                : name === 'terminal_fraud_count_7d'
                  ? 0
                  : name.startsWith('is_')
                    ? random.chance(0.2)
                      ? 1
                      : 0
                    : k % 2 === 0
                      ? Math.round(random.exponential(3))
                      : random.logNormal(100, 0.8)
      }
      const score = 1 / (1 + Math.exp(-(-6 + 0.6 * Math.log1p(amount) + 1.5 * isAbroad + random.normal(0, 0.5))))
      rows.push({
        transaction_id: `tx-${window.current ? 'c' : 'r'}-${i}`,
        card_id: `card-${random.int(1, 500)}`,
        customer_id: 'cu-1',
        merchant_id: `m-${random.int(1, 50)}`,
        terminal_id: `t-${random.int(1, 80)}`,
        amount,
        currency: 'EUR',
        mcc: '5411',
        country,
        card_country: 'FR',
        channel: 'pos',
        event_time: eventTimeMs,
        decided_at: eventTimeMs + 5,
        score,
        decision: score >= 0.7 ? 'decline' : score >= 0.4 ? 'review' : 'approve',
        reasons: [],
        rules: [],
        model_name: CHAMPION.name,
        model_version: CHAMPION.version,
        feature_contract: 'test',
        late: false,
        latency_ms: 2,
        source_topic: 'transactions',
        source_partition: 0,
        source_offset: rows.length,
        source_timestamp: eventTimeMs + 1,
        run_id: 'live',
        ...row,
      })
    }
  }
  return rows
}
