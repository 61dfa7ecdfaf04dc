import Kafka from 'node-rdkafka'
import type { Logger } from 'pino'
import { ErrorCode } from '../../core/errors.js'
import { queryWatermarks } from './consumer-helpers.js'
import { kafkaErrorOf } from './kafka-errors.js'

export interface TopicTailOptions {
  readonly clientConfig: Record<string, string | number | boolean>
  readonly topic: string
  readonly partitions: number
  /** Each record's value, as it arrives; runs on the consume loop, so it must be quick. */
  readonly onValue: (value: Buffer) => void
  readonly log: Logger
}

/**
 * Every record written to a topic from now on, on all its partitions, outside any consumer group (each instance reads
 * them all; nothing is committed). Reading starts at each partition's high watermark taken before `start` resolves, so
 * a record written after that is never missed. Partitions added to the topic later are not read.
 */
export class TopicTail {
  readonly #consumer: Kafka.KafkaConsumer
  #running = false
  #loopDone: Promise<void> = Promise.resolve()

  private constructor(
    consumer: Kafka.KafkaConsumer,
    readonly options: TopicTailOptions,
  ) {
    this.#consumer = consumer
  }

  static async start(options: TopicTailOptions): Promise<TopicTail> {
    const consumer = new Kafka.KafkaConsumer(
      {
        ...options.clientConfig,
        // librdkafka wants a group id even for assign(); no group is joined and nothing is committed under it.
        'group.id': `${options.topic}.tail`,
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        'fetch.wait.max.ms': 2,
        'enable.partition.eof': true,
      } as Kafka.ConsumerGlobalConfig,
      {},
    )
    await new Promise<void>((resolve, reject) =>
      consumer.connect({ timeout: 30_000 }, (err) =>
        err ? reject(kafkaErrorOf(err, ErrorCode.kafkaConnect, `cannot connect to tail ${options.topic}`)) : resolve(),
      ),
    )
    const tail = new TopicTail(consumer, options)
    try {
      const starts: Kafka.Assignment[] = []
      for (let partition = 0; partition < options.partitions; partition++) {
        const { high } = await queryWatermarks(consumer, options.topic, partition)
        starts.push({ topic: options.topic, partition, offset: high })
      }
      consumer.assign(starts)
    } catch (err) {
      await new Promise<void>((resolve) => consumer.disconnect(() => resolve()))
      throw err
    }
    consumer.setDefaultConsumeTimeout(20)
    tail.#running = true
    tail.#loopDone = tail.#loop()
    return tail
  }

  async #loop(): Promise<void> {
    while (this.#running) {
      const values = await new Promise<Buffer[]>((resolve) =>
        this.#consumer.consume(500, (err, messages) => {
          if (err) {
            this.options.log.warn({ err, topic: this.options.topic }, 'tail consume failed; polling on')
            resolve([])
          } else resolve(messages.flatMap((m) => (m.value ? [m.value] : [])))
        }),
      )
      for (const value of values) {
        try {
          this.options.onValue(value)
        } catch (err) {
          // A malformed record on the topic must not stop the tail for every other one.
          this.options.log.warn({ err, topic: this.options.topic }, 'tail record not handled')
        }
      }
    }
  }

  async stop(): Promise<void> {
    this.#running = false
    await this.#loopDone
    await new Promise<void>((resolve) => this.#consumer.disconnect(() => resolve()))
  }
}
