import assert from 'node:assert/strict'
import { test } from 'node:test'
import { threadPoolSize, warnIfThreadPoolSmall } from '../../../src/runtime/threadpool.js'

test("the pool size is libuv's default of 4 unless UV_THREADPOOL_SIZE names a positive whole number", () => {
  assert.equal(threadPoolSize({}), 4)
  assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: '16' }), 16)
  assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: 'many' }), 4)
  assert.equal(threadPoolSize({ UV_THREADPOOL_SIZE: '0' }), 4)
})

test('a pool without four threads to spare beside the consumers is warned about, once, with the size to set', () => {
  const saved = process.env.UV_THREADPOOL_SIZE
  const warnings: object[] = []
  const log = { warn: (fields: object) => void warnings.push(fields) }
  try {
    process.env.UV_THREADPOOL_SIZE = '8'
    warnIfThreadPoolSmall(4, log)
    assert.deepEqual(warnings, [])
    warnIfThreadPoolSmall(5, log)
    assert.deepEqual(warnings, [{ threadPoolSize: 8, consumers: 5, recommended: 9 }])
  } finally {
    if (saved === undefined) delete process.env.UV_THREADPOOL_SIZE
    else process.env.UV_THREADPOOL_SIZE = saved
  }
})
