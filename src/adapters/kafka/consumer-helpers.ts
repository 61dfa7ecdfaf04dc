import type Kafka from 'node-rdkafka'
import { ErrorCode } from '../../core/errors.js'
import type { SourceRecord } from '../../core/ports.js'
import { kafkaErrorOf } from './kafka-errors.js'

/** A node-rdkafka message as the runtime sees it (keys as bytes, timestamps in ms). */
export function toSourceRecord(m: Kafka.Message): SourceRecord {
  const key = m.key === undefined || m.key === null ? null : Buffer.isBuffer(m.key) ? m.key : Buffer.from(String(m.key))
  return {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    key,
    value: m.value ?? null,
    timestampMs: m.timestamp ?? 0,
  }
}

/** A partition's low and high watermarks, asked of the broker. */
export function queryWatermarks(
  consumer: Kafka.KafkaConsumer,
  topic: string,
  partition: number,
): Promise<{ low: number; high: number }> {
  return new Promise((resolve, reject) =>
    consumer.queryWatermarkOffsets(topic, partition, 10_000, (err, offsets) => {
      if (err)
        return reject(kafkaErrorOf(err, ErrorCode.kafkaMetadata, `cannot read watermarks of ${topic}[${partition}]`))
      resolve({ low: offsets.lowOffset, high: offsets.highOffset })
    }),
  )
}
