import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { pack } from 'msgpackr'
import { partitionOf } from '../../src/adapters/kafka/partitioner.js'
import { KafkaProducerSink } from '../../src/adapters/kafka/producer-sink.js'
import { createPipeline } from '../../src/main.js'
import { decodeTransaction } from '../../src/stages/decode/decode-transaction.js'
import { readTopic, waitFor, useMockCluster } from '../helpers/kafka.js'
import { testConfig, testLogger } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const run = promisify(execFile)
const BIN = fileURLToPath(new URL('../../bin/fraudstream.js', import.meta.url))
const cluster = useMockCluster()

test('`fraudstream features` writes, for a file of transactions, exactly the feature vectors the stream logged to ClickHouse', async (t) => {
  const topics = {
    transactions: `tx-${Math.random().toString(36).slice(2)}`,
    decisions: 'decisions-fcli',
    alerts: 'alerts-fcli',
    dlq: 'dlq-fcli',
    labels: 'labels-fcli',
  }
  const { config, dataDir, cleanup } = testConfig({ 'kafka.topics': topics })
  teardown(t, cleanup)
  const input = join(dataDir, 'tx.ndjson')
  // Few customers: eight days of event time, so the lookups (windows ending a day back) hold history and labels.
  await run(process.execPath, [
    BIN,
    'generate',
    '--count',
    '6000',
    '--seed',
    '17',
    '--customers',
    '300',
    '--merchants',
    '50',
    '--fraud-rate',
    '0.02',
    '--invalid-rate',
    '0.01',
    '--duplicate-rate',
    '0.01',
    '--out',
    input,
    '--json',
  ])
  const { log } = testLogger()
  const pipeline = await createPipeline({ config, kafka: { bootstrapServers: cluster.bootstrapServers }, log })
  teardown(t, () => pipeline.close())
  const producer = await KafkaProducerSink.connect({ config: { 'bootstrap.servers': cluster.bootstrapServers }, log })
  teardown(t, () => producer.close())
  // Partition 0's records 300 lines (hours of event time) behind the others': in order within each partition, as a
  // topic is, but far out of order across them. Each partition has its own watermark, in the stream and in the CLI.
  const generated = readFileSync(input, 'utf8').split('\n').slice(0, -1)
  const cardOf = (line: string) => /"card_id":"([^"]+)"/.exec(line)?.[1]
  const inPartition0 = (line: string) => cardOf(line) !== undefined && partitionOf(cardOf(line)!, 4, 'murmur2') === 0
  // And five late ones (partitions 1–3): copies of a transaction two hours back, 200 lines (hours of event time)
  // after it, when their partition's watermark is past them. Both score them with the windows as they are.
  const late = generated
    .map((line, i) => ({ line, i }))
    .filter(
      ({ line, i }) =>
        i >= 1_000 &&
        i % 100 === 0 &&
        decodeTransaction(Buffer.from(line), { maxRecordBytes: 65_536 }).kind === 'ok' &&
        !inPartition0(line),
    )
    .slice(0, 5)
    .map(({ line, i }, n) => {
      const eventTime = /"event_time":"([^"]+)"/.exec(line)![1]!
      const lateLine = line
        .replace(/"transaction_id":"[^"]+"/, `"transaction_id":"tx-late-${n}"`)
        .replace(
          `"event_time":"${eventTime}"`,
          `"event_time":"${new Date(Date.parse(eventTime) - 7_200_000).toISOString()}"`,
        )
      return { line: lateLine, at: i + 200.5 }
    })
  assert.equal(late.length, 5)
  const lines = [...generated.map((line, i) => ({ line, at: i + (inPartition0(line) ? 300 : 0) })), ...late]
    .sort((a, b) => a.at - b.at)
    .map(({ line }) => line)
  writeFileSync(input, `${lines.join('\n')}\n`)
  const labelsPath = join(dataDir, 'tx.labels.ndjson')
  // Labels first: the stream's lookups then never wait for them, and read the same labels the file gives.
  for (const line of readFileSync(labelsPath, 'utf8').split('\n').filter(Boolean)) {
    producer.send(
      { topic: topics.labels, key: /"transaction_id":"([^"]+)"/.exec(line)![1]!, value: Buffer.from(line) },
      () => undefined,
    )
  }
  // One transaction whose event time is days ahead of its record's timestamp, in the topic only: the stream
  // dead-letters it (event_time_ahead). A bare line cannot say so; a kcat envelope carries the timestamp.
  const ahead = lines
    .find((line) => cardOf(line) !== undefined)!
    .replace(/"transaction_id":"[^"]+"/, '"transaction_id":"tx-ahead"')
    .replace(/"event_time":"[^"]+"/, `"event_time":"${new Date(Date.now() + 3 * 86_400_000).toISOString()}"`)
  // Every fourth valid one as msgpack, which the stream decodes alike: a dump must carry its bytes unchanged.
  const valueOf = (line: string, i: number) => {
    if (i % 4 !== 0) return Buffer.from(line)
    try {
      return pack(JSON.parse(line))
    } catch {
      return Buffer.from(line)
    }
  }
  for (const [i, line] of [...lines.slice(0, 100), ahead, ...lines.slice(100)].entries())
    producer.send({ topic: topics.transactions, key: cardOf(line) ?? null, value: valueOf(line, i) }, () => undefined)
  await producer.flush()
  await waitFor(() => pipeline.job.stats.consumed >= lines.length + 1, {
    timeoutMs: 60_000,
    what: 'the job to consume the file',
  })
  await pipeline.job.stop()
  assert.equal(pipeline.job.stats.late, 5, 'the late copies, and nothing else, are late')
  assert.match(await pipeline.metrics.registry.metrics(), /fraudstream_transactions_total\{outcome="late"\} 5\b/)

  const logged = await (
    await pipeline.clickhouse.query({
      query: 'SELECT transaction_id, features FROM scores WHERE source_topic = {topic:String}',
      query_params: { topic: topics.transactions },
      format: 'JSONEachRow',
    })
  ).json<{ transaction_id: string; features: Record<string, number> }>()
  const features = async (name: string, inputPath: string, labels: string) => {
    const csvPath = join(dataDir, `${name}.csv`)
    const { stdout } = await run(process.execPath, [
      BIN,
      'features',
      '--input',
      inputPath,
      '--labels',
      labels,
      '--out',
      csvPath,
      '--json',
    ])
    const summary = JSON.parse(stdout) as {
      rows: number
      invalid: number
      duplicates: number
      late: number
      unattributed_labels: number
    }
    const [header, ...rows] = readFileSync(csvPath, 'utf8').split('\n').filter(Boolean)
    const columns = header!.split(',')
    assert.equal(columns.at(-1), 'is_fraud')
    const names = columns.slice(3, -1)
    assert.equal(rows.length, summary.rows)
    assert.equal(summary.rows, pipeline.job.stats.scored, name)
    assert.equal(summary.duplicates, pipeline.job.stats.duplicates, name)
    assert.equal(summary.late, pipeline.job.stats.late, name)
    const byId = new Map(logged.map((r) => [r.transaction_id, names.map((n) => r.features[n])]))
    assert.equal(rows.filter((r) => r.startsWith('tx-late-')).length, 5, `${name}: the late transactions are scored`)
    let compared = 0
    for (const row of rows) {
      const cells = row.split(',')
      const fromFile = cells.slice(3, -1).map(Number)
      assert.deepEqual(byId.get(cells[0]!), fromFile, `${name}: features of ${cells[0]}`)
      compared++
    }
    assert.equal(compared, logged.length)
    assert.ok(
      rows.some((r) => r.endsWith(',1')),
      'fraud labels are joined',
    )
    const fraudRatio = names.indexOf('terminal_fraud_ratio_7d')
    assert.ok(
      rows.filter((r) => Number(r.split(',')[3 + fraudRatio]) > 0).length > 50,
      'label-based lookups are in the comparison',
    )
    return summary
  }
  // The generated file, bare values: its partitions from the partitioner. It lacks the record that is ahead.
  assert.equal((await features('from-file', input, labelsPath)).invalid, pipeline.job.stats.invalid - 1)
  // Labels as banks send them (transaction_id, is_fraud, source, reported_at): attributed from the transactions of
  // the file, they give what the stream computed from the full labels.
  const bankLabelsPath = join(dataDir, 'tx.bank-labels.ndjson')
  const labelLines = readFileSync(labelsPath, 'utf8').split('\n').filter(Boolean)
  writeFileSync(
    bankLabelsPath,
    labelLines
      .map((line) => {
        const { transaction_id, is_fraud, source, reported_at } = JSON.parse(line) as Record<string, unknown>
        return `${JSON.stringify({ transaction_id, is_fraud, source, reported_at })}\n`
      })
      .join(''),
  )
  const bank = await features('from-bank-labels', input, bankLabelsPath)
  const rowIds = new Set(
    readFileSync(join(dataDir, 'from-bank-labels.csv'), 'utf8')
      .split('\n')
      .slice(1)
      .map((r) => r.split(',')[0]),
  )
  const labelIds = labelLines.map((line) => (JSON.parse(line) as { transaction_id: string }).transaction_id)
  assert.equal(
    bank.unattributed_labels,
    labelIds.filter((id) => !rowIds.has(id)).length,
    'only the labels of transactions not in the file are unattributed',
  )
  // The topics dumped as `kcat -C -J` prints them, one partition after another (far out of order across them):
  // partitions and timestamps from the envelopes, and the record ahead of its timestamp is invalid, as in the stream.
  const dump = async (topic: string, path: string) => {
    const records = (await readTopic(cluster.bootstrapServers, topic)).sort(
      (a, b) => b.partition - a.partition || a.offset - b.offset,
    )
    // As kcat writes them: the value's bytes as they are inside the JSON string (msgpack is not UTF-8).
    const envelope = (r: (typeof records)[number]) =>
      Buffer.from(
        JSON.stringify({
          topic,
          partition: r.partition,
          offset: r.offset,
          tstype: 'create',
          ts: r.timestampMs,
          broker: 1,
          key: r.key,
          payload: r.value.toString('latin1'),
        }),
        'latin1',
      )
    writeFileSync(path, Buffer.concat(records.flatMap((r) => [envelope(r), Buffer.from('\n')])))
  }
  await dump(topics.transactions, join(dataDir, 'tx.kcat.ndjson'))
  await dump(topics.labels, join(dataDir, 'labels.kcat.ndjson'))
  assert.equal(
    (await features('from-dump', join(dataDir, 'tx.kcat.ndjson'), join(dataDir, 'labels.kcat.ndjson'))).invalid,
    pipeline.job.stats.invalid,
  )
})
