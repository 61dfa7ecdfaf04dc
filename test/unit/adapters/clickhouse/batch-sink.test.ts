import assert from 'node:assert/strict'
import { test } from 'node:test'
import { pino } from 'pino'
import { ClickhouseBatchSink } from '../../../../src/adapters/clickhouse/batch-sink.js'
import type { ClickHouseClient } from '../../../../src/adapters/clickhouse/client.js'
import { stringifyValues, type EncodedRow } from '../../../../src/adapters/clickhouse/encoded-row.js'
import { createMetrics } from '../../../../src/observability/metrics.js'

/** The rows of an insert: the sink sends them encoded (what the client then writes). */
function rowsOf(values: EncodedRow[]): unknown[][] {
  return values.map((row) => JSON.parse(stringifyValues(row)) as unknown[])
}

/** A client whose inserts wait until the test releases them, recording each insert's token and rows. */
function slowClient() {
  const inserts: { token: string; rows: { offset: number }[]; release: () => void }[] = []
  let inFlight = 0
  let maxInFlight = 0
  const client = {
    insert: (params: { values: EncodedRow[]; clickhouse_settings: { insert_deduplication_token: string } }) =>
      new Promise<void>((resolve) => {
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
        inserts.push({
          token: params.clickhouse_settings.insert_deduplication_token,
          rows: rowsOf(params.values).map(([offset]) => ({ offset: offset as number })),
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

test('batches grow while an insert is in flight: one insert at a time for every partition, each in offset order, rows acked after their insert', async () => {
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
  assert.equal(
    inserts[1]!.token,
    'scores:live:tx:0:1-300,tx:1:0-199',
    'the grown batch: both partitions in one insert, one contiguous range each',
  )
  assert.deepEqual(inserts[1]!.rows.length, 500)
  inserts[1]!.release()
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

test('a token names its partitions in partition order whatever order their rows came in, and a long one is a hash', async () => {
  const { client, inserts } = slowClient()
  const sink = new ClickhouseBatchSink<{ offset: number }>({ client, table: 'scores', columns: ['offset'], tokenScope: 'live', maxBatchRows: 10_000, lingerMs: 1, retryBackoffMs: 1, maxRetryBackoffMs: 1, metrics: createMetrics({ defaultMetrics: false }), log: pino({ level: 'silent' }) })
  sink.add('tx', 9, 0, [{ offset: 0 }], () => {})
  await new Promise((resolve) => setTimeout(resolve, 10))
  for (const partition of [3, 10, 2]) sink.add('tx', partition, 5, [{ offset: 5 }], () => {})
  inserts[0]!.release()
  await tick()
  assert.equal(inserts[1]!.token, 'scores:live:tx:2:5-5,tx:3:5-5,tx:10:5-5')
  inserts[1]!.release()
  await tick()
  for (let partition = 0; partition < 100; partition++) sink.add('tx', partition, 1_000_000, [{ offset: 1 }], () => {})
  await new Promise((resolve) => setTimeout(resolve, 10))
  assert.match(inserts[2]!.token, /^scores:live:sha256:[0-9a-f]{64}$/)
  inserts[2]!.release()
  await sink.close()
})

test('a dropped partition leaves the batches not yet sent, and a sent batch is retried whole while it holds another partition', async () => {
  let failures = 1
  const sent: { token: string; offsets: number[] }[] = []
  let release: () => void = () => {}
  const client = {
    insert: (params: { values: EncodedRow[]; clickhouse_settings: { insert_deduplication_token: string } }) => {
      sent.push({ token: params.clickhouse_settings.insert_deduplication_token, offsets: rowsOf(params.values).map(([o]) => o as number) })
      if (failures-- > 0) return Promise.reject(new Error('connection reset'))
      return new Promise<void>((resolve) => (release = resolve))
    },
  } as unknown as ClickHouseClient
  const sink = new ClickhouseBatchSink<{ offset: number }>({ client, table: 'scores', columns: ['offset'], tokenScope: 'live', maxBatchRows: 10_000, lingerMs: 1, retryBackoffMs: 1, maxRetryBackoffMs: 1, metrics: createMetrics({ defaultMetrics: false }), log: pino({ level: 'silent' }) })
  const acked: string[] = []
  sink.add('tx', 0, 0, [{ offset: 0 }], () => void acked.push('0:0'))
  sink.add('tx', 1, 0, [{ offset: 100 }], () => void acked.push('1:0'))
  await new Promise((resolve) => setTimeout(resolve, 5))
  // In flight (failed once, being retried): partition 1 is dropped; then both add rows to the open batch.
  sink.add('tx', 0, 1, [{ offset: 1 }], () => void acked.push('0:1'))
  sink.add('tx', 1, 1, [{ offset: 101 }], () => void acked.push('1:1'))
  sink.drop('tx', 1)
  await new Promise((resolve) => setTimeout(resolve, 10))
  assert.deepEqual(sent[0], sent[1], 'the retry sends the identical rows under the identical token')
  assert.deepEqual(sent[1], { token: 'scores:live:tx:0:0-0,tx:1:0-0', offsets: [0, 100] })
  release()
  await tick()
  assert.deepEqual(acked, ['0:0'], "the dropped partition's rows are not acknowledged")
  await new Promise((resolve) => setTimeout(resolve, 5))
  assert.deepEqual(sent[2], { token: 'scores:live:tx:0:1-1', offsets: [1] }, 'the dropped partition left the open batch')
  release()
  await sink.close()
  assert.deepEqual(acked, ['0:0', '0:1'])
})
