import { execFile } from 'node:child_process'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { generateApiKey, hashApiKey } from '../src/api/api-keys.js'
import { startMockCluster } from '../src/adapters/kafka/mock-cluster.js'
import { createLogger } from '../src/observability/logger.js'
import { benchmarkArgs } from './args.js'
import { benchEnvironment, fmt, sleep, startBenchPipeline } from './harness.js'

const USAGE = `Question: how long does a payment gateway wait for POST /v1/score at 500, 1,000 and 2,000 requests/s against the
embedded stack (mock Kafka, the job, chDB), and how much of it is HTTP and auth rather than the trip through the stream?

  npm run bench:api -- [--rates 500,1000,2000] [--seconds 10] [--warmup-seconds 3] [--connections 100] [--json]

Each rate runs after a warm-up at that rate: autocannon in a child process (loopback, open rate: overallRate over
--connections) posts a new transaction per request; each goes to the transactions topic and waits for the job's
decision, or api.deadlineMs (80 ms) and then the fallback. "client" is autocannon's latency (1 ms resolution), "server"
the API's own latency_ms (request in → answer out). The baseline beside each rate: the same server answering one
transaction_id from its idempotency cache, at the same rate: HTTP, auth, rate limit and validation without the stream.
The ratio stream / baseline of p99 says what the trip through Kafka and the job costs. Target (issue 21): p99 ≤ 30 ms
at 1,000 requests/s. The machine's load average is printed with the figures: this 2-core VM is shared.`

const values = benchmarkArgs(USAGE, {
  rates: { type: 'string', default: '500,1000,2000' },
  seconds: { type: 'string', default: '10' },
  'warmup-seconds': { type: 'string', default: '3' },
  connections: { type: 'string', default: '100' },
})
const rates = values.rates.split(',').map(Number)
const seconds = Number(values.seconds)
const warmupSeconds = Number(values['warmup-seconds'])
const connections = Number(values.connections)
const log = createLogger({ level: 'warn' })
const progress = (line: string) => process.stderr.write(`${line}\n`)
const LOAD = fileURLToPath(new URL('./api-load.ts', import.meta.url))

interface LoadResult {
  requests: number
  rate: number
  non2xx: number
  errors: number
  timeouts: number
  client: { p50: number; p99: number; max: number }
  server: { p50: number; p99: number; p999: number; max: number }
  sources: { stream: number; fallback: number; replayed: number }
}

async function load(url: string, key: string, rate: number, secs: number, idBase: number, sameId: boolean) {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', LOAD, JSON.stringify({ url, key, rate, seconds: secs, connections, idBase, sameId })],
    { maxBuffer: 1 << 20 },
  )
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as LoadResult
}

const key = generateApiKey()
const cluster = await startMockCluster()
const bench = await startBenchPipeline({
  bootstrapServers: cluster.bootstrapServers,
  topic: `api-bench-${Date.now()}`,
  log,
  overrides: {
    'api.enabled': true,
    'api.port': 0,
    // The benchmark measures latency, not the rate limit: the key's bucket is far above every rate here.
    'api.keys': [{ id: 'bench', hash: hashApiKey(key), scopes: ['score'], ratePerSecond: 1e6, burst: 1e6 }],
  },
})
const url = bench.pipeline.api!.url
const env = benchEnvironment()
progress(
  `bench:api  node ${env.node}, ${env.cpus} CPUs (${env.cpu}), ${url}, ${connections} connections, ${seconds} s a rate after ${warmupSeconds} s`,
)
const rows: {
  rate: number
  stream: LoadResult
  baseline: LoadResult
  /** The job's own event → decision (Kafka timestamp to decision) during the stream leg. */
  job: { p50: number; p99: number; lookupWaited: number }
  load: number[]
}[] = []
const { pipeline } = bench

/** Until the job has consumed nothing new for half a second (at most 60 s): its backlog of the last leg is worked off. */
async function drained(): Promise<void> {
  const deadline = performance.now() + 60_000
  let last = -1
  while (performance.now() < deadline) {
    const { consumed } = pipeline.job.stats
    if (consumed === last && pipeline.job.inFlight === 0) return
    last = consumed
    await sleep(500)
  }
}
try {
  let idBase = 0
  for (const rate of rates) {
    await drained()
    await load(url, key, rate, warmupSeconds, idBase, false)
    idBase += 10_000_000
    const before = loadavg()
    pipeline.eventLatency.reset()
    const waitedBefore = pipeline.job.stats.lookupWaited
    const stream = await load(url, key, rate, seconds, idBase, false)
    const eventToDecision = pipeline.eventLatency.summary()
    const job = {
      p50: eventToDecision.p50,
      p99: eventToDecision.p99,
      lookupWaited: pipeline.job.stats.lookupWaited - waitedBefore,
    }
    idBase += 10_000_000
    // The baseline measures the server alone: the job first works off what the stream leg left it.
    await drained()
    const baseline = await load(url, key, rate, seconds, idBase, true)
    idBase += 10_000_000
    rows.push({ rate, stream, baseline, job, load: [before[0]!, loadavg()[0]!] })
    progress(
      `  ${fmt(rate)} req/s: through the stream p50 ${stream.client.p50} ms, p99 ${stream.client.p99} ms (server ${stream.server.p50} / ${stream.server.p99} ms), ` +
        `${fmt(stream.rate)} req/s achieved, fallback ${stream.sources.fallback} of ${stream.requests}, non-2xx ${stream.non2xx}; ` +
        `the job's event → decision p50 ${job.p50} / p99 ${job.p99} ms (${job.lookupWaited} waited for lookups); ` +
        `baseline (cache) p50 ${baseline.client.p50}, p99 ${baseline.client.p99} ms; p99 stream / baseline ${(stream.client.p99 / Math.max(1, baseline.client.p99)).toFixed(1)}x; ` +
        `load average ${before[0]!.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}`,
    )
  }
} finally {
  await bench.close()
  await cluster.close()
}
const at1000 = rows.find((r) => r.rate === 1000)
if (at1000)
  progress(
    `target p99 ≤ 30 ms at 1,000 req/s: ${at1000.stream.client.p99 <= 30 ? 'met' : 'not met'} (${at1000.stream.client.p99} ms)`,
  )
if (values.json) process.stdout.write(`${JSON.stringify({ env, connections, seconds, rows })}\n`)
