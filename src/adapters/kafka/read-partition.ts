import Kafka from 'node-rdkafka'
import { ErrorCode, FraudstreamError } from '../../core/errors.js'
import type { SourceRecord } from '../../core/ports.js'
import { queryWatermarks, toSourceRecord } from './consumer-helpers.js'
import { kafkaErrorOf } from './kafka-errors.js'

/**
 * Every record of one partition from its low to its high watermark at call time, outside any group: restores
 * read their changelog this way. Resolves once the high watermark is reached.
 */
export async function readPartition(
  clientConfig: Record<string, string | number | boolean>,
  topic: string,
  partition: number,
  timeoutMs = 60_000,
): Promise<SourceRecord[]> {
  const consumer = new Kafka.KafkaConsumer(
    {
      ...clientConfig,
      'group.id': `${topic}.restore`,
      'enable.auto.commit': false,
      'fetch.wait.max.ms': 5,
    } as Kafka.ConsumerGlobalConfig,
    {},
  )
  await new Promise<void>((resolve, reject) =>
    consumer.connect({ timeout: 30_000 }, (err) =>
      err
        ? reject(kafkaErrorOf(err, ErrorCode.kafkaConnect, `cannot connect to read ${topic}[${partition}]`))
        : resolve(),
    ),
  )
  try {
    const { low: lowOffset, high: highOffset } = await queryWatermarks(consumer, topic, partition)
    const records: SourceRecord[] = []
    if (highOffset <= lowOffset) return records
    consumer.assign([{ topic, partition, offset: lowOffset }])
    consumer.setDefaultConsumeTimeout(50)
    const deadline = performance.now() + timeoutMs
    let next = lowOffset
    while (next < highOffset) {
      if (performance.now() > deadline)
        throw new FraudstreamError(
          ErrorCode.kafkaConsume,
          `reading ${topic}[${partition}] timed out at offset ${next} of ${highOffset}`,
          'external',
          true,
        )
      const batch = await new Promise<Kafka.Message[]>((resolve, reject) =>
        consumer.consume(1_000, (err, messages) =>
          err
            ? reject(kafkaErrorOf(err, ErrorCode.kafkaConsume, `cannot read ${topic}[${partition}]`))
            : resolve(messages),
        ),
      )
      for (const m of batch) {
        if (m.offset >= highOffset) continue
        next = m.offset + 1
        records.push(toSourceRecord(m))
      }
    }
    return records
  } finally {
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()))
  }
}
