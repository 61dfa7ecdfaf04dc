import type { Config } from '../config/schema.js'
import type { DeadLetterReason } from '../core/records.js'
import type { Transaction } from '../core/transaction-v1.js'
import { decodeRecord } from '../stages/decode/decode-stage.js'
import { decodeTransactionText, type DecodeResult } from '../stages/decode/decode-transaction.js'
import { Dedupe, type DedupeSnapshot } from '../stages/dedupe/dedupe.js'
import type { FeatureDefinition } from '../stages/features/feature-definition.js'
import { CardFeatures } from '../stages/windows/card-features.js'
import type { CardWindows, CardWindowsSnapshot } from '../stages/windows/card-windows.js'

export interface PartitionStateOptions {
  readonly features: readonly FeatureDefinition[]
  readonly maxRecordBytes: number
  readonly dedupeHorizonMs: number
  readonly dedupeMaxEntries: number
  readonly allowedLatenessMs: number
  /** Window-state budget per partition (estimated bytes); see CardWindows.enforceBudget for the policy. */
  readonly maxStateBytes?: number
  /** How far an event_time may be ahead of its record's timestamp (see decode); unbounded without. */
  readonly maxEventTimeAheadMs?: number
}

export type ProcessedRecord =
  | { readonly kind: 'invalid'; readonly reason: DeadLetterReason; readonly message: string }
  | { readonly kind: 'duplicate'; readonly tx: Transaction }
  /**
   * `row`: the array holding the feature row, at the `at` the caller gave with `rows`, or a row of its own (see
   * observe). `lookupAtMs`: the time the transaction's lookup features are read at.
   */
  | {
      readonly kind: 'features'
      readonly tx: Transaction
      readonly row: Float32Array
      readonly late: boolean
      readonly lookupAtMs: number
    }

/** The state settings of a configuration: the job, `fraudstream features` and training must all agree on them. */
export function partitionStateOptions(
  config: Pick<Config, 'decode' | 'dedupe' | 'windows'>,
  features: readonly FeatureDefinition[],
): PartitionStateOptions {
  return {
    features,
    maxRecordBytes: config.decode.maxRecordBytes,
    dedupeHorizonMs: config.dedupe.horizonMs,
    dedupeMaxEntries: config.dedupe.maxEntriesPerPartition,
    allowedLatenessMs: config.windows.allowedLatenessMs,
    maxStateBytes: config.windows.maxStateBytesPerPartition,
    maxEventTimeAheadMs: config.decode.maxEventTimeAheadMs,
  }
}

/** A partition's state after every record below `offset`: what recovery loads instead of replaying from the start. */
export interface PartitionSnapshot {
  readonly version: 3
  /** State computed under other feature definitions or settings would give other vectors: such snapshots are ignored. */
  readonly fingerprint: string
  readonly offset: number
  readonly sinceEviction: number
  readonly dedupe: DedupeSnapshot
  readonly windows: CardWindowsSnapshot
}

/**
 * The stateful part of the dataflow for one source partition outside the stream: decode → dedupe → card features,
 * the same stage logic the topology runs, for `fraudstream features`, training and the tests' reference runs.
 */
export class PartitionState {
  readonly dedupe: Dedupe
  readonly features: CardFeatures

  constructor(
    readonly options: PartitionStateOptions,
    snapshot?: PartitionSnapshot,
  ) {
    const dedupeOptions = { horizonMs: options.dedupeHorizonMs, maxEntries: options.dedupeMaxEntries }
    this.dedupe = snapshot ? Dedupe.fromSnapshot(dedupeOptions, snapshot.dedupe) : new Dedupe(dedupeOptions)
    this.features = new CardFeatures(
      options,
      snapshot && { sinceEviction: snapshot.sinceEviction, windows: snapshot.windows },
    )
  }

  /** The card log every window feature reads; it also decides lateness. */
  get windows(): CardWindows {
    return this.features.windows
  }

  /** Cards dropped to stay within maxStateBytes: each one's next features start from empty. */
  get budgetEvictions(): number {
    return this.features.budgetEvictions
  }

  get estimatedBytes(): number {
    return this.windows.estimatedBytes
  }

  /** Settings that change computed state, and the card log's columns; a snapshot is only valid for the same fingerprint. */
  static fingerprint(options: PartitionStateOptions): string {
    return `${CardFeatures.fingerprint(options)}:${options.dedupeHorizonMs}:${options.dedupeMaxEntries}:${options.maxRecordBytes}:${options.maxEventTimeAheadMs ?? 'unbounded'}`
  }

  toSnapshot(offset: number): PartitionSnapshot {
    const { sinceEviction, windows } = this.features.toSnapshot()
    return {
      version: 3,
      fingerprint: PartitionState.fingerprint(this.options),
      offset,
      sinceEviction,
      dedupe: this.dedupe.toSnapshot(),
      windows,
    }
  }

  process(value: Uint8Array | null, rows?: Float32Array, at?: number): ProcessedRecord {
    return this.processDecoded(this.decode(value), rows, at)
  }

  /** The decode stage's check (decodeRecord) with this state's settings. */
  decode(value: Uint8Array | null, recordTimestampMs?: number): DecodeResult {
    return decodeRecord(value, recordTimestampMs, this.options)
  }

  /** `decode` for a value without a record timestamp, read as ASCII text (decodeTransactionText). */
  decodeText(text: string): DecodeResult {
    return decodeTransactionText(text, this.options)
  }

  /** `process` after `decode`. */
  processDecoded(decoded: DecodeResult, rows?: Float32Array, at?: number): ProcessedRecord {
    if (decoded.kind === 'invalid') return decoded
    const tx = decoded.tx
    if (this.dedupe.isDuplicate(tx.transaction_id, tx.eventTimeMs)) return { kind: 'duplicate', tx }
    const { row, late, lookupAtMs } = this.observe(tx, rows, at)
    return { kind: 'features', tx, row, late, lookupAtMs }
  }

  /** Starts loading the card state of transactions about to be processed (CardWindows.warm). Changes nothing. */
  warm(txs: readonly Transaction[]): void {
    this.windows.warm(txs)
  }

  /** The card-features part of `process`, for benchmarks and offline tools that already hold decoded transactions. */
  observe(tx: Transaction, rows?: Float32Array, at?: number): { row: Float32Array; late: boolean; lookupAtMs: number } {
    return this.features.observe(tx, rows, at)
  }
}
