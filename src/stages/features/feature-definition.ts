import { createHash } from 'node:crypto'

/** Per-transaction values that need no state. A closed set: each has one implementation in `derive.ts`. */
export const DerivedField = ['amount', 'log1p_amount', 'is_night', 'is_abroad', 'is_card_not_present', 'is_zero_amount'] as const
export type DerivedField = (typeof DerivedField)[number]

export const WindowAggregation = ['count', 'sum', 'mean', 'amount_over_mean', 'seconds_since_last'] as const
export type WindowAggregation = (typeof WindowAggregation)[number]

export type FeatureDefinition =
  | { readonly kind: 'derived'; readonly name: string; readonly field: DerivedField; readonly description: string }
  | {
      readonly kind: 'window'
      readonly name: string
      readonly key: 'card'
      readonly aggregation: WindowAggregation
      /** The window at event time t covers (t − spanMs, t], the current transaction included. */
      readonly spanMs: number
      readonly description: string
    }

/**
 * The feature-contract version: a hash of everything that changes a value (names, order, aggregations, spans),
 * not of descriptions. A model is bound to the hash it was trained with.
 */
export function featureContractHash(definitions: readonly FeatureDefinition[]): string {
  const semantic = definitions.map((d) =>
    d.kind === 'derived' ? ['derived', d.name, d.field] : ['window', d.name, d.key, d.aggregation, d.spanMs],
  )
  return createHash('sha256').update(JSON.stringify(semantic)).digest('hex').slice(0, 16)
}

/** The longest window span: the history a key must keep, and the horizon a restore must replay. */
export function longestSpanMs(definitions: readonly FeatureDefinition[]): number {
  let longest = 0
  for (const d of definitions) if (d.kind === 'window' && d.spanMs > longest) longest = d.spanMs
  return longest
}
