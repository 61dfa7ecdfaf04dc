import type { Config } from '../config/schema.js'
import { DeadLetterReason } from '../core/records.js'
import type { Transaction } from '../core/transaction-v1.js'
import { decodeTransaction, type DecodeResult } from '../stages/decode/decode-transaction.js'
import { Dedupe, type DedupeSnapshot } from '../stages/dedupe/dedupe.js'
import { featureContractHash, type FeatureDefinition } from '../stages/features/feature-definition.js'
import { toFeatureRow, type FeatureRowFn } from '../stages/features/to-feature-row.js'
import { CardWindows, type CardWindowsSnapshot } from '../stages/windows/card-windows.js'
import { eventLayoutOf, type EventLayout } from '../stages/windows/event-layout.js'
import { windowGroupsOf } from '../stages/windows/window-groups.js'

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
  | { readonly kind: 'features'; readonly tx: Transaction; readonly row: Float32Array; readonly late: boolean; readonly lookupAtMs: number }

const EVICTION_EVERY_RECORDS = 5_000

/** The state settings of a configuration: the job, `fraudstream features` and training must all agree on them. */
export function partitionStateOptions(config: Pick<Config, 'decode' | 'dedupe' | 'windows'>, features: readonly FeatureDefinition[]): PartitionStateOptions {
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
 * The stateful part of the dataflow for one source partition: decode → dedupe → windows → feature row.
 * The live job, the restore replay and offline feature computation (training, backtests) all run records through
 * this one class, so a feature vector is computed one way everywhere.
 */
export class PartitionState {
  readonly dedupe: Dedupe
  /** The card log every window feature reads; it also decides lateness. */
  readonly windows: CardWindows
  readonly #layout: EventLayout
  readonly #toRow: FeatureRowFn
  readonly #values: Float64Array
  #sinceEviction = 0
  /** Cards dropped to stay within maxStateBytes: each one's next features start from empty. */
  budgetEvictions = 0

  constructor(readonly options: PartitionStateOptions, snapshot?: PartitionSnapshot) {
    const dedupeOptions = { horizonMs: options.dedupeHorizonMs, maxEntries: options.dedupeMaxEntries }
    this.dedupe = snapshot ? Dedupe.fromSnapshot(dedupeOptions, snapshot.dedupe) : new Dedupe(dedupeOptions)
    const { layout, row, horizonMs, attributesHorizonMs } = toFeatureRow(options.features)
    this.#layout = layout
    this.#toRow = row
    this.#values = new Float64Array(layout.valuesPerEvent)
    const windowOptions = { horizonMs, attributesHorizonMs, allowedLatenessMs: options.allowedLatenessMs, valuesPerEvent: layout.valuesPerEvent }
    this.windows = snapshot ? CardWindows.fromSnapshot(windowOptions, snapshot.windows) : new CardWindows(windowOptions)
    this.#sinceEviction = snapshot?.sinceEviction ?? 0
  }

  get estimatedBytes(): number {
    return this.windows.estimatedBytes
  }

  /** Settings that change computed state, and the card log's columns; a snapshot is only valid for the same fingerprint. */
  static fingerprint(options: PartitionStateOptions): string {
    return `${featureContractHash(options.features)}:${eventLayoutOf(windowGroupsOf(options.features)).signature}:${options.dedupeHorizonMs}:${options.dedupeMaxEntries}:${options.allowedLatenessMs}:${options.maxRecordBytes}:${options.maxStateBytes ?? 'unbounded'}:${options.maxEventTimeAheadMs ?? 'unbounded'}`
  }

  toSnapshot(offset: number): PartitionSnapshot {
    return { version: 3, fingerprint: PartitionState.fingerprint(this.options), offset, sinceEviction: this.#sinceEviction, dedupe: this.dedupe.toSnapshot(), windows: this.windows.toSnapshot() }
  }

  process(value: Uint8Array | null, rows?: Float32Array, at?: number): ProcessedRecord {
    return this.processDecoded(this.decode(value), rows, at)
  }

  /**
   * The decode step of `process`, on its own so a batch can be decoded (and its cards warmed) before it is processed.
   * With the record's Kafka timestamp, an event_time more than maxEventTimeAheadMs ahead of it is invalid: the
   * timestamp is in the log, so a replay decides as the first run did (a wall-clock bound would not).
   */
  decode(value: Uint8Array | null, recordTimestampMs?: number): DecodeResult {
    const decoded = decodeTransaction(value, { maxRecordBytes: this.options.maxRecordBytes })
    const aheadMs = this.options.maxEventTimeAheadMs
    // A timestamp of 0 or less: none recorded (old message formats).
    if (decoded.kind !== 'ok' || aheadMs === undefined || recordTimestampMs === undefined || recordTimestampMs <= 0) return decoded
    if (decoded.tx.eventTimeMs <= recordTimestampMs + aheadMs) return decoded
    return {
      kind: 'invalid',
      reason: DeadLetterReason.eventTimeAhead,
      message: `event_time ${new Date(decoded.tx.eventTimeMs).toISOString()} is more than decode.maxEventTimeAheadMs=${aheadMs} ahead of the record's timestamp ${new Date(recordTimestampMs).toISOString()}`,
    }
  }

  /** `process` after `decode`. */
  processDecoded(decoded: DecodeResult, rows?: Float32Array, at?: number): ProcessedRecord {
    if (decoded.kind === 'invalid') return decoded
    const tx = decoded.tx
    if (this.dedupe.isDuplicate(tx.transaction_id, tx.eventTimeMs)) return { kind: 'duplicate', tx }
    const { row, late, lookupAtMs } = this.observe(tx, rows, at)
    return { kind: 'features', tx, row, late, lookupAtMs }
  }

  /**
   * Starts loading the card state of transactions about to be processed (CardWindows.warm): batches of up to
   * WARM_MAX, in the order they will be processed. Changes nothing.
   */
  warm(txs: readonly Transaction[]): void {
    this.windows.warm(txs)
  }

  /**
   * A valid, unique transaction → its feature row, then into the windows (unless late). The windows part of
   * `process`, on its own for benchmarks and offline tools that already hold decoded transactions.
   *
   * The row is written at `at` of `rows` when given (`row` is then `rows`), else into a row of its own. A caller
   * handling many records keeps their rows side by side in one array: a Float32Array view per record, with the
   * garbage it makes, cost ~85 ns, a tenth of a window update (bench:windows-pair, 1.09).
   */
  observe(tx: Transaction, rows?: Float32Array, at?: number): { row: Float32Array; late: boolean; lookupAtMs: number } {
    // Lookups are read at the event time, or a late transaction's at the partition's watermark: the tables may no
    // longer hold the older windows its own time would read, and what they still hold depends on how far the other
    // partitions have got, which a replay would not repeat. The watermark is this partition's alone.
    const lookupAtMs = Math.max(tx.eventTimeMs, this.windows.watermarkMs)
    const values = this.#layout.fill(tx, this.#values)
    const row = this.#toRow(tx, this.windows, values, rows, at)
    const late = this.windows.add(tx.card_id, tx.eventTimeMs, values)
    if (++this.#sinceEviction >= EVICTION_EVERY_RECORDS) {
      this.#sinceEviction = 0
      // Four table slots per record since the last sweep: a full table holds a key per two slots, so the sweep
      // outpaces key creation (one per record at most) and finds idle keys within a bounded number of records.
      this.windows.evictIdle(4 * EVICTION_EVERY_RECORDS)
      if (this.options.maxStateBytes !== undefined) this.budgetEvictions += this.windows.enforceBudget(this.options.maxStateBytes)
    }
    return { row, late, lookupAtMs }
  }
}
