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
 * The owner client's configuration: `test.mock.num.brokers` makes librdkafka start the mock brokers and replace
 * `bootstrap.servers` with their addresses. No `debug` and no `event_cb`: with them every request the mock serves was
 * logged through node-rdkafka's event dispatcher for the owner's whole life (CPU, and a segfault in
 * log_cb_trampoline → event_cb → uv_async_send on a closed handle, 3 of ~25 demo runs).
 */
export function mockClusterOwnerConfig(brokers = 3): Kafka.ProducerGlobalConfig {
  return { 'bootstrap.servers': 'dummy:9092', 'test.mock.num.brokers': brokers } as Kafka.ProducerGlobalConfig
}

/** `host:port,...` of the brokers in a metadata answer, by broker id (IPv6 hosts in brackets). */
export function bootstrapServersOf(metadata: Pick<Kafka.Metadata, 'brokers'>): string {
  return [...metadata.brokers]
    .sort((a, b) => a.id - b.id)
    .map((b) => `${b.host.includes(':') ? `[${b.host}]` : b.host}:${b.port}`)
    .join(',')
}

/**
 * Starts librdkafka's mock cluster (3 brokers on loopback, inside this process) through the hidden
 * `test.mock.num.brokers` property. The brokers live as long as the client that created them, so the returned
 * handle keeps it until `close()`. Their addresses come from the metadata the owner's connect answers with.
 */
export async function startMockCluster(options: { brokers?: number; timeoutMs?: number } = {}): Promise<MockCluster> {
  const owner = new Kafka.Producer(mockClusterOwnerConfig(options.brokers ?? 3))
  const metadata = await new Promise<Kafka.Metadata>((resolve, reject) => {
    owner.connect({ timeout: options.timeoutMs ?? 10_000 }, (err, data) =>
      err
        ? reject(
            new FraudstreamError(
              ErrorCode.kafkaMock,
              `mock cluster failed to start: ${err.message}`,
              'internal',
              false,
              { cause: err },
            ),
          )
        : resolve(data),
    )
  })
  const bootstrapServers = bootstrapServersOf(metadata)
  if (metadata.brokers.length === 0) {
    await new Promise<void>((resolve) => owner.disconnect(() => resolve()))
    throw new FraudstreamError(ErrorCode.kafkaMock, 'the librdkafka mock cluster reported no brokers', 'internal')
  }
  return {
    bootstrapServers,
    ensureTopics: async (topics) => {
      for (const topic of topics) {
        await new Promise<void>((resolve, reject) =>
          owner.getMetadata({ topic, timeout: 10_000 }, (err) =>
            err
              ? reject(
                  new FraudstreamError(
                    ErrorCode.kafkaMock,
                    `cannot create topic ${topic} on the mock cluster: ${err.message}`,
                    'internal',
                    false,
                    { cause: err },
                  ),
                )
              : resolve(),
          ),
        )
      }
    },
    close: () => new Promise<void>((resolve) => owner.disconnect(() => resolve())),
  }
}
