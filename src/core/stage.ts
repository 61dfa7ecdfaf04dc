import type { Clock } from './clock.js'
import type { DeadLetterReason } from './records.js'
import type { SourceRecord, TopicPartition } from './ports.js'

/**
 * A record on its way through the graph: the source record it came from and the value the previous node emitted.
 * Items are created by the runtime; a stage reads them and emits new values from them.
 */
export interface Item<T> {
  readonly origin: SourceRecord
  readonly value: T
  /** Clock.nowMs when the source handed the record over: where poll → decision latency starts. */
  readonly receivedAtMs: number
  /**
   * Below the partition's committed offset: the record rebuilds state after an assignment, and the runtime drops
   * what it becomes after the last stage that keeps state, so nothing of it reaches a sink twice.
   */
  readonly replay: boolean
}

/** The logger a stage gets, already a child with `{ stage }`. Object first, constant message (STYLE §6). */
export interface StageLog {
  debug(fields: object, msg: string): void
  info(fields: object, msg: string): void
  warn(fields: object, msg: string): void
  error(fields: object, msg: string): void
}

/** Metrics already labelled with the stage's name. */
export interface StageMetrics {
  /** `fraudstream_stage_records_total{stage, outcome}`: what became of the records (duplicate, late, stale, …). */
  count(outcome: string, n?: number): void
}

/** What the runtime knows of an owned partition, for stages that must tell a quiet partition from a busy one. */
export interface PartitionProgress {
  readonly tp: TopicPartition
  /** The next offset this member will read. */
  readonly nextOffset: number
  /** The log end, as last asked of the broker. */
  readonly highWatermark: number
  /** Clock.nowMs of the partition's last record, or of its assignment before the first. */
  readonly lastRecordAtMs: number
  /** Still replaying records below its committed offset. */
  readonly restoring: boolean
  /** The first offset processed live (the committed one): records below it were processed by a predecessor. */
  readonly liveFromOffset: number
}

/** A partition's log end (high watermark) as the broker answered a query sent at `askedAtMs` (Clock.nowMs). */
export interface LogEnd {
  readonly offset: number
  readonly askedAtMs: number
}

/**
 * The log ends of topics' partitions (the source's, owned or not, and any other the stage reads through others, such as
 * the labels the lookup tables are built from), asked of the broker on demand. A stage that must know whether a
 * partition has records nobody has seen yet (Kafka Streams' "known zero lag", KIP-695) asks, and trusts only an answer
 * to a query sent after the moment it cares about.
 */
export interface SourceLogEnds {
  /** The last answer for a partition, undefined before the first. */
  get(topic: string, partition: number): LogEnd | undefined
  /**
   * Asks for answers to queries sent at or after `sinceMs` (Clock.nowMs): a query in flight that started since
   * serves, otherwise one starts after it. The stage's `onTimer` runs once they answered.
   */
  refresh(topic: string, partitions: Iterable<number>, sinceMs: number): void
}

/** A failure that sends a record to the dead-letter topic. `code` is stable (FS_ERR_…), `message` says what is wrong. */
export interface DeadLetterFailure {
  readonly code: string
  readonly message: string
}

/** Given to `process` and `onTimer`, valid only during that call (or until the promise `process` returned settles). */
export interface StageContext<Out> {
  /** Hands `value` to the next node as an item of the same source record. An item not emitted ends here. */
  emit(from: Item<unknown>, value: Out): void
  /** The record goes to the dead-letter topic with `reason`; its offset is committed only after that is acknowledged. */
  deadLetter(from: Item<unknown>, reason: DeadLetterReason, failure: DeadLetterFailure): void
  /**
   * One more acknowledgement the item's source offset waits for before it may be committed (a sink's delivery):
   * call the returned function once, when the sink has acknowledged. With `phase`, the time until then is recorded as
   * `fraudstream_stage_duration_seconds{stage="<node>:<phase>"}` (the node's own time the runtime measures itself).
   */
  hold(from: Item<unknown>, phase?: string): () => void
  readonly clock: Clock
  readonly log: StageLog
  readonly metrics: StageMetrics
  /** The partitions this member owns now. */
  partitions(): Iterable<PartitionProgress>
}

/** Given to `open`: what a stage may keep for its lifetime. */
export interface StageOpenContext {
  readonly clock: Clock
  readonly log: StageLog
  readonly metrics: StageMetrics
  /** Asks the runtime to call `onTimer` soon (e.g. a lookup table made progress): coalesced, never re-entrant. */
  wake(): void
  readonly logEnds: SourceLogEnds
}

/**
 * A named node of a topology. Only `process` is required (Kafka Streams' Processor, Arroyo's operator): it gets a
 * batch of items, in offset order within each partition, and emits, dead-letters or drops each. A stage that
 * returns a promise is asynchronous: the runtime delivers what it emitted once the promise settles, batches in the
 * order they were submitted (Flink's ordered async I/O), so each partition's items stay in offset order.
 *
 * Partition-local state follows the partition: `restore` when it is assigned (with the stage's part of the newest
 * usable snapshot, or undefined to start empty), `snapshot` when the runtime writes one, `release` when it is
 * revoked. `fingerprint` names what the state depends on: a snapshot of another fingerprint is not restored.
 */
export interface Stage<In, Out> {
  readonly name: string
  process(batch: readonly Item<In>[], ctx: StageContext<Out>): void | Promise<void>
  open?(ctx: StageOpenContext): void | Promise<void>
  /** Periodic work (time-driven releases, publishing): every `timerIntervalMs`, and after `wake()`. */
  onTimer?(ctx: StageContext<Out>): void
  readonly timerIntervalMs?: number
  restore?(tp: TopicPartition, snapshot: unknown): void | Promise<void>
  snapshot?(tp: TopicPartition): unknown
  readonly fingerprint?: string
  /** Sends what the stage buffers for `tp` (or every partition) now: a revocation or a stop is draining. */
  flush?(tp?: TopicPartition): void
  release?(tp: TopicPartition): void
  close?(): Promise<void>
}

/** The key stages use for partition-local state. */
export function partitionKey(tp: TopicPartition): string {
  return `${tp.topic}:${tp.partition}`
}
