import Kafka from 'node-rdkafka'
import { ErrorCode, FraudstreamError } from '../../core/errors.js'
import type { SourceRecord } from '../../core/ports.js'
import { queryWatermarks, toSourceRecord } from './consumer-helpers.js'

/**
 * Every record of one partition from its low to its high watermark at call time, outside any group: restores
 * read their changelog this way. Resolves once the high watermark is reached.
 */
export async function readPartition(clientConfig: Record<string, string | number | boolean>, topic: string, partition: number, timeoutMs = 60_000): Promise<SourceRecord[]> {
  const consumer = new Kafka.KafkaConsumer({ ...clientConfig, 'group.id': `${topic}.restore`, 'enable.auto.commit': false, 'fetch.wait.max.ms': 5 } as Kafka.ConsumerGlobalConfig, {})
  const fail = (what: string, err: { message: string }) => new FraudstreamError(ErrorCode.kafka, `${what} ${topic}[${partition}]: ${err.message}`, 'external', true, { cause: err })
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 30_000 }, (err) => (err ? reject(fail('cannot connect to read', err)) : resolve())))
  try {
    const { low: lowOffset, high: highOffset } = await queryWatermarks(consumer, topic, partition)
    const records: SourceRecord[] = []
    if (highOffset <= lowOffset) return records
    consumer.assign([{ topic, partition, offset: lowOffset }])
    consumer.setDefaultConsumeTimeout(50)
    const deadline = performance.now() + timeoutMs
    let next = lowOffset
    while (next < highOffset) {
      if (performance.now() > deadline) throw new FraudstreamError(ErrorCode.kafka, `reading ${topic}[${partition}] timed out at offset ${next} of ${highOffset}`, 'external', true)
      const batch = await new Promise<Kafka.Message[]>((resolve, reject) => consumer.consume(1_000, (err, messages) => (err ? reject(fail('cannot read', err)) : resolve(messages))))
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
