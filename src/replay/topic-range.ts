import { createWriteStream } from 'node:fs'
import Kafka from 'node-rdkafka'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import { queryWatermarks } from '../adapters/kafka/consumer-helpers.js'
import { kafkaErrorOf } from '../adapters/kafka/kafka-errors.js'

/** One partition's part of a replay: records in [start, end), and the first one scored (`from`). */
export interface PartitionRange {
  readonly partition: number
  /** Where reading starts: the warm-up (state only) begins here. */
  readonly start: number
  /** The first offset at or after --from: records from here on are scored. */
  readonly from: number
  /** One past the last record read. */
  readonly end: number
}

/** How an offset for a time was found: the broker's offsets-for-times, or a binary search over record timestamps. */
export type OffsetLookup = 'broker' | 'search'

/**
 * A consumer outside every group (assign, never subscribe, never commit): it reads a topic's records without moving
 * any group's offsets, a live job's above all.
 */
export class TopicReader {
  readonly #consumer: Kafka.KafkaConsumer
  /** How each offset-for-time was answered, for the summary and the tests. */
  readonly lookups: OffsetLookup[] = []

  private constructor(consumer: Kafka.KafkaConsumer) {
    this.#consumer = consumer
  }

  static async connect(clientConfig: Record<string, string | number | boolean>, runId: string): Promise<TopicReader> {
    const consumer = new Kafka.KafkaConsumer(
      {
        ...clientConfig,
        // librdkafka wants a group id, but a consumer that only assigns never joins it, and this one never commits.
        'group.id': `fraudstream-replay.${runId}`,
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        'fetch.wait.max.ms': 5,
      } as Kafka.ConsumerGlobalConfig,
      { 'auto.offset.reset': 'earliest' },
    )
    await new Promise<void>((resolve, reject) =>
      consumer.connect({ timeout: 30_000 }, (err) =>
        err
          ? reject(kafkaErrorOf(err, ErrorCode.kafkaConnect, 'cannot connect to read the topics to replay'))
          : resolve(),
      ),
    )
    consumer.setDefaultConsumeTimeout(50)
    return new TopicReader(consumer)
  }

  async partitionsOf(topic: string): Promise<number> {
    const metadata = await new Promise<Kafka.Metadata>((resolve, reject) =>
      this.#consumer.getMetadata({ topic, timeout: 10_000 }, (err, data) =>
        err
          ? reject(kafkaErrorOf(err, ErrorCode.kafkaMetadata, `cannot read the metadata of ${topic}`))
          : resolve(data),
      ),
    )
    const partitions = metadata.topics.find((t) => t.name === topic)?.partitions.length ?? 0
    if (partitions === 0)
      throw new FraudstreamError(ErrorCode.usage, `topic ${topic} does not exist or has no partitions`, 'input')
    return partitions
  }

  watermarks(topic: string, partition: number): Promise<{ low: number; high: number }> {
    return queryWatermarks(this.#consumer, topic, partition)
  }

  /**
   * The first offset whose record's timestamp is ≥ `timeMs` (the high watermark if none): the broker's
   * offsets-for-times, or where the broker cannot answer (the librdkafka mock returns −1 for every time), a binary
   * search over the records' timestamps. The search assumes timestamps that do not decrease within the partition,
   * as LogAppendTime or a producer in time order gives; records out of timestamp order move the boundary found.
   */
  async offsetForTime(topic: string, partition: number, timeMs: number): Promise<number> {
    const { low, high } = await this.watermarks(topic, partition)
    if (high <= low) return high
    const answered = await new Promise<number>((resolve, reject) =>
      this.#consumer.offsetsForTimes([{ topic, partition, offset: timeMs }], 10_000, (err, offsets) =>
        err
          ? reject(kafkaErrorOf(err, ErrorCode.kafkaMetadata, `cannot ask offsets for times of ${topic}[${partition}]`))
          : resolve(offsets[0]?.offset ?? -1),
      ),
    )
    if (answered >= 0) {
      this.lookups.push('broker')
      return answered
    }
    // −1 means "no record at or after the time", or a broker that cannot say: the last record tells which.
    const last = await this.recordAt(topic, partition, high - 1)
    if (last.timestampMs < timeMs) {
      this.lookups.push('broker')
      return high
    }
    this.lookups.push('search')
    return this.searchTime(topic, partition, low, high - 1, timeMs)
  }

  /** The first offset in [lo, hi] whose record's timestamp is ≥ timeMs, given the record at `hi` is. */
  async searchTime(topic: string, partition: number, lo: number, hi: number, timeMs: number): Promise<number> {
    while (lo < hi) {
      const mid = lo + Math.floor((hi - lo) / 2)
      const probe = await this.recordAt(topic, partition, mid)
      if (probe.timestampMs >= timeMs) hi = Math.min(hi, probe.offset)
      else lo = probe.offset + 1
    }
    return lo
  }

  /** The record at `offset` (or the first after it, where the log has a gap), read by assign + consume. */
  async recordAt(topic: string, partition: number, offset: number): Promise<{ offset: number; timestampMs: number }> {
    this.#consumer.assign([{ topic, partition, offset }])
    try {
      const deadline = performance.now() + 30_000
      for (;;) {
        if (performance.now() > deadline)
          throw new FraudstreamError(
            ErrorCode.kafkaConsume,
            `reading ${topic}[${partition}] at offset ${offset} timed out`,
            'external',
            true,
          )
        const messages = await this.#consume(1)
        // A record fetched for an earlier probe may still come: only this partition at or past the offset counts.
        const m = messages.find((m) => m.topic === topic && m.partition === partition && m.offset >= offset)
        if (m) return { offset: m.offset, timestampMs: m.timestamp ?? 0 }
      }
    } finally {
      this.#consumer.unassign()
    }
  }

  /**
   * Writes the records of each partition's [start, end) to `path` as `kcat -C -J` envelopes (partition, offset,
   * timestamp, key, payload as latin1), each partition in offset order; `shouldStop` ends the copy early.
   */
  async dump(
    topic: string,
    ranges: readonly PartitionRange[],
    path: string,
    options: { onProgress?: (records: number) => void; shouldStop?: () => boolean } = {},
  ): Promise<number> {
    const out = createWriteStream(path)
    let failure: Error | undefined
    out.on('error', (err) => (failure = err))
    const open = ranges.filter((r) => r.end > r.start)
    const next = new Map(open.map((r) => [r.partition, r.start]))
    const endOf = new Map(open.map((r) => [r.partition, r.end]))
    let records = 0
    if (open.length > 0) this.#consumer.assign(open.map((r) => ({ topic, partition: r.partition, offset: r.start })))
    try {
      let idleSince = performance.now()
      while (next.size > 0 && !options.shouldStop?.()) {
        const messages = await this.#consume(1_000)
        if (messages.length > 0) idleSince = performance.now()
        else if (performance.now() - idleSince > 60_000)
          throw new FraudstreamError(
            ErrorCode.kafkaConsume,
            `reading ${topic} stalled: no record for 60 s with ${next.size} partitions short of their end`,
            'external',
            true,
          )
        const lines: Buffer[] = []
        for (const m of messages) {
          const at = next.get(m.partition)
          if (m.topic !== topic || at === undefined || m.offset < at) continue
          if (m.offset >= endOf.get(m.partition)!) {
            next.delete(m.partition)
            continue
          }
          lines.push(envelopeOf(m), NEWLINE)
          records++
          if (m.offset + 1 >= endOf.get(m.partition)!) next.delete(m.partition)
          else next.set(m.partition, m.offset + 1)
        }
        if (lines.length > 0 && !out.write(Buffer.concat(lines)))
          await new Promise<void>((resolve) => out.once('drain', resolve))
        if (failure) throw failure
        options.onProgress?.(records)
      }
    } finally {
      if (open.length > 0) this.#consumer.unassign()
      await new Promise<void>((resolve) => out.end(resolve))
    }
    if (failure)
      throw new FraudstreamError(ErrorCode.usage, `cannot write ${path}: ${failure.message}`, 'input', false, {
        cause: failure,
      })
    return records
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#consumer.disconnect(() => resolve()))
  }

  #consume(max: number): Promise<Kafka.Message[]> {
    return new Promise((resolve, reject) =>
      this.#consumer.consume(max, (err, messages) =>
        err ? reject(kafkaErrorOf(err, ErrorCode.kafkaConsume, 'cannot read the topics to replay')) : resolve(messages),
      ),
    )
  }
}

const NEWLINE = Buffer.from('\n')

/** A record as `kcat -C -J` prints it: the value's bytes inside the JSON string as they are (parseDumpLine's format). */
function envelopeOf(m: Kafka.Message): Buffer {
  const key =
    m.key === undefined || m.key === null ? null : Buffer.isBuffer(m.key) ? m.key.toString('latin1') : String(m.key)
  return Buffer.from(
    JSON.stringify({
      topic: m.topic,
      partition: m.partition,
      offset: m.offset,
      tstype: 'create',
      ts: m.timestamp ?? 0,
      broker: -1,
      key,
      payload: m.value === null || m.value === undefined ? null : m.value.toString('latin1'),
    }),
    'latin1',
  )
}
