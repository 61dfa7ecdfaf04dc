import Kafka from 'node-rdkafka'
import type { Logger } from 'pino'
import { ErrorCode, FraudstreamError } from '../../core/errors.js'
import type { OutgoingRecord, RecordSink } from '../../core/ports.js'
import type { Metrics } from '../../observability/metrics.js'
import { kafkaErrorOf, librdkafkaCodeOf } from './kafka-errors.js'

interface Pending {
  readonly record: OutgoingRecord
  readonly onAck: () => void
  attempt: number
}

const QUEUE_FULL = Kafka.CODES.ERRORS.ERR__QUEUE_FULL

/**
 * An idempotent producer whose acks come from delivery reports, one per record (never from `flush()`, whose
 * callback can run before the last reports arrive). A failed delivery is produced again with backoff, so a record
 * is acknowledged at least once or the partition never commits past it.
 */
export class KafkaProducerSink implements RecordSink {
  readonly #producer: Kafka.Producer
  #outstanding = 0
  #idleWaiters: (() => void)[] = []

  private constructor(
    producer: Kafka.Producer,
    readonly metrics: Metrics | undefined,
    readonly log: Logger,
  ) {
    this.#producer = producer
    producer.on('delivery-report', (err, report) => {
      const pending = report.opaque as Pending
      if (err) {
        this.metrics?.producerErrors.inc({ topic: pending.record.topic })
        this.log.warn(
          { err, topic: pending.record.topic, attempt: pending.attempt },
          'delivery failed; producing again',
        )
        setTimeout(() => this.#produce(pending), Math.min(5_000, 50 * 2 ** pending.attempt))
        return
      }
      this.#settle()
      pending.onAck()
    })
  }

  static async connect(options: {
    config: Record<string, string | number | boolean>
    metrics?: Metrics
    log: Logger
  }): Promise<KafkaProducerSink> {
    const producer = new Kafka.Producer(
      {
        'enable.idempotence': true,
        // Never expire a record: librdkafka retries it in order for as long as it takes. An expired one would come back
        // through the re-produce below, behind records sent since: a lookup aggregator would then drop its fact as a
        // duplicate (it keeps the highest offset per source), and a compacted tables topic keep an older bucket.
        'message.timeout.ms': 0,
        'linger.ms': 5,
        'compression.type': 'lz4',
        dr_cb: true,
        ...options.config,
      } as Kafka.ProducerGlobalConfig,
      // A topic setting in node-rdkafka (ignored in the global one): the Java client's partitioning, so keyed records
      // land where Kafka Streams and most producers would put them, and `fraudstream features --partitioner` defaults to it.
      { partitioner: 'murmur2_random' } as Kafka.ProducerTopicConfig,
    )
    await new Promise<void>((resolve, reject) =>
      producer.connect({ timeout: 30_000 }, (err) =>
        err ? reject(kafkaErrorOf(err, ErrorCode.kafkaConnect, 'producer cannot connect')) : resolve(),
      ),
    )
    producer.setPollInterval(5)
    return new KafkaProducerSink(producer, options.metrics, options.log)
  }

  /**
   * Partitions of a topic. Asking for its metadata also creates it on a broker that auto-creates topics, which
   * answers "no partitions" to the first request: asked again for a few seconds before giving up.
   */
  async partitionCount(topic: string, timeoutMs = 10_000): Promise<number> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const count = await new Promise<number>((resolve, reject) =>
        this.#producer.getMetadata({ topic, timeout: 10_000 }, (err, metadata) => {
          if (err) return reject(kafkaErrorOf(err, ErrorCode.kafkaMetadata, `cannot read metadata of ${topic}`))
          resolve(metadata.topics.find((t) => t.name === topic)?.partitions.length ?? 0)
        }),
      )
      if (count > 0) return count
      if (performance.now() > deadline)
        throw new FraudstreamError(
          ErrorCode.kafkaTopicMissing,
          `topic ${topic} does not exist; create it before starting`,
          'external',
        )
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  get outstanding(): number {
    return this.#outstanding
  }

  send(record: OutgoingRecord, onAck: () => void): void {
    this.#outstanding++
    this.#produce({ record, onAck, attempt: 0 })
  }

  /**
   * Sends one record and resolves at its delivery report, or rejects with `timedOut()` after `timeoutMs`: the producer
   * retries for as long as it takes, and a command must not hang on brokers that never answer.
   */
  async sendAcked(record: OutgoingRecord, timeoutMs: number, timedOut: () => FraudstreamError): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => reject(timedOut()), timeoutMs)
        this.send(record, resolve)
      })
    } finally {
      clearTimeout(timer)
    }
  }

  #produce(pending: Pending): void {
    pending.attempt++
    try {
      const { topic, value, key, timestampMs, partition } = pending.record
      this.#producer.produce(topic, partition ?? null, value, key, timestampMs ?? Date.now(), pending)
    } catch (err) {
      if (librdkafkaCodeOf(err) === QUEUE_FULL) {
        // librdkafka's queue drains as delivery reports are polled; the caller's in-flight bound keeps this rare.
        setTimeout(() => this.#produce(pending), 10)
        return
      }
      throw kafkaErrorOf(err, ErrorCode.kafkaProduce, `produce to ${pending.record.topic} failed`, { retryable: false })
    }
  }

  #settle(): void {
    this.#outstanding--
    if (this.#outstanding === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve()
  }

  /** Resolves when every record sent so far has its delivery report. */
  async flush(): Promise<void> {
    if (this.#outstanding === 0) return
    await new Promise<void>((resolve) => this.#idleWaiters.push(resolve))
  }

  async close(): Promise<void> {
    await this.flush()
    // Polling stops first: node-rdkafka's poll calls the native client without its connection lock, while disconnect
    // deletes that client on a libuv thread, so a poll landing mid-delete called a destroyed RdKafka::Handle ("pure
    // virtual method called", abort: CI's restore-failures crash). Every delivery report is in by now (flush).
    this.#producer.setPollInterval(0)
    await new Promise<void>((resolve) => this.#producer.disconnect(() => resolve()))
  }
}
