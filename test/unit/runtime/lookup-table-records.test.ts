import assert from 'node:assert/strict'
import { test } from 'node:test'
import { applyTableRecords, encodeTableEntry } from '../../../src/runtime/lookup-task.js'
import { addToBucket, emptyBucket } from '../../../src/stages/lookups/key-aggregate.js'
import { LookupTable } from '../../../src/stages/lookups/lookup-table.js'

const record = (key: string, value: Buffer | null) => ({ topic: 'tables', partition: 0, offset: 0, key: Buffer.from(key), value, timestampMs: 0 })

test('a bucket comes back from its tables-topic record with every field: amounts, deviations, newest time, distinct values, applied offsets', () => {
  const bucket = emptyBucket()
  addToBucket(bucket, { amount: 12.5, eventTimeMs: 1_000, values: { card_id: 'c1', device_id: 'd1' } })
  addToBucket(bucket, { amount: 3.25, eventTimeMs: 900, values: { card_id: 'c2' } })
  addToBucket(bucket, { amount: 40, eventTimeMs: 1_200, values: { card_id: 'c1' } })
  bucket.applied['tx/3'] = 17
  const { key, value } = encodeTableEntry({ kind: 'bucket', key: 'terminal:t1', start: 0, value: bucket })
  const table = new LookupTable(1)
  applyTableRecords(table, [record(key, value)])
  assert.deepEqual(table.get('terminal:t1')!.buckets.get(0), bucket)
  assert.deepEqual(bucket.distinct, { card_id: { c1: 1, c2: 1 }, device_id: { d1: 1 } })
  assert.equal(bucket.lastMs, 1_200)
  assert.deepEqual([bucket.min, bucket.max, bucket.ref, bucket.deviations, bucket.squaredDeviations], [3.25, 40, 12.5, -9.25 + 27.5, 9.25 ** 2 + 27.5 ** 2])
})
