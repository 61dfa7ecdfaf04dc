import assert from 'node:assert/strict'
import { test } from 'node:test'
import { applyTableRecords, encodeTableEntry } from '../../../../src/stages/lookups/table-records.js'
import { addToBucket, emptyBucket } from '../../../../src/stages/lookups/key-aggregate.js'
import { LookupTable } from '../../../../src/stages/lookups/lookup-table.js'

const record = (key: string, value: Buffer | null) => ({
  topic: 'tables',
  partition: 0,
  offset: 0,
  key: Buffer.from(key),
  value,
  timestampMs: 0,
})

test('a bucket comes back from its tables-topic record with every field: amounts, deviations, newest time, distinct values, applied offsets', () => {
  const bucket = emptyBucket()
  addToBucket(bucket, { amount: 12.5, eventTimeMs: 1_000, values: { card_id: 'c1', device_id: 'd1' } })
  addToBucket(bucket, { amount: 3.25, eventTimeMs: 900, values: { card_id: 'c2' } })
  addToBucket(bucket, { amount: 40, eventTimeMs: 1_200, values: { card_id: 'c1' } })
  // Any string is a value: one named as an object's prototype too.
  addToBucket(bucket, { amount: 1, eventTimeMs: 1_100, values: { device_id: '__proto__' } })
  bucket.applied['tx/3'] = 17
  const { key, value } = encodeTableEntry({ kind: 'bucket', key: 'terminal:t1', start: 0, value: bucket })
  const table = new LookupTable(1)
  applyTableRecords(table, [record(key, value)])
  assert.deepEqual(table.get('terminal:t1')!.buckets.get(0), bucket)
  assert.deepEqual(Object.fromEntries(Object.entries(bucket.distinct).map(([field, hashes]) => [field, hashes.size])), {
    card_id: 2,
    device_id: 2,
  })
  assert.equal(bucket.lastMs, 1_200)
  assert.deepEqual(
    [bucket.min, bucket.max, bucket.ref, bucket.deviations, bucket.squaredDeviations],
    [1, 40, 12.5, -9.25 + 27.5 - 11.5, 9.25 ** 2 + 27.5 ** 2 + 11.5 ** 2],
  )
})
