import type { LookupDistinctField } from '../features/feature-definition.js'
import { lookupKeyOf, type LookupIds, type LookupPlan } from './lookup-plan.js'

/**
 * Records of the internal repartition topic, keyed by table key (`terminal:<id>`), produced by the scoring stage
 * (transactions) and the label router (labels), consumed by the lookup aggregator.
 *
 * `source` names the partition a fact comes from (`tx/3`, `labels/0`) and `offset` its offset there: together
 * they make re-emissions after a restart recognisable. Markers carry a source's event-time watermark to every
 * repartition partition: all of that source's later facts have a time at or above it (Flink's watermarks
 * through a shuffle). An idle source (caught up, nothing waiting) does not hold the others back.
 */
export type LookupFact =
  /** `values`: the transaction's values of the fields distinct_count features of the key's kind count. */
  | {
      readonly kind: 'tx'
      readonly key: string
      readonly source: string
      readonly offset: number
      readonly eventTimeMs: number
      readonly amount: number
      readonly values?: Readonly<Partial<Record<LookupDistinctField, string>>>
    }
  | {
      readonly kind: 'label'
      readonly key: string
      readonly source: string
      readonly offset: number
      readonly transactionId: string
      readonly eventTimeMs: number
      readonly reportedAtMs: number
      readonly isFraud: boolean
    }
  /**
   * `throughOffset`: the source offset the watermark is as of (labels: where a new owner resumes). A labels source
   * whose labels wait for their transaction (PendingLabels) adds `heldFromMs`, the oldest reported_at waiting, and
   * `readThroughOffset`, the last offset read: an idle claim then covers the records through `readThroughOffset`
   * and counts as complete below `heldFromMs` instead of +∞.
   */
  | {
      readonly kind: 'marker'
      readonly source: string
      readonly watermarkMs: number
      readonly idle: boolean
      readonly throughOffset: number
      readonly heldFromMs?: number
      readonly readThroughOffset?: number
    }

export type KeyedFact = Exclude<LookupFact, { kind: 'marker' }>

export type SourceKind = 'tx' | 'labels'

export function sourceId(kind: SourceKind, partition: number): string {
  return `${kind}/${partition}`
}

export function sourceKindOf(source: string): SourceKind {
  return source.startsWith('labels/') ? 'labels' : 'tx'
}

/** The facts one valid, on-time transaction contributes: one per key kind the lookup features read. */
export function transactionFacts(
  plan: LookupPlan,
  tx: LookupIds & Partial<Record<LookupDistinctField, string>> & { eventTimeMs: number; amount: number },
  source: string,
  offset: number,
): KeyedFact[] {
  const facts: KeyedFact[] = []
  for (const kind of plan.keys) {
    const key = lookupKeyOf(kind, tx)
    if (key === undefined) continue
    const fact: KeyedFact = { kind: 'tx', key, source, offset, eventTimeMs: tx.eventTimeMs, amount: tx.amount }
    const fields = plan.distinctFields.get(kind)
    facts.push(
      fields
        ? {
            ...fact,
            values: Object.fromEntries(
              fields.flatMap((field) => (tx[field] === undefined ? [] : [[field, tx[field]]])),
            ),
          }
        : fact,
    )
  }
  return facts
}

/** A label as the router sees it: Label v1 plus the original transaction's fields that fraud reports carry. */
export interface RoutableLabel extends LookupIds {
  readonly transaction_id: string
  readonly is_fraud: boolean
  readonly reportedAtMs: number
  readonly transactionTimeMs?: number | undefined
}

/** The facts of a label: one per key kind whose id the label carries (none without the transaction's time). */
export function labelFacts(plan: LookupPlan, label: RoutableLabel, source: string, offset: number): KeyedFact[] {
  if (label.transactionTimeMs === undefined) return []
  const facts: KeyedFact[] = []
  for (const kind of plan.keys) {
    const key = lookupKeyOf(kind, label)
    if (key === undefined) continue
    facts.push({
      kind: 'label',
      key,
      source,
      offset,
      transactionId: label.transaction_id,
      eventTimeMs: label.transactionTimeMs,
      reportedAtMs: label.reportedAtMs,
      isFraud: label.is_fraud,
    })
  }
  return facts
}
