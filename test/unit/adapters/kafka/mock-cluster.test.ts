import assert from 'node:assert/strict'
import { test } from 'node:test'
import { bootstrapServersOf, mockClusterOwnerConfig } from '../../../../src/adapters/kafka/mock-cluster.js'

test("the mock cluster's owner has no debug logging and no event callback; its addresses come from metadata", () => {
  const config = mockClusterOwnerConfig(3) as Record<string, unknown>
  assert.equal('debug' in config, false)
  assert.equal('event_cb' in config, false)
  assert.equal(config['test.mock.num.brokers'], 3)
  assert.equal(
    bootstrapServersOf({
      brokers: [
        { id: 2, host: '127.0.0.1', port: 40811 },
        { id: 1, host: '127.0.0.1', port: 36987 },
        { id: 3, host: '::1', port: 32859 },
      ],
    }),
    '127.0.0.1:36987,127.0.0.1:40811,[::1]:32859',
  )
})
