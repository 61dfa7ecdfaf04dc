import type { ModelRef } from './records.js'

export interface TopicPartition {
  readonly topic: string
  readonly partition: number
}

export interface SourceRecord extends TopicPartition {
  readonly offset: number
  readonly key: Buffer | null
  readonly value: Buffer | null
  readonly timestampMs: number
}

export interface PartitionStart extends TopicPartition {
  /** Where reading starts: at or below the committed offset, so state can be rebuilt first. */
  readonly offset: number
}

export interface SourceHandlers {
  /** Resolves to where each partition starts; the source reads nothing from them before it resolves. */
  onAssign(partitions: readonly TopicPartition[]): Promise<readonly PartitionStart[]>
  /** Must finish the partitions' in-flight work and commit before resolving; `lost` means commit is pointless. */
  onRevoke(partitions: readonly TopicPartition[], info: { readonly lost: boolean }): Promise<void>
  onRecords(records: readonly SourceRecord[]): void
  /** The broker's answer to a non-blocking commit: only now is an offset known to be committed. */
  onCommitted(result: CommitResult): void
  onError(err: Error): void
}

export interface CommitResult {
  readonly offsets: readonly CommitOffset[]
  readonly error?: Error
  /** The broker says a rebalance is under way or this member's generation is gone: stop committing until it ends. */
  readonly rebalancing?: boolean
}

export interface CommitOffset extends TopicPartition {
  /** The next offset to read: last processed + 1. */
  readonly offset: number
}

/** A partitioned, replayable log read by a consumer group: Kafka in every deployment. */
export interface PartitionedSource {
  start(handlers: SourceHandlers): Promise<void>
  pause(partitions: readonly TopicPartition[]): void
  resume(partitions: readonly TopicPartition[]): void
  /**
   * sync: resolves true once committed, false if the partitions are no longer ours (a rebalance won); otherwise
   * resolves true once queued and the outcome arrives through `onCommitted`.
   */
  commit(offsets: readonly CommitOffset[], options: { sync: boolean }): Promise<boolean>
  /** Committed offsets of the group; undefined where none is committed. */
  committed(partitions: readonly TopicPartition[]): Promise<(number | undefined)[]>
  watermarks(partition: TopicPartition): Promise<{ low: number; high: number }>
  /**
   * Stops delivering records but stays in the group, taking part in its rebalances, so the caller can drain and
   * commit (OffsetCommitter.commitBeforeLeaving).
   */
  stopPolling(): Promise<void>
  /** Leaves the group; a final revoke runs first. */
  stop(): Promise<void>
}

export interface OutgoingRecord {
  readonly topic: string
  readonly key: string | null
  /** null = a tombstone: compaction deletes the key. */
  readonly value: Buffer | null
  /** The Kafka record timestamp; defaults to the wall clock. Generators set the event time. */
  readonly timestampMs?: number
  /** An explicit partition (watermark markers go to every partition); otherwise the key's partition. */
  readonly partition?: number
}

/** A topic sink: `onAck` runs once the broker has acknowledged the record (from a delivery report). */
export interface RecordSink {
  send(record: OutgoingRecord, onAck: () => void): void
  flush(): Promise<void>
  close(): Promise<void>
}

/** Rows for ClickHouse, batched as contiguous offset ranges per source partition; `onAck` after the row's batch is acknowledged. */
export interface ScoreSink {
  /** Every row of one offset, which go into the same batch. */
  add(
    topic: string,
    partition: number,
    offset: number,
    rows: readonly Record<string, unknown>[],
    onAck: () => void,
  ): void
  flush(filter?: TopicPartition): Promise<void>
  drop(topic: string, partition: number): void
}

/** Label rows for ClickHouse: the same per-partition batching and acknowledgement as scores. */
export type LabelSink = ScoreSink

/** How a model takes part in scoring: the champion decides; a challenger decides for its arm; a shadow never does. */
export type ModelRole = 'champion' | 'challenger' | 'shadow'

/** One model's answer for a batch: a probability per row and, when its graph explains, each row's top features. */
export interface ModelScores {
  readonly model: ModelRef
  readonly role: ModelRole
  /** The model's own cut-offs (its manifest's, else the configured ones). */
  readonly thresholds: { readonly review: number; readonly decline: number }
  readonly scores: Float32Array
  /**
   * The `k` largest contributions (by magnitude, margin space) of each row: row i's are at [i·k, i·k + k), feature
   * indexes in the contract's order (−1 past the last one) and their values. Only for models that decide.
   */
  readonly explanation?: { readonly k: number; readonly features: Int32Array; readonly values: Float32Array }
}

/** A batch scored by every model of one lineup: the champion first, then the challenger, then the shadows. */
export interface ScoredBatch {
  readonly models: readonly ModelScores[]
  /** Set when a challenger runs: the share of cards (0–100) whose transactions it decides. */
  readonly challengerPercent?: number
}

/**
 * Scores a batch of feature rows, row-major float32 [rows × width], in worker threads. A batch is scored by one
 * lineup from start to end: a promotion takes effect at the next batch.
 */
export interface Scorer {
  /** The champion batches are scored with now. */
  readonly model: ModelRef
  readonly featureNames: readonly string[]
  score(rows: Float32Array, rowCount: number): Promise<ScoredBatch>
  close(): Promise<void>
}

/**
 * Durable per-partition state snapshots, each covering every record below its offset. Embedded deployment: files
 * under `<dataDir>/state`; several snapshots per partition are kept because only one at or below the committed
 * offset can be used.
 */
export interface SnapshotStore {
  /**
   * Stores a snapshot covering the records below `offset`, then deletes older ones as snapshotsToDelete says, keeping
   * the newest at or below `committedOffset` (the partition's committed offset now).
   */
  save(partition: TopicPartition, offset: number, bytes: Uint8Array, committedOffset: number): Promise<void>
  /** The newest snapshot whose offset is ≤ maxOffset. */
  loadLatest(partition: TopicPartition, maxOffset: number): Promise<{ offset: number; bytes: Uint8Array } | undefined>
  /** Forgets every snapshot: used when the log behind them is gone (a new embedded cluster). */
  clear(): Promise<void>
}

/** What a label needs from its transaction to reach the lookup tables: the keys it counts under, and its time. */
export interface TransactionAttributes {
  readonly terminal_id?: string | undefined
  readonly merchant_id?: string | undefined
  readonly customer_id?: string | undefined
  readonly device_id?: string | undefined
  readonly transactionTimeMs: number
}

/**
 * Where the attributes of transactions already seen are found, for labels that carry the transaction id alone
 * (a bank's chargeback or an analyst's verdict): the `scores` table in both deployments. Ids it does not know are
 * absent from the answer; a failed lookup rejects (retryable).
 */
export interface TransactionAttribution {
  resolve(transactionIds: readonly string[]): Promise<ReadonlyMap<string, TransactionAttributes>>
}
