import Kafka from 'node-rdkafka'
import { ErrorCode, errorMessageOf, FraudstreamError, type ErrorDomain } from '../../core/errors.js'

/** The codes a Kafka adapter raises. */
export type KafkaErrorCode =
  | typeof ErrorCode.kafkaConnect
  | typeof ErrorCode.kafkaTopicMissing
  | typeof ErrorCode.kafkaMetadata
  | typeof ErrorCode.kafkaConsume
  | typeof ErrorCode.kafkaProduce
  | typeof ErrorCode.kafkaCommit
  | typeof ErrorCode.kafkaRebalance
  | typeof ErrorCode.kafkaMock

const E = Kafka.CODES.ERRORS

/** librdkafka codes that say the topic or partition is not there, whatever the operation was. */
const TOPIC_MISSING = new Set<number>([
  E.ERR_UNKNOWN_TOPIC_OR_PART,
  E.ERR__UNKNOWN_TOPIC,
  E.ERR__UNKNOWN_PARTITION,
  E.ERR_UNKNOWN_TOPIC_ID,
])

/** librdkafka codes that say no broker can be reached or authenticated with, whatever the operation was. */
const UNREACHABLE = new Set<number>([
  E.ERR__ALL_BROKERS_DOWN,
  E.ERR__RESOLVE,
  E.ERR__AUTHENTICATION,
  E.ERR__SSL,
  E.ERR_SASL_AUTHENTICATION_FAILED,
])

/** The librdkafka error code (a number) of a node-rdkafka error, or undefined for anything else. */
export function librdkafkaCodeOf(err: unknown): number | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined
  return typeof code === 'number' ? code : undefined
}

/**
 * Wraps a node-rdkafka error (kept as `cause`, with its numeric librdkafka `code`) into a FraudstreamError whose
 * message is `what: <librdkafka's message>`. `code` names the operation that failed; a librdkafka code that names the
 * reason better wins: an unknown topic or partition gives FS_ERR_KAFKA_TOPIC_MISSING, unreachable or refusing brokers
 * FS_ERR_KAFKA_CONNECT. Retryable unless the caller says otherwise or librdkafka marks the error fatal (the client
 * instance is unusable: only a new one, after a restart, can go on).
 */
export function kafkaErrorOf(
  err: unknown,
  code: KafkaErrorCode,
  what: string,
  options: { domain?: ErrorDomain; retryable?: boolean } = {},
): FraudstreamError {
  const librdkafkaCode = librdkafkaCodeOf(err)
  const resolved =
    librdkafkaCode === undefined
      ? code
      : TOPIC_MISSING.has(librdkafkaCode)
        ? ErrorCode.kafkaTopicMissing
        : UNREACHABLE.has(librdkafkaCode)
          ? ErrorCode.kafkaConnect
          : code
  const fatal = typeof err === 'object' && err !== null && (err as { isFatal?: unknown }).isFatal === true
  return new FraudstreamError(
    resolved,
    `${what}: ${errorMessageOf(err)}`,
    options.domain ?? 'external',
    !fatal && (options.retryable ?? true),
    { cause: err },
  )
}
