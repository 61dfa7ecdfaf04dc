import { topicsOf } from '../../topology/card-fraud.js'
import type { ModelRegistry } from '../adapters/onnx/model-package.js'
import { baseClientConfig } from '../adapters/kafka/client-config.js'
import { KafkaProducerSink } from '../adapters/kafka/producer-sink.js'
import type { Config } from '../config/schema.js'
import { createLogger } from '../observability/logger.js'
import { ErrorCode, FraudstreamError } from '../core/errors.js'
import { REGISTRY_KEY } from './model-reload.js'

const ACK_TIMEOUT_MS = 30_000

/**
 * Writes the registry to the compacted models topic (key `registry`) and resolves once the broker acknowledged it:
 * every instance reading the topic switches to it. Returns the topic.
 */
export async function publishRegistry(
  config: Config,
  registry: ModelRegistry,
  bootstrapServers = config.kafka.brokers.join(','),
): Promise<string> {
  const topic = topicsOf(config).models
  const producer = await KafkaProducerSink.connect({
    config: baseClientConfig(config, bootstrapServers, 'fraudstream-models-cli'),
    log: createLogger({ level: 'warn' }),
  })
  try {
    await producer.sendAcked(
      { topic, key: REGISTRY_KEY, value: Buffer.from(JSON.stringify(registry)) },
      ACK_TIMEOUT_MS,
      () =>
        new FraudstreamError(
          ErrorCode.kafkaProduce,
          `the registry was written to ${config.model.dir} but ${topic} did not acknowledge it within ${ACK_TIMEOUT_MS / 1000} s: running instances have not switched; run the command again once the brokers answer`,
          'external',
        ),
    )
  } finally {
    await producer.close()
  }
  return topic
}
