import Kafka from 'node-rdkafka'
import type { Logger } from 'pino'
import { ErrorCode, FraudstreamError } from '../../core/errors.js'
import type { SourceRecord } from '../../core/ports.js'
import { queryWatermarks, toSourceRecord } from './consumer-helpers.js'
import { kafkaErrorOf } from './kafka-errors.js'

/** librdkafka's logical offset "beginning" (RD_KAFKA_OFFSET_BEGINNING). */
const OFFSET_BEGINNING = -2

export interface TableReaderOptions {
  readonly clientConfig: Record<string, string | number | boolean>
  readonly topic: string
  readonly log: Logger
  /**
   * How long a fetch waits for records (librdkafka's fetch.wait.max.ms), 5 ms by default. Each idle reader sends a
   * fetch to every broker this often: a topic that changes a few times a day (models, rules, lists) takes 100.
   */
  readonly fetchWaitMaxMs?: number
}

/** fetch.wait.max.ms for topics that change rarely: a change still reaches every instance well within a second. */
export const RARELY_CHANGING_FETCH_WAIT_MS = 100

/**
 * Reads every partition of a (compacted) topic from the beginning and keeps following it, outside any consumer
 * group and without committing: how every instance holds the lookup tables in memory, like Kafka Streams' global
 * stores. `position(p)` says how far a partition has been read, so a caller can wait until a restore is complete.
 */
export class KafkaTableReader {
  readonly #consumer: Kafka.KafkaConsumer
  readonly #positions = new Map<number, number>()
  #running = false
  #loopDone: Promise<void> = Promise.resolve()
  partitions = 0

  constructor(readonly options: TableReaderOptions) {
    this.#consumer = new Kafka.KafkaConsumer(
      {
        ...options.clientConfig,
        // librdkafka wants a group id even for assign(); nothing is ever committed under it.
        'group.id': `${options.topic}.reader`,
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        'fetch.wait.max.ms': options.fetchWaitMaxMs ?? 5,
      } as Kafka.ConsumerGlobalConfig,
      {},
    )
  }

  async start(onRecords: (records: readonly SourceRecord[]) => void): Promise<void> {
    await new Promise<void>((resolve, reject) =>
      this.#consumer.connect({ timeout: 30_000 }, (err) =>
        err ? reject(kafkaErrorOf(err, ErrorCode.kafkaConnect, 'table reader cannot connect')) : resolve(),
      ),
    )
    const metadata = await new Promise<Kafka.Metadata>((resolve, reject) =>
      this.#consumer.getMetadata({ topic: this.options.topic, timeout: 10_000 }, (err, data) =>
        err
          ? reject(kafkaErrorOf(err, ErrorCode.kafkaMetadata, `cannot read metadata of ${this.options.topic}`))
          : resolve(data),
      ),
    )
    this.partitions = metadata.topics.find((t) => t.name === this.options.topic)?.partitions.length ?? 0
    if (this.partitions === 0)
      throw new FraudstreamError(
        ErrorCode.kafkaTopicMissing,
        `topic ${this.options.topic} has no partitions; create it (compacted) before starting`,
        'external',
      )
    this.#consumer.assign(
      Array.from({ length: this.partitions }, (_, partition) => ({
        topic: this.options.topic,
        partition,
        offset: OFFSET_BEGINNING,
      })),
    )
    this.#consumer.setDefaultConsumeTimeout(20)
    this.#running = true
    this.#loopDone = this.#loop(onRecords)
  }

  async #loop(onRecords: (records: readonly SourceRecord[]) => void): Promise<void> {
    while (this.#running) {
      const messages = await new Promise<Kafka.Message[]>((resolve) =>
        this.#consumer.consume(500, (err, batch) => {
          if (err) this.options.log.warn({ err, topic: this.options.topic }, 'table read failed; retrying')
          resolve(err ? [] : batch)
        }),
      )
      if (messages.length === 0) continue
      onRecords(messages.map(toSourceRecord))
      for (const m of messages) this.#positions.set(m.partition, m.offset + 1)
    }
  }

  /** The next offset to be read in a partition (0 before any record). */
  position(partition: number): number {
    return this.#positions.get(partition) ?? 0
  }

  async highWatermark(partition: number): Promise<number> {
    return (await queryWatermarks(this.#consumer, this.options.topic, partition)).high
  }

  async stop(): Promise<void> {
    this.#running = false
    await this.#loopDone
    await new Promise<void>((resolve) => this.#consumer.disconnect(() => resolve()))
  }
}
