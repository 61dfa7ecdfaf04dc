import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseDumpLine } from '../../../src/cli/dump-line.js'

test('a kcat -C -J envelope gives the value, partition and timestamp; a bare value or a broken envelope is passed on whole', () => {
  const value = '{"transaction_id":"t1"}'
  assert.deepEqual(parseDumpLine(JSON.stringify({ topic: 'tx', partition: 3, offset: 7, tstype: 'create', ts: 1_700_000_000_000, broker: 1, key: 'c1', payload: value })), { value: Buffer.from(value), partition: 3, timestampMs: 1_700_000_000_000 })
  assert.deepEqual(parseDumpLine(JSON.stringify({ topic: 'tx', partition: 0, offset: 1, tstype: 'none', ts: -1, key: null, payload: value })), { value: Buffer.from(value), partition: 0 }, 'no timestamp')
  assert.deepEqual(parseDumpLine(JSON.stringify({ topic: 'tx', partition: 1, offset: 2, tstype: 'create', ts: 5, key: null, payload: null })), { value: Buffer.alloc(0), partition: 1, timestampMs: 5 }, 'a tombstone')
  assert.deepEqual(parseDumpLine(value), { value: Buffer.from(value) })
  for (const broken of ['{"topic":"tx","partition":', '{"topic":"tx","partition":-1,"payload":"x"}', '{"topic":"tx","partition":0,"payload":{}}']) {
    assert.deepEqual(parseDumpLine(broken), { value: Buffer.from(broken) }, broken)
  }
})
