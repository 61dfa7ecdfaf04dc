import Kafka from 'node-rdkafka'
import { ErrorCode, FraudstreamError } from '../../core/errors.js'

export interface MockCluster {
  /** Comma-separated 127.0.0.1 addresses; clients in this or other processes connect to them. */
  readonly bootstrapServers: string
  /**
   * Creates topics (the mock's default 4 partitions) by asking for their metadata; the mock has no CreateTopics.
   * A consumer that subscribes before its topic exists only sees it at its next metadata refresh, seconds later.
   */
  ensureTopics(topics: readonly string[]): Promise<void>
  close(): Promise<void>
}

/**
 * Starts librdkafka's mock cluster (3 brokers on loopback, inside this process) through the hidden
 * `test.mock.num.brokers` property. The brokers live as long as the client that created them, so the returned
 * handle keeps it until `close()`. The real addresses only appear in a log line, which arrives after connect.
 */
export async function startMockCluster(options: { brokers?: number; timeoutMs?: number } = {}): Promise<MockCluster> {
  const owner = new Kafka.Producer({
    'bootstrap.servers': 'dummy:9092',
    'test.mock.num.brokers': options.brokers ?? 3,
    event_cb: true,
    debug: 'mock',
    log_level: 6,
  } as Kafka.ProducerGlobalConfig)
  const addresses = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new FraudstreamError(ErrorCode.kafka, 'the librdkafka mock cluster did not report its addresses', 'internal')), options.timeoutMs ?? 10_000)
    owner.on('event.log', (event: { message: string }) => {
      const match = /replaced with ((?:127\.0\.0\.1:\d+,?)+)/.exec(event.message)
      if (match) {
        clearTimeout(timer)
        resolve(match[1]!.replace(/,$/, ''))
      }
    })
  })
  await new Promise<void>((resolve, reject) => {
    owner.connect({ timeout: options.timeoutMs ?? 10_000 }, (err) => (err ? reject(new FraudstreamError(ErrorCode.kafka, `mock cluster failed to start: ${err.message}`, 'internal', false, { cause: err })) : resolve()))
  })
  const bootstrapServers = await addresses
  // Debug logging was only needed to learn the addresses; the mock's own chatter would flood the logs.
  owner.removeAllListeners('event.log')
  return {
    bootstrapServers,
    ensureTopics: async (topics) => {
      for (const topic of topics) {
        await new Promise<void>((resolve, reject) =>
          owner.getMetadata({ topic, timeout: 10_000 }, (err) => (err ? reject(new FraudstreamError(ErrorCode.kafka, `cannot create topic ${topic} on the mock cluster: ${err.message}`, 'internal', false, { cause: err })) : resolve())),
        )
      }
    },
    close: () => new Promise<void>((resolve) => owner.disconnect(() => resolve())),
  }
}
