import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { test } from 'node:test'
import { ClickhouseBatchSink } from '../../src/adapters/clickhouse/batch-sink.js'
import { createClickhouseClient, type ClickHouseClient } from '../../src/adapters/clickhouse/client.js'
import { checkDedupWindow, migrate } from '../../src/adapters/clickhouse/migrate.js'
import { createMetrics } from '../../src/observability/metrics.js'
import { testConfig, testLogger } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

/** Lets the first `failures` inserts reach ClickHouse, then throws as if the response had been lost. */
function losingAcks(client: ClickHouseClient, failures: number): { client: ClickHouseClient; tokens: string[] } {
  const tokens: string[] = []
  let remaining = failures
  const wrapped = Object.create(client) as ClickHouseClient
  wrapped.insert = (async (params: Parameters<ClickHouseClient['insert']>[0]) => {
    tokens.push(String(params.clickhouse_settings?.insert_deduplication_token))
    const result = await client.insert(params)
    if (remaining-- > 0) throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
    return result
  }) as ClickHouseClient['insert']
  return { client: wrapped, tokens }
}

test('an insert whose ack is lost is retried with the same token and ClickHouse keeps one copy', async (t) => {
  const { config, cleanup } = testConfig()
  teardown(t, cleanup)
  const real = await createClickhouseClient(config)
  teardown(t, () => real.close())
  await migrate(real)
  assert.equal((await migrate(real)).applied.length, 0, 'migrations are idempotent')
  await checkDedupWindow(real, 'scores', 1_000)
  const { client, tokens } = losingAcks(real, 2)
  const sink = new ClickhouseBatchSink<Record<string, unknown>>({
    client,
    table: 'scores',
    columns: [
      'transaction_id',
      'event_time',
      'decided_at',
      'source_topic',
      'source_partition',
      'source_offset',
      'run_id',
    ],
    tokenScope: 'live',
    maxBatchRows: 100,
    lingerMs: 10_000,
    retryBackoffMs: 5,
    maxRetryBackoffMs: 20,
    metrics: createMetrics({ defaultMetrics: false }),
    log: testLogger().log,
  })
  let acked = 0
  for (let offset = 0; offset < 100; offset++) {
    sink.add(
      'tx',
      0,
      offset,
      [
        {
          transaction_id: `t${offset}`,
          event_time: '2026-01-01 00:00:00.000',
          decided_at: '2026-01-01 00:00:00.000',
          source_topic: 'tx',
          source_partition: 0,
          source_offset: offset,
          run_id: 'live',
        },
      ],
      () => acked++,
    )
  }
  await sink.flush()
  assert.equal(acked, 100, 'every row acked once, after the successful attempt')
  assert.deepEqual(
    tokens,
    ['scores:live:tx:0:0-99', 'scores:live:tx:0:0-99', 'scores:live:tx:0:0-99'],
    'the identical token on every retry',
  )
  const [row] = await (
    await real.query({
      query: 'SELECT count() AS n, uniqExact(transaction_id) AS u FROM scores',
      format: 'JSONEachRow',
    })
  ).json<{ n: string; u: string }>()
  assert.deepEqual({ n: Number(row!.n), u: Number(row!.u) }, { n: 100, u: 100 })
})

test('after the rows are deleted and offsets start again, a new token scope keeps the same offset range from being dropped as a retry', async (t) => {
  const { config, cleanup } = testConfig()
  teardown(t, cleanup)
  const client = await createClickhouseClient(config)
  teardown(t, () => client.close())
  await migrate(client)
  const columns = ['transaction_id', 'event_time', 'source_topic', 'source_partition', 'source_offset', 'run_id']
  const writeRun = async (tokenScope: string, prefix: string) => {
    const sink = new ClickhouseBatchSink<Record<string, unknown>>({
      client,
      table: 'scores',
      columns,
      tokenScope,
      maxBatchRows: 10,
      lingerMs: 10_000,
      retryBackoffMs: 5,
      maxRetryBackoffMs: 20,
      metrics: createMetrics({ defaultMetrics: false }),
      log: testLogger().log,
    })
    for (let offset = 0; offset < 10; offset++) {
      const row = { transaction_id: `${prefix}${offset}`, event_time: '2026-01-01 00:00:00.000', source_topic: 'tx' }
      sink.add('tx', 0, offset, [{ ...row, source_partition: 0, source_offset: offset, run_id: 'live' }], () => {})
    }
    await sink.close()
  }
  const live = async () =>
    (
      await (
        await client.query({ query: `SELECT groupArray(transaction_id) AS ids FROM scores`, format: 'JSONEachRow' })
      ).json<{ ids: string[] }>()
    )[0]!.ids.sort()
  await writeRun('live@first', 'a')
  await client.command({ query: `ALTER TABLE scores DELETE WHERE run_id = 'live' SETTINGS mutations_sync = 1` })
  await writeRun('live@first', 'b')
  assert.deepEqual(await live(), [], 'the same token: ClickHouse took the new batch for a retry of the deleted one')
  await writeRun('live@second', 'c')
  assert.deepEqual(
    await live(),
    Array.from({ length: 10 }, (_, i) => `c${i}`),
  )
})

test('the sink refuses a scores table whose dedup window is too small to make retries idempotent', async (t) => {
  const { config, cleanup } = testConfig()
  teardown(t, cleanup)
  const client = await createClickhouseClient(config)
  teardown(t, () => client.close())
  await migrate(client)
  await client.command({ query: 'ALTER TABLE scores MODIFY SETTING non_replicated_deduplication_window = 3' })
  await assert.rejects(
    checkDedupWindow(client, 'scores', 1_000),
    (err: { code?: string; message: string }) =>
      err.code === 'FS_ERR_SINK_CLICKHOUSE' && /MODIFY SETTING/.test(err.message),
  )
})

test('an abort ends a process with embedded ClickHouse at once, also after the client was opened twice and with its event loop stuck (chDB alone leaves it hanging)', async (t) => {
  const { config, cleanup } = testConfig()
  teardown(t, cleanup)
  const clientModule = new URL('../../src/adapters/clickhouse/client.js', import.meta.url).href
  /** A child that opens embedded ClickHouse twice, then `then`s; resolves with how it ended and how long after it said "open". */
  const child = async (then: string, onOpen: (pid: number) => void = () => undefined) => {
    const script = `
      const { createClickhouseClient } = await import(${JSON.stringify(clientModule)})
      const config = ${JSON.stringify({ clickhouse: config.clickhouse, dataDir: config.dataDir })}
      const first = await createClickhouseClient(config)
      await first.query({ query: 'SELECT 1' })
      await first.close()
      const second = await createClickhouseClient(config)
      await second.query({ query: 'SELECT 1' })
      process.stdout.write('open\\n')
      ${then}`
    const spawned = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    let openedAt = Number.NaN
    spawned.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    spawned.stdout!.on('data', () => {
      openedAt = performance.now()
      onOpen(spawned.pid!)
    })
    const timer = setTimeout(() => spawned.kill('SIGKILL'), 30_000)
    const [code, signal] = (await once(spawned, 'exit')) as [number | null, NodeJS.Signals | null]
    clearTimeout(timer)
    return { ended: signal ?? `exit code ${code}`, afterOpenMs: performance.now() - openedAt, stderr }
  }
  const aborted = await child('process.abort()')
  assert.equal(
    aborted.ended,
    'SIGABRT',
    `the child ended by ${aborted.ended}, not by its abort: ${aborted.stderr.slice(-500)}`,
  )
  // An operator's kill -ABRT for a core dump, while the main thread is busy for 20 s: the signal's default action.
  const killed = await child('const until = Date.now() + 20_000; while (Date.now() < until);', (pid) =>
    process.kill(pid, 'SIGABRT'),
  )
  assert.equal(killed.ended, 'SIGABRT', killed.stderr.slice(-500))
  assert.ok(
    killed.afterOpenMs < 10_000,
    `the child ended ${Math.round(killed.afterOpenMs)} ms after the signal, not at once`,
  )
})
