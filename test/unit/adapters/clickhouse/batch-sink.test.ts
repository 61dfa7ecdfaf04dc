import assert from 'node:assert/strict'
import { test } from 'node:test'
import { pino } from 'pino'
import { ClickhouseBatchSink } from '../../../../src/adapters/clickhouse/batch-sink.js'
import type { ClickHouseClient } from '../../../../src/adapters/clickhouse/client.js'
import { createMetrics } from '../../../../src/observability/metrics.js'

/** A client whose inserts wait until the test releases them, recording each insert's token and rows. */
function slowClient() {
  const inserts: { token: string; rows: { offset: number }[]; release: () => void }[] = []
  let inFlight = 0
  let maxInFlight = 0
  const client = {
    insert: (params: { values: [number][]; clickhouse_settings: { insert_deduplication_token: string } }) =>
      new Promise<void>((resolve) => {
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
        inserts.push({
          token: params.clickhouse_settings.insert_deduplication_token,
          rows: params.values.map(([offset]) => ({ offset })),
          release: () => {
            inFlight--
            resolve()
          },
        })
      }),
  } as unknown as ClickHouseClient
  return { client, inserts, maxInFlight: () => maxInFlight }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

test('batches grow while an insert is in flight: one insert at a time, each partition in offset order, rows acked after their insert', async () => {
  const { client, inserts, maxInFlight } = slowClient()
  const sink = new ClickhouseBatchSink<{ offset: number }>({ client, table: 'scores', columns: ['offset'], tokenScope: 'live', maxBatchRows: 1_000, lingerMs: 1, retryBackoffMs: 1, maxRetryBackoffMs: 1, metrics: createMetrics({ defaultMetrics: false }), log: pino({ level: 'silent' }) })
  const acked: string[] = []
  const add = (partition: number, offset: number) => sink.add('tx', partition, offset, [{ offset }], () => void acked.push(`${partition}:${offset}`))
  add(0, 0)
  await new Promise((resolve) => setTimeout(resolve, 10))
  assert.equal(inserts.length, 1, 'the idle inserter takes a batch after lingerMs')
  // While it is in flight, both partitions' rows accumulate instead of being cut every lingerMs.
  for (let offset = 1; offset <= 300; offset++) add(0, offset)
  for (let offset = 0; offset < 200; offset++) add(1, offset)
  await new Promise((resolve) => setTimeout(resolve, 20))
  assert.equal(inserts.length, 1, 'no second insert while the first is in flight')
  assert.deepEqual(acked, [], 'nothing acknowledged before its insert returns')
  inserts[0]!.release()
  await tick()
  assert.deepEqual(acked, ['0:0'])
  assert.equal(inserts.length, 2)
  assert.equal(inserts[1]!.token, 'scores:live:tx:0:1-300', 'the grown batch of partition 0, one contiguous range')
  inserts[1]!.release()
  await tick()
  assert.equal(inserts[2]!.token, 'scores:live:tx:1:0-199')
  inserts[2]!.release()
  await tick()
  assert.equal(acked.length, 501)
  assert.equal(maxInFlight(), 1)
  await sink.close()
})

test('a full batch is cut at maxBatchRows even while an insert is in flight, and flush waits for a partition\'s batches', async () => {
  const { client, inserts } = slowClient()
  const sink = new ClickhouseBatchSink<{ offset: number }>({ client, table: 'scores', columns: ['offset'], tokenScope: 'live', maxBatchRows: 100, lingerMs: 10_000, retryBackoffMs: 1, maxRetryBackoffMs: 1, metrics: createMetrics({ defaultMetrics: false }), log: pino({ level: 'silent' }) })
  for (let offset = 0; offset < 250; offset++) sink.add('tx', 0, offset, [{ offset }], () => {})
  assert.equal(inserts.length, 1)
  let flushed = false
  const flushing = sink.flush({ topic: 'tx', partition: 0 }).then(() => (flushed = true))
  for (const expected of ['scores:live:tx:0:0-99', 'scores:live:tx:0:100-199', 'scores:live:tx:0:200-249']) {
    await tick()
    assert.equal(flushed, false)
    assert.equal(inserts.at(-1)!.token, expected)
    inserts.at(-1)!.release()
  }
  await flushing
  assert.equal(inserts.length, 3)
})
