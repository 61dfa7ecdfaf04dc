import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadFeatures } from '../src/cli/feature-module.js'
import { loadConfig } from '../src/config/load.js'
import { readLineChunks } from '../src/offline/dump-line.js'
import { computeFeatureFile } from '../src/offline/feature-file.js'
import { PartitionState } from '../src/offline/partition-state.js'
import { WARM_MAX } from '../src/stages/windows/card-windows.js'
import { benchmarkArgs } from './args.js'
import { transactionChunks, windowStateOptions } from './card-stream.js'

const USAGE = `Question: how many transactions per second does the offline feature path (\`fraudstream features\`:
computeFeatureFile, with the default feature set or the module --features names, and the generated labels) sustain over a generated file of 6 months, does the rate stay flat as history grows (the rate of
each tenth of the file, and the last tenth's against the first's), how much memory does it take (peak RSS), and how
does it compare with the card windows alone (a short bench:windows loop in the same run: offline tx/s over window
updates/s)?

  npm run bench:offline -- [--count 2200000] [--customers 5000] [--merchants 4700] [--features <module>]
                           [--dir <cache>] [--seed 42] [--json]

The file is made once by \`fraudstream generate\` (--customers at ~2.4 transactions a day each: 2,200,000 span about
6 months) and kept in --dir (default: the system temp directory) for later runs with the same arguments; a smaller
--count is a quick run over fewer days. Rows are computed and dropped (no CSV is written): the path, not the disk.
--features examples/features/backtest-30d.ts adds 30-day card windows and 1/7/30-day terminal lookups to the
default set (the set issue 20 names); the card-windows comparison runs the same set.`

const values = benchmarkArgs(
  USAGE,
  {
    count: { type: 'string', default: '2200000' },
    customers: { type: 'string', default: '5000' },
    merchants: { type: 'string', default: '4700' },
    features: { type: 'string' },
    dir: { type: 'string', default: join(tmpdir(), 'fraudstream-bench-offline') },
  },
  '42',
)
const features = await loadFeatures({ features: values.features ? { module: values.features } : {} })
const count = Number(values.count)
if (!Number.isInteger(count) || count < 10)
  throw new Error(`--count must be a whole number of at least 10, got ${values.count}`)
const TENTHS = 10

/** The generated file and its labels, made by the CLI unless a run with the same arguments left them. */
function generatedFile(): { transactions: string; labels: string } {
  mkdirSync(values.dir, { recursive: true })
  const name = `tx-${count}-c${values.customers}-m${values.merchants}-s${values.seed}`
  const transactions = join(values.dir, `${name}.ndjson`)
  const labels = join(values.dir, `${name}.labels.ndjson`)
  const done = join(values.dir, `${name}.done`)
  if (!existsSync(done)) {
    // Written under other names and renamed: an interrupted run leaves no half file to be taken as the cache.
    const partial = join(values.dir, `${name}.partial.ndjson`)
    const partialLabels = join(values.dir, `${name}.partial.labels.ndjson`)
    process.stderr.write(`generating ${count} transactions into ${transactions} …\n`)
    execFileSync(
      process.execPath,
      [
        'bin/fraudstream.js',
        'generate',
        ...['--count', String(count), '--customers', values.customers, '--merchants', values.merchants],
        ...['--seed', values.seed, '--out', partial, '--labels-out', partialLabels, '--json'],
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    )
    renameSync(partial, transactions)
    renameSync(partialLabels, labels)
    writeFileSync(done, '')
  }
  return { transactions, labels }
}

/** Card-window updates per second (the bench:windows loop, shorter): the ceiling the offline path is compared with. */
function windowUpdatesPerSecond(updates: number): number {
  const state = new PartitionState(windowStateOptions(features))
  const width = features.length
  let elapsedMs = 0
  for (const chunk of transactionChunks(updates, { cards: 100_000, eventsPer14Days: 2_000_000, seed: 1 })) {
    const started = performance.now()
    const rows = new Float32Array(chunk.length * width)
    for (let i = 0; i < chunk.length; i += WARM_MAX) {
      const stretch = chunk.slice(i, i + WARM_MAX)
      state.warm(stretch)
      for (let j = 0; j < stretch.length; j++) state.observe(stretch[j]!, rows, (i + j) * width)
    }
    elapsedMs += performance.now() - started
  }
  return updates / (elapsedMs / 1000)
}

/** Read a piece at a time: the whole file in memory would be most of the peak RSS measured below. */
async function lineCount(path: string): Promise<number> {
  let n = 0
  for await (const chunk of readLineChunks(path))
    for (let at = chunk.indexOf(0x0a); at >= 0; at = chunk.indexOf(0x0a, at + 1)) n++
  return n
}

const file = generatedFile()
const lines = await lineCount(file.transactions)
// The CLI's defaults: the embedded cluster's 4 partitions of each topic, murmur2 (fraudstream's own producers).
const config = loadConfig()
let peakRssBytes = process.memoryUsage.rss()
const tenthRates: number[] = []
/** Per tenth, transactions per CPU second: on a shared machine wall time also counts the other processes' turns. */
const tenthCpuRates: number[] = []
let tenthCpu = process.cpuUsage()
let rows = 0
let tenthStartedMs = performance.now()
let nextTenth = 1
const started = performance.now()
const cpuBefore = process.cpuUsage()
/** Until the first row: the labels file read and routed, and the first windows filled. */
let setupS = 0
const { counts } = await computeFeatureFile(
  {
    transactionsPath: file.transactions,
    labelsPath: file.labels,
    features,
    config,
    partitions: 4,
    labelPartitions: 4,
    partitioner: 'murmur2',
  },
  () => {
    // The tenths start at the first row, so that the first is not slowed by the setup (timed on its own).
    if (rows++ === 0) {
      tenthStartedMs = performance.now()
      tenthCpu = process.cpuUsage()
      setupS = (tenthStartedMs - started) / 1000
    }
    if (rows * TENTHS >= nextTenth * lines) {
      const now = performance.now()
      const tenthRows = Math.round((nextTenth * lines) / TENTHS) - Math.round(((nextTenth - 1) * lines) / TENTHS)
      tenthRates.push(tenthRows / ((now - tenthStartedMs) / 1000))
      const cpu = process.cpuUsage(tenthCpu)
      tenthCpu = process.cpuUsage()
      tenthCpuRates.push(tenthRows / ((cpu.user + cpu.system) / 1e6))
      tenthStartedMs = now
      nextTenth++
      peakRssBytes = Math.max(peakRssBytes, process.memoryUsage.rss())
    }
  },
)
const elapsedS = (performance.now() - started) / 1000
const cpu = process.cpuUsage(cpuBefore)
const cpuS = (cpu.user + cpu.system) / 1e6
peakRssBytes = Math.max(peakRssBytes, process.memoryUsage.rss(), process.resourceUsage().maxRSS * 1024)
const windowsRate = windowUpdatesPerSecond(Math.min(1_000_000, Math.max(100_000, count)))
const rate = counts.rows / elapsedS
const result = {
  benchmark: 'offline-features',
  node: process.version,
  transactions: counts.rows,
  file: file.transactions,
  features: { module: values.features ?? 'topology/features.ts', count: features.length },
  elapsed_s: Math.round(elapsedS * 100) / 100,
  setup_s: Math.round(setupS * 100) / 100,
  tx_per_s: Math.round(rate),
  cpu_s: Math.round(cpuS * 100) / 100,
  tx_per_cpu_s: Math.round(counts.rows / cpuS),
  tenth_tx_per_s: tenthRates.map(Math.round),
  last_over_first: Math.round((tenthRates.at(-1)! / tenthRates[0]!) * 1000) / 1000,
  tenth_tx_per_cpu_s: tenthCpuRates.map(Math.round),
  cpu_last_over_first: Math.round((tenthCpuRates.at(-1)! / tenthCpuRates[0]!) * 1000) / 1000,
  peak_rss_mb: Math.round(peakRssBytes / 2 ** 20),
  window_updates_per_s: Math.round(windowsRate),
  offline_over_windows: Math.round((rate / windowsRate) * 1000) / 1000,
  counts,
}
if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`)
else {
  process.stdout.write(
    [
      `offline-features  node ${process.version}; ${counts.rows} transactions (${file.transactions}) in ${result.elapsed_s} s`,
      `  features        ${features.length} from ${result.features.module}`,
      `  setup           ${result.setup_s} s before the first row (labels read and routed); the tenths start there`,
      `  rate            ${result.tx_per_s} tx/s (${result.tx_per_cpu_s} per CPU second: ${result.cpu_s} s of CPU, GC threads included)`,
      `  per tenth       ${result.tenth_tx_per_s.join(' ')} tx/s`,
      `  last / first    ${result.last_over_first}`,
      `  per CPU second  ${result.tenth_tx_per_cpu_s.join(' ')} tx per CPU s per tenth; last / first ${result.cpu_last_over_first}`,
      `  peak RSS        ${result.peak_rss_mb} MiB`,
      `  card windows    ${result.window_updates_per_s} updates/s alone; offline / windows = ${result.offline_over_windows}`,
      '',
    ].join('\n'),
  )
}
