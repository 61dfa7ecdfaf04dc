import { cardFraudFeatures } from '../../topology/features.js'
import type { Config } from '../config/schema.js'
import type { Transaction } from '../core/transaction-v1.js'
import { TransactionGenerator } from '../generator/transaction-generator.js'
import { PartitionState, partitionStateOptions } from '../offline/partition-state.js'
import { decodeLabel } from '../stages/decode/decode-transaction.js'
import type { FeatureDefinition } from '../stages/features/feature-definition.js'
import { lookupPlanOf } from '../stages/lookups/lookup-plan.js'
import { OfflineLookups } from '../stages/lookups/offline-lookups.js'

/**
 * Feature rows and their labels in event-time order, with what the evaluation needs beside each row: the raw amount
 * (a missed fraud costs it), the card (card precision) and the event time (days). These come from the data source,
 * not from features, because a feature set need not have an `amount` feature, nor keep it raw.
 */
export interface TrainingSet {
  readonly rows: Float32Array[]
  readonly labels: boolean[]
  readonly amounts: number[]
  readonly cardIds: string[]
  readonly eventTimesMs: number[]
  readonly firstEventMs: number
  readonly lastEventMs: number
  readonly source: TrainingSource
}

/** Where the rows came from and how their labels were chosen: goes into the manifest, metrics.json and card.md. */
export type TrainingSource =
  | { readonly kind: 'generator'; readonly seed: number; readonly fraud_rate: number }
  | {
      readonly kind: 'file'
      readonly transactions: string
      readonly labels: string | null
      readonly label_cutoff: string
      readonly label_maturity_days: number
      readonly labels_used: LabelTally
    }
  | {
      readonly kind: 'clickhouse'
      readonly run_id: string
      readonly from: string
      readonly to: string
      readonly label_cutoff: string
      readonly label_maturity_days: number
      readonly labels_used: LabelTally
    }

/** How each row read got its target: what the report states, so a reader sees what the model learnt from. */
export interface LabelTally {
  /** Rows read from the source (for ClickHouse: one per transaction). */
  rows_read: number
  /** The latest label known at the cutoff says fraud. */
  fraud: number
  /** The latest label known at the cutoff says legitimate. */
  labelled_legitimate: number
  /** No label known at the cutoff, and older than the maturity: taken as legitimate. */
  unlabelled_legitimate: number
  /** No label known at the cutoff, and younger than the maturity: fraud may still be reported, so left out. */
  unlabelled_dropped: number
}

export function emptyTally(): LabelTally {
  return { rows_read: 0, fraud: 0, labelled_legitimate: 0, unlabelled_legitimate: 0, unlabelled_dropped: 0 }
}

/**
 * A row's target at the label cutoff: the latest label reported at or before it (`known`, undefined when none), or,
 * for a transaction with none, legitimate once it is `maturityMs` older than the cutoff (fraud is reported weeks
 * later, so a recent unlabelled transaction is not yet a negative); undefined: leave the row out. Counts the choice.
 *
 * | known label | event time               | target     |
 * | ----------- | ------------------------ | ---------- |
 * | fraud       | any                      | fraud      |
 * | legitimate  | any                      | legitimate |
 * | none        | ≤ cutoff − maturity      | legitimate |
 * | none        | > cutoff − maturity      | left out   |
 */
export function targetAtCutoff(
  known: boolean | undefined,
  eventTimeMs: number,
  cutoff: { readonly labelCutoffMs: number; readonly maturityMs: number },
  tally: LabelTally,
): boolean | undefined {
  tally.rows_read++
  if (known === true) {
    tally.fraud++
    return true
  }
  if (known === false) {
    tally.labelled_legitimate++
    return false
  }
  if (eventTimeMs <= cutoff.labelCutoffMs - cutoff.maturityMs) {
    tally.unlabelled_legitimate++
    return false
  }
  tally.unlabelled_dropped++
  return undefined
}

/** Collects rows into a TrainingSet; `finish` orders them by event time (stable: ties keep arrival order). */
export class TrainingSetBuilder {
  readonly #rows: Float32Array[] = []
  readonly #labels: boolean[] = []
  readonly #amounts: number[] = []
  readonly #cardIds: string[] = []
  readonly #eventTimesMs: number[] = []

  get size(): number {
    return this.#rows.length
  }

  add(row: Float32Array, label: boolean, tx: { amount: number; card_id: string; eventTimeMs: number }): void {
    this.#rows.push(row)
    this.#labels.push(label)
    this.#amounts.push(tx.amount)
    this.#cardIds.push(tx.card_id)
    this.#eventTimesMs.push(tx.eventTimeMs)
  }

  finish(source: TrainingSource): TrainingSet {
    const times = this.#eventTimesMs
    const order = times.map((_, i) => i)
    if (!order.every((i) => i === 0 || times[i - 1]! <= times[i]!)) order.sort((a, b) => times[a]! - times[b]! || a - b)
    const pick = <T>(values: readonly T[]) => order.map((i) => values[i]!)
    return {
      rows: pick(this.#rows),
      labels: pick(this.#labels),
      amounts: pick(this.#amounts),
      cardIds: pick(this.#cardIds),
      eventTimesMs: pick(times),
      firstEventMs: times.length ? times[order[0]!]! : NaN,
      lastEventMs: times.length ? times[order[order.length - 1]!]! : NaN,
      source,
    }
  }
}

/**
 * The split by time every model of a training set shares: the oldest 60 % of the rows train, the next 10 % validate
 * (early stopping and threshold tuning; the logistic model also trains on them), the newest 30 % test.
 */
export function timeSplit(rows: number): { readonly validFrom: number; readonly testFrom: number } {
  return { validFrom: Math.floor(rows * 0.6), testFrom: Math.floor(rows * 0.7) }
}

/** Generated transactions' feature rows (the stream's own code path) and their true labels, in event-time order. */
export function generateTrainingSet(options: {
  readonly seed: number
  readonly fraudRate: number
  readonly transactions: number
  readonly config: Pick<Config, 'decode' | 'dedupe' | 'windows'>
  readonly features?: readonly FeatureDefinition[]
  readonly onProgress?: (phase: string, done: number, total: number) => void
}): TrainingSet {
  const features = options.features ?? cardFraudFeatures
  const generator = new TransactionGenerator({ seed: options.seed, fraudRate: options.fraudRate })
  const stateOptions = partitionStateOptions(options.config, features)
  const { allowedLatenessMs, maxRecordBytes } = stateOptions
  const state = new PartitionState(stateOptions)
  // Lookup columns are filled once every transaction and label is in: their windows end in the past, so the
  // complete tables give what the stream reads at scoring time.
  const lookups = new OfflineLookups(lookupPlanOf(features, allowedLatenessMs), allowedLatenessMs)
  const transactions: Transaction[] = []
  const lookupTimes: number[] = []
  const rows: Float32Array[] = []
  const builder = new TrainingSetBuilder()
  while (builder.size < options.transactions) {
    const record = generator.next()
    if (record.topic === 'labels') {
      const decoded = decodeLabel(record.value, { maxRecordBytes })
      if (decoded.kind === 'ok') lookups.addLabel(decoded.label)
      continue
    }
    if (record.intent.kind !== 'valid') continue
    const processed = state.process(record.value)
    if (processed.kind !== 'features') continue
    lookups.addTransaction(processed.tx, processed.late)
    transactions.push(processed.tx)
    lookupTimes.push(processed.lookupAtMs)
    rows.push(processed.row)
    builder.add(processed.row, record.intent.isFraud, processed.tx)
    if (builder.size % 10_000 === 0) options.onProgress?.('features', builder.size, options.transactions)
  }
  rows.forEach((row, i) => lookups.fill(row, transactions[i]!, lookupTimes[i]!))
  return builder.finish({ kind: 'generator', seed: options.seed, fraud_rate: options.fraudRate })
}
