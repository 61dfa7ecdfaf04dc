import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCode, errorMessageOf, FraudstreamError, isRetryable } from '../../../src/core/errors.js'

test('isRetryable: a retryable FraudstreamError, also as a plain object with its fields, without its class', () => {
  const retryable = new FraudstreamError(ErrorCode.kafkaConnect, 'broker down', 'external', true)
  assert.equal(isRetryable(retryable), true)
  const cloned = { ...retryable, message: retryable.message }
  assert.equal(cloned instanceof FraudstreamError, false)
  assert.equal(isRetryable(cloned), true)
})

test('isRetryable: anything else is not', () => {
  assert.equal(isRetryable(new FraudstreamError(ErrorCode.kafkaConnect, 'bad config', 'external')), false)
  assert.equal(isRetryable(new Error('plain')), false)
  // A foreign error claiming to be retryable without a code is not ours to retry.
  assert.equal(isRetryable(Object.assign(new Error('foreign'), { retryable: true })), false)
  assert.equal(
    isRetryable(Object.assign(new Error('truthy'), { retryable: 'yes', code: ErrorCode.kafkaConnect })),
    false,
  )
  assert.equal(isRetryable(undefined), false)
  assert.equal(isRetryable('retryable'), false)
})

test('errorMessageOf reads Errors and error-like objects (node-rdkafka callback errors), else stringifies', () => {
  assert.equal(errorMessageOf(new Error('plain')), 'plain')
  assert.equal(errorMessageOf({ message: 'Local: Timed out', code: -185 }), 'Local: Timed out')
  assert.equal(errorMessageOf('text'), 'text')
  assert.equal(errorMessageOf({ message: 42 }), '[object Object]')
})
