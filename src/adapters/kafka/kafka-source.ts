import Kafka from 'node-rdkafka'
import type { Logger } from 'pino'
import { ErrorCode, errorMessageOf, FraudstreamError } from '../../core/errors.js'
import type { CommitOffset, PartitionedSource, SourceHandlers, SourceRecord, TopicPartition } from '../../core/ports.js'
import { queryWatermarks, toSourceRecord } from './consumer-helpers.js'
import { kafkaErrorOf, librdkafkaCodeOf } from './kafka-errors.js'

const ASSIGN = Kafka.CODES.ERRORS.ERR__ASSIGN_PARTITIONS
const REVOKE = Kafka.CODES.ERRORS.ERR__REVOKE_PARTITIONS
/** librdkafka's "no committed offset" sentinel (RD_KAFKA_OFFSET_INVALID). */
const OFFSET_INVALID = -1001
/**
 * Commit errors that mean "this member no longer owns the partition" (a rebalance or a session timeout happened):
 * the new owner reprocesses from its committed offset, so these commits are dropped, never retried.
 */
const OWNERSHIP_LOST = new Set([
  Kafka.CODES.ERRORS.ERR__STATE,
  Kafka.CODES.ERRORS.ERR_ILLEGAL_GENERATION,
  Kafka.CODES.ERRORS.ERR_UNKNOWN_MEMBER_ID,
  Kafka.CODES.ERRORS.ERR_REBALANCE_IN_PROGRESS,
  Kafka.CODES.ERRORS.ERR__ASSIGNMENT_LOST,
])

export interface KafkaSourceOptions {
  readonly clientConfig: Record<string, string | number | boolean>
  readonly groupId: string
  readonly topics: readonly string[]
  readonly autoOffsetReset: 'earliest' | 'latest' | 'error'
  readonly sessionTimeoutMs: number
  readonly heartbeatIntervalMs: number
  readonly consumeBatchSize: number
  /** How long a fetch may wait for data: ~1–5 ms where latency matters, longer for background stages. */
  readonly fetchWaitMaxMs?: number
  readonly log: Logger
}

/**
 * A node-rdkafka consumer in a group with manual offsets: auto-commit and auto offset store are off, and nothing is
 * committed but what the runtime hands to `commit()`. Rebalances use cooperative-sticky; the rebalance callback
 * waits for the runtime's async `onAssign`/`onRevoke` before (un)assigning, which librdkafka allows because it
 * blocks the group protocol, not the process, until assign/unassign is called.
 */
export class KafkaSource implements PartitionedSource {
  readonly #consumer: Kafka.KafkaConsumer
  #handlers: SourceHandlers | undefined
  #running = false
  /** Cleared by stopPolling: polls go on (they serve the group's rebalances) but hand no record on. */
  #delivering = false
  /** Set once `stop` disconnects: a rebalance failing after it is the disconnect's doing, not the job's. */
  #disconnecting = false
  #loopDone: Promise<void> = Promise.resolve()
  /** Serialises rebalance work: librdkafka will not start a new rebalance before assign/unassign returns. */
  #rebalancing: Promise<void> = Promise.resolve()

  constructor(readonly options: KafkaSourceOptions) {
    this.#consumer = new Kafka.KafkaConsumer(
      {
        // A subscription to a topic that does not exist yet only notices it at the next metadata refresh
        // (librdkafka default: 5 minutes); the job should start scoring within seconds of the first record.
        'topic.metadata.refresh.interval.ms': 5_000,
        ...options.clientConfig,
        'group.id': options.groupId,
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        'partition.assignment.strategy': 'cooperative-sticky',
        'session.timeout.ms': options.sessionTimeoutMs,
        'heartbeat.interval.ms': options.heartbeatIntervalMs,
        'fetch.wait.max.ms': options.fetchWaitMaxMs ?? 5,
        // consume(n) waits up to its timeout for each next record until it has n; an end-of-partition event makes it
        // return what it has (node-rdkafka then polls with 1 ms), so a poll takes what is there instead of filling up.
        'enable.partition.eof': true,
        'isolation.level': 'read_committed',
        rebalance_cb: (err: Kafka.LibrdKafkaError, assignment: Kafka.Assignment[]) =>
          this.#onRebalance(err, assignment),
        offset_commit_cb: true,
      } as Kafka.ConsumerGlobalConfig,
      { 'auto.offset.reset': options.autoOffsetReset },
    )
  }

  /** The handlers given to `start`; a callback of the consumer before it (none is subscribed then) is a broken invariant. */
  #started(): SourceHandlers {
    if (!this.#handlers)
      throw new FraudstreamError(
        ErrorCode.internal,
        'KafkaSource called back before start() gave it handlers',
        'internal',
      )
    return this.#handlers
  }

  async start(handlers: SourceHandlers): Promise<void> {
    this.#handlers = handlers
    await new Promise<void>((resolve, reject) =>
      this.#consumer.connect({ timeout: 30_000 }, (err) =>
        err ? reject(kafkaErrorOf(err, ErrorCode.kafkaConnect, 'consumer cannot connect')) : resolve(),
      ),
    )
    this.#consumer.on(
      'offset.commit',
      (err: Kafka.LibrdKafkaError | undefined, offsets: Kafka.TopicPartitionOffset[]) => {
        const committed = (offsets ?? []).map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset }))
        if (err && err.code !== Kafka.CODES.ERRORS.ERR__NO_OFFSET) {
          this.options.log.warn({ err, offsets: committed }, 'commit failed; it is sent again once the group is stable')
          handlers.onCommitted({
            offsets: committed,
            error: kafkaErrorOf(err, ErrorCode.kafkaCommit, 'commit failed'),
            rebalancing: OWNERSHIP_LOST.has(err.code),
          })
        } else handlers.onCommitted({ offsets: committed })
      },
    )
    this.#consumer.setDefaultConsumeTimeout(20)
    this.#consumer.subscribe([...this.options.topics])
    this.#running = true
    this.#delivering = true
    this.#loopDone = this.#loop()
  }

  async #loop(): Promise<void> {
    while (this.#running) {
      const records = await new Promise<SourceRecord[]>((resolve) => {
        this.#consumer.consume(this.options.consumeBatchSize, (err, messages) => {
          if (err) {
            // Before the first produce the topic does not exist yet; that is a normal start, not a warning.
            const level = err.code === Kafka.CODES.ERRORS.ERR_UNKNOWN_TOPIC_OR_PART ? 'debug' : 'warn'
            this.options.log[level]({ err }, 'consume failed')
            if (level === 'warn') this.#started().onError(kafkaErrorOf(err, ErrorCode.kafkaConsume, 'consume failed'))
            resolve([])
            return
          }
          resolve(messages.map(toSourceRecord))
        })
      })
      if (records.length > 0 && this.#delivering) this.#started().onRecords(records)
    }
  }

  #onRebalance(err: Kafka.LibrdKafkaError, assignment: Kafka.Assignment[]): void {
    const partitions = assignment.map((a) => ({ topic: a.topic, partition: a.partition }))
    const cooperative = this.#consumer.rebalanceProtocol() === 'COOPERATIVE'
    this.#rebalancing = this.#rebalancing.then(async () => {
      try {
        if (err.code === ASSIGN) {
          // Called even with no partitions: under cooperative rebalancing an empty ASSIGN is how a member learns
          // that the rebalance it took part in is over.
          const starts = await this.#started().onAssign(partitions)
          if (cooperative) this.#consumer.incrementalAssign(starts.map((s) => ({ ...s })))
          else this.#consumer.assign(starts.map((s) => ({ ...s })))
        } else if (err.code === REVOKE) {
          try {
            if (partitions.length > 0) await this.#started().onRevoke(partitions, { lost: false })
          } finally {
            // Unassigned even when the handler failed: librdkafka waits for it, and a consumer closing would hang.
            if (cooperative) this.#consumer.incrementalUnassign(assignment)
            else this.#consumer.unassign()
          }
        } else {
          // Any other code is an error of the group protocol; librdkafka expects the assignment dropped.
          this.options.log.warn({ err }, 'rebalance error; dropping the assignment')
          if (partitions.length > 0) await this.#started().onRevoke(partitions, { lost: true })
          this.#consumer.unassign()
        }
      } catch (cause) {
        // During disconnect the consumer refuses (un)assign (isConnected can still say yes then): expected, logged;
        // anything else is a real failure of the job.
        if (this.#consumer.isConnected() && !this.#disconnecting)
          this.#started().onError(
            new FraudstreamError(
              ErrorCode.kafkaRebalance,
              `rebalance handling failed: ${errorMessageOf(cause)}`,
              'internal',
              false,
              { cause },
            ),
          )
        else this.options.log.info({ err: cause }, 'rebalance during disconnect not completed')
      }
    })
  }

  pause(partitions: readonly TopicPartition[]): void {
    if (partitions.length > 0) this.#consumer.pause(partitions.map((p) => ({ ...p })))
  }

  resume(partitions: readonly TopicPartition[]): void {
    if (partitions.length > 0) this.#consumer.resume(partitions.map((p) => ({ ...p })))
  }

  async commit(offsets: readonly CommitOffset[], options: { sync: boolean }): Promise<boolean> {
    if (offsets.length === 0) return true
    // The final revoke of a closing consumer: node-rdkafka refuses commits by then, and the caller committed before closing.
    if (!this.#consumer.isConnected()) return false
    const toppars = offsets.map((o) => ({ ...o }))
    try {
      if (options.sync) this.#consumer.commitSync(toppars)
      else this.#consumer.commit(toppars)
      return true
    } catch (err) {
      if (OWNERSHIP_LOST.has(librdkafkaCodeOf(err) ?? 0)) {
        this.options.log.warn(
          { err, offsets },
          'commit refused: partition no longer owned; the new owner reprocesses from the last commit',
        )
        return false
      }
      throw kafkaErrorOf(err, ErrorCode.kafkaCommit, 'commit failed')
    }
  }

  committed(partitions: readonly TopicPartition[]): Promise<(number | undefined)[]> {
    return new Promise((resolve, reject) => {
      this.#consumer.committed(
        partitions.map((p) => ({ ...p })),
        10_000,
        (err, offsets) => {
          if (err) return reject(kafkaErrorOf(err, ErrorCode.kafkaMetadata, 'cannot read committed offsets'))
          resolve(
            partitions.map((p) => {
              const found = offsets.find((o) => o.topic === p.topic && o.partition === p.partition)
              return found && found.offset !== OFFSET_INVALID && found.offset >= 0 ? found.offset : undefined
            }),
          )
        },
      )
    })
  }

  watermarks(partition: TopicPartition): Promise<{ low: number; high: number }> {
    return queryWatermarks(this.#consumer, partition.topic, partition.partition)
  }

  /**
   * Stops handing records on; the caller drains and commits, then `stop` lets the final revoke run. Polls go on
   * meanwhile, each record they fetch dropped uncommitted: librdkafka serves rebalance callbacks from the poll, and a
   * member that stops polling holds up a rebalance under way, which the caller's last commit may have to wait for.
   */
  stopPolling(): Promise<void> {
    this.#delivering = false
    return Promise.resolve()
  }

  async stop(): Promise<void> {
    this.#delivering = false
    this.#running = false
    await this.#loopDone
    this.#disconnecting = true
    await new Promise<void>((resolve) => this.#consumer.disconnect(() => resolve()))
    await this.#rebalancing
  }
}
