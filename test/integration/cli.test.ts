import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { DemoSummary } from '../../src/cli/demo.js'
import { testConfig } from '../helpers/pipeline.js'
import { teardown } from '../helpers/teardown.js'

const run = promisify(execFile)
const BIN = fileURLToPath(new URL('../../bin/fraudstream.js', import.meta.url))
const cli = (...args: string[]) =>
  run(process.execPath, [BIN, ...args], { maxBuffer: 64 << 20, env: { ...process.env, FRAUDSTREAM_LOG_LEVEL: 'warn' } })

test('every command answers --help', async () => {
  for (const command of ['demo', 'run', 'generate', 'train', 'features', 'sql', 'migrate']) {
    const { stdout } = await cli(command, '--help')
    assert.match(stdout, new RegExp(`Usage: fraudstream ${command}`))
    assert.match(stdout, /--json/)
  }
})

test('generate --out writes seeded NDJSON transactions with labels beside them', async (t) => {
  const { dataDir, cleanup } = testConfig()
  teardown(t, cleanup)
  const out = join(dataDir, 'tx.ndjson')
  const { stdout } = await cli(
    'generate',
    '--count',
    '3000',
    '--seed',
    '5',
    '--invalid-rate',
    '0.01',
    '--out',
    out,
    '--json',
  )
  const summary = JSON.parse(stdout) as { transactions: number; valid: number; invalid: number; labels: number }
  const lines = readFileSync(out, 'utf8').split('\n').slice(0, -1)
  assert.equal(lines.length, 3000)
  assert.equal(summary.valid + summary.invalid, 3000)
  const labels = readFileSync(join(dataDir, 'tx.labels.ndjson'), 'utf8').split('\n').filter(Boolean)
  assert.equal(labels.length, summary.labels)
  const again = join(dataDir, 'again.ndjson')
  await cli('generate', '--count', '3000', '--seed', '5', '--invalid-rate', '0.01', '--out', again, '--json')
  assert.equal(readFileSync(again, 'utf8'), readFileSync(out, 'utf8'), 'the same seed writes the same file')
})

test('demo --count --json prints a summary that agrees with itself and with `fraudstream sql`', async (t) => {
  const { dataDir, cleanup } = testConfig()
  teardown(t, cleanup)
  const { stdout } = await cli(
    'demo',
    '--count',
    '4000',
    '--rate',
    'max',
    '--invalid-rate',
    '0.01',
    '--duplicate-rate',
    '0.01',
    '--data-dir',
    dataDir,
    '--port',
    '0',
    '--json',
  )
  const s = JSON.parse(stdout) as DemoSummary
  assert.equal(s.ok, true)
  assert.equal(s.generated, 4000)
  assert.equal(s.consumed, 4000)
  assert.equal(s.valid + s.invalid, s.consumed)
  assert.equal(s.scored, s.valid - s.duplicates, `every valid unique transaction scored: ${stdout}`)
  assert.equal(s.decisions.approve + s.decisions.review + s.decisions.decline, s.scored)
  assert.equal(s.alerts, s.decisions.decline)
  assert.equal(s.clickhouse_rows, s.scored)
  assert.equal(s.committed_offsets, s.end_offsets)
  assert.ok(s.invalid > 0 && s.duplicates > 0, `invalid and duplicate records were generated: ${stdout}`)
  assert.ok(s.throughput_tx_s > 0, `a throughput: ${stdout}`)
  assert.ok(
    s.latency_ms.p99 >= s.latency_ms.p50 &&
      s.latency_ms.p999 >= s.latency_ms.p99 &&
      s.latency_ms.max >= s.latency_ms.p999,
    `latency percentiles: ${stdout}`,
  )
  // Event → decision starts when the generator sent the record, before the job polled it.
  assert.ok(
    s.latency_ms.p50 + 1 >= s.poll_to_decision_ms.p50,
    `event → decision includes the time before the poll: ${stdout}`,
  )
  const { stdout: sql } = await cli(
    'sql',
    "SELECT count() AS n FROM scores WHERE model_role != 'shadow'",
    '--data-dir',
    dataDir,
    '--json',
  )
  assert.equal(Number((JSON.parse(sql) as { rows: { n: string }[] }).rows[0]!.n), s.clickhouse_rows)
  const { stdout: table } = await cli(
    'sql',
    "SELECT decision, count() AS n FROM scores WHERE model_role != 'shadow' GROUP BY decision ORDER BY decision",
    '--data-dir',
    dataDir,
  )
  assert.match(table, /^decision\s+n\n─+/)
  assert.match(table, /\(\d rows?\)\n$/)
})

test('a failing command exits non-zero with its error code', async (t) => {
  const { dataDir, cleanup } = testConfig()
  teardown(t, cleanup)
  await assert.rejects(
    cli('sql', 'SELECT * FROM no_such_table', '--data-dir', dataDir, '--json'),
    (err: { code: number; stdout: string }) => err.code === 1 && /FS_ERR_SINK_CLICKHOUSE/.test(err.stdout),
  )
  await assert.rejects(cli('generate', '--count', 'lots'), (err: { code: number }) => err.code !== 0)
  // Refused while parsing options: the same summary and exit code, not an uncaught stack.
  const refused = (err: { code: number; stdout: string }) =>
    err.code === 1 && JSON.parse(err.stdout).error.code === 'FS_ERR_USAGE'
  await assert.rejects(
    cli('features', '--input', 'tx.ndjson', '--out', 'f.csv', '--partitions', '2.5', '--json'),
    refused,
  )
  // Counts are whole numbers in every command.
  await assert.rejects(cli('generate', '--count', '2.5', '--json'), refused)
  await assert.rejects(cli('demo', '--count', '10.5', '--json'), refused)
  await assert.rejects(cli('train', '--transactions', '5000.5', '--json'), refused)
  // A missing input file is a usage error naming the option, found before --out is created or truncated.
  const input = join(dataDir, 'tx.ndjson')
  await cli('generate', '--count', '100', '--seed', '5', '--out', input, '--json')
  for (const args of [
    ['--input', join(dataDir, 'missing.ndjson')],
    ['--input', input, '--labels', join(dataDir, 'missing.labels.ndjson')],
  ]) {
    const out = join(dataDir, 'missing.csv')
    const option = args.at(-2)!
    await assert.rejects(
      cli('features', ...args, '--out', out, '--json'),
      (err: { code: number; stdout: string; stderr: string }) => {
        const { error } = JSON.parse(err.stdout) as { error: { code: string; message: string } }
        assert.equal(err.code, 1)
        assert.equal(error.code, 'FS_ERR_USAGE')
        assert.match(error.message, new RegExp(`^${option} .*missing`))
        assert.doesNotMatch(err.stderr, /MaxListenersExceededWarning/)
        return true
      },
    )
    await assert.rejects(
      cli('features', ...args, '--out', out),
      (err: { code: number; stderr: string }) => err.code === 1 && /\[FS_ERR_USAGE\]\n$/.test(err.stderr),
    )
    assert.equal(existsSync(out), false, `no ${out} left behind for ${option}`)
  }
})

test('features waits out the CSV stream’s backpressure without piling listeners on it', async (t) => {
  const { dataDir, cleanup } = testConfig()
  teardown(t, cleanup)
  const input = join(dataDir, 'tx.ndjson')
  await cli('generate', '--count', '3000', '--seed', '5', '--out', input, '--json')
  const out = join(dataDir, 'features.csv')
  // 3,000 rows fill the write stream's buffer many more than ten times, the warning's threshold.
  const { stdout, stderr } = await cli(
    'features',
    '--input',
    input,
    '--labels',
    join(dataDir, 'tx.labels.ndjson'),
    '--out',
    out,
    '--json',
  )
  assert.equal(
    readFileSync(out, 'utf8').split('\n').filter(Boolean).length,
    (JSON.parse(stdout) as { rows: number }).rows + 1,
  )
  assert.doesNotMatch(stderr, /MaxListenersExceededWarning/)
})
