import assert from 'node:assert/strict'
import { test } from 'node:test'
import Kafka from 'node-rdkafka'
import { kafkaErrorOf, librdkafkaCodeOf } from '../../../../src/adapters/kafka/kafka-errors.js'
import { ErrorCode, errorCodeOf, isRetryable } from '../../../../src/core/errors.js'

const E = Kafka.CODES.ERRORS

/** A node-rdkafka callback error as the client hands it over: message, numeric code, origin, flags. */
function librdkafkaError(code: number, message: string, flags: { isFatal?: boolean } = {}): Kafka.LibrdKafkaError {
  return { message, code, errno: code, origin: code < 0 ? 'local' : 'kafka', ...flags }
}

test('kafkaErrorOf gives the operation its code, keeps the librdkafka error as cause and its message after what failed', () => {
  const cases: [Parameters<typeof kafkaErrorOf>[1], number, string][] = [
    [ErrorCode.kafkaConnect, E.ERR__TIMED_OUT, 'Local: Timed out'],
    [ErrorCode.kafkaCommit, E.ERR_REQUEST_TIMED_OUT, 'Broker: Request timed out'],
    [ErrorCode.kafkaProduce, E.ERR_MSG_SIZE_TOO_LARGE, 'Broker: Message size too large'],
    [ErrorCode.kafkaConsume, E.ERR__TRANSPORT, 'Local: Broker transport failure'],
    [ErrorCode.kafkaMetadata, E.ERR__TIMED_OUT, 'Local: Timed out'],
  ]
  for (const [code, librdkafkaCode, message] of cases) {
    const cause = librdkafkaError(librdkafkaCode, message)
    const err = kafkaErrorOf(cause, code, 'what failed')
    assert.equal(err.code, code, message)
    assert.equal(errorCodeOf(err), code)
    assert.equal(err.message, `what failed: ${message}`)
    assert.equal(err.cause, cause)
    assert.equal(err.domain, 'external')
    assert.equal(isRetryable(err), true, `${code} is retryable by default`)
  }
})

test('kafkaErrorOf: a missing topic or partition is FS_ERR_KAFKA_TOPIC_MISSING whatever the operation', () => {
  for (const librdkafkaCode of [E.ERR_UNKNOWN_TOPIC_OR_PART, E.ERR__UNKNOWN_TOPIC, E.ERR__UNKNOWN_PARTITION]) {
    assert.equal(
      kafkaErrorOf(
        librdkafkaError(librdkafkaCode, 'Broker: Unknown topic or partition'),
        ErrorCode.kafkaMetadata,
        'cannot read watermarks of t[0]',
      ).code,
      ErrorCode.kafkaTopicMissing,
    )
    assert.equal(
      kafkaErrorOf(
        librdkafkaError(librdkafkaCode, 'Broker: Unknown topic or partition'),
        ErrorCode.kafkaConsume,
        'consume failed',
      ).code,
      ErrorCode.kafkaTopicMissing,
    )
  }
})

test('kafkaErrorOf: unreachable or refusing brokers are FS_ERR_KAFKA_CONNECT whatever the operation', () => {
  for (const librdkafkaCode of [
    E.ERR__ALL_BROKERS_DOWN,
    E.ERR__RESOLVE,
    E.ERR__AUTHENTICATION,
    E.ERR__SSL,
    E.ERR_SASL_AUTHENTICATION_FAILED,
  ]) {
    assert.equal(
      kafkaErrorOf(librdkafkaError(librdkafkaCode, 'down'), ErrorCode.kafkaCommit, 'commit failed').code,
      ErrorCode.kafkaConnect,
      String(librdkafkaCode),
    )
  }
})

test('kafkaErrorOf: a fatal librdkafka error, or the caller saying so, is not retryable; domain and retryable can be set', () => {
  assert.equal(
    kafkaErrorOf(
      librdkafkaError(E.ERR__FATAL, 'Local: Fatal error', { isFatal: true }),
      ErrorCode.kafkaProduce,
      'produce failed',
    ).retryable,
    false,
  )
  const refused = kafkaErrorOf(
    librdkafkaError(E.ERR__INVALID_ARG, 'Local: Invalid argument or configuration'),
    ErrorCode.kafkaProduce,
    'produce to t failed',
    { retryable: false },
  )
  assert.equal(refused.retryable, false)
  assert.equal(
    kafkaErrorOf(new Error('handler threw'), ErrorCode.kafkaRebalance, 'rebalance handling failed', {
      domain: 'internal',
    }).domain,
    'internal',
  )
})

test('kafkaErrorOf: an error without a librdkafka code keeps the given code and its own message', () => {
  const err = kafkaErrorOf(new Error('consumer is disconnected'), ErrorCode.kafkaCommit, 'commit failed')
  assert.equal(err.code, ErrorCode.kafkaCommit)
  assert.equal(err.message, 'commit failed: consumer is disconnected')
  assert.equal(librdkafkaCodeOf(new Error('x')), undefined)
  assert.equal(librdkafkaCodeOf(Object.assign(new Error('x'), { code: 'ENOENT' })), undefined)
  assert.equal(librdkafkaCodeOf(librdkafkaError(E.ERR__STATE, 'Local: Erroneous state')), E.ERR__STATE)
})
