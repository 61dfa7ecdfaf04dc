import type { DeadLetterReason } from '../core/records.js'
import type { Transaction } from '../core/transaction-v1.js'
import { decodeTransaction } from '../stages/decode/decode-transaction.js'
import { Dedupe } from '../stages/dedupe/dedupe.js'
import { longestSpanMs, type FeatureDefinition } from '../stages/features/feature-definition.js'
import { toFeatureRow, type FeatureRowFn } from '../stages/features/to-feature-row.js'
import { CardWindows } from '../stages/windows/card-windows.js'

export interface PartitionStateOptions {
  readonly features: readonly FeatureDefinition[]
  readonly maxRecordBytes: number
  readonly dedupeHorizonMs: number
  readonly dedupeMaxEntries: number
  readonly allowedLatenessMs: number
}

export type ProcessedRecord =
  | { readonly kind: 'invalid'; readonly reason: DeadLetterReason; readonly message: string }
  | { readonly kind: 'duplicate'; readonly tx: Transaction }
  | { readonly kind: 'features'; readonly tx: Transaction; readonly row: Float32Array; readonly late: boolean }

const EVICTION_EVERY_RECORDS = 5_000

/**
 * The stateful part of the dataflow for one source partition: decode → dedupe → windows → feature row.
 * The live job, the restore replay and offline feature computation (training, backtests) all run records through
 * this one class, so a feature vector is computed one way everywhere.
 */
export class PartitionState {
  readonly dedupe: Dedupe
  readonly windows: CardWindows
  readonly #toRow: FeatureRowFn
  #sinceEviction = 0

  constructor(readonly options: PartitionStateOptions) {
    this.dedupe = new Dedupe({ horizonMs: options.dedupeHorizonMs, maxEntries: options.dedupeMaxEntries })
    this.windows = new CardWindows({ maxSpanMs: longestSpanMs(options.features), allowedLatenessMs: options.allowedLatenessMs })
    this.#toRow = toFeatureRow(options.features)
  }

  process(value: Uint8Array | null): ProcessedRecord {
    const decoded = decodeTransaction(value, { maxRecordBytes: this.options.maxRecordBytes })
    if (decoded.kind === 'invalid') return decoded
    const tx = decoded.tx
    if (this.dedupe.isDuplicate(tx.transaction_id, tx.eventTimeMs)) return { kind: 'duplicate', tx }
    const row = this.#toRow(tx, this.windows)
    const { late } = this.windows.add(tx.card_id, tx.eventTimeMs, tx.amount)
    if (++this.#sinceEviction >= EVICTION_EVERY_RECORDS) {
      this.#sinceEviction = 0
      this.windows.evictIdle()
    }
    return { kind: 'features', tx, row, late }
  }
}
