// The load side of bench:api, in a child process so that autocannon's own work does not sit on the event loop of
// the API it measures. Reads its settings from argv[2] (JSON), prints one JSON result line on stdout.
import autocannon from 'autocannon'
import { LatencyRecorder } from '../src/runtime/latency-recorder.js'

interface LoadSettings {
  readonly url: string
  readonly key: string
  readonly rate: number
  readonly seconds: number
  readonly connections: number
  /** Ids start here, so legs never repeat a transaction_id (a repeat would be answered from the cache). */
  readonly idBase: number
  /** Every request for one transaction_id: the cache answers all but the first (the baseline leg). */
  readonly sameId: boolean
}

const settings = JSON.parse(process.argv[2]!) as LoadSettings
const CARDS = 10_000
let next = settings.idBase
const server = new LatencyRecorder()
const sources = { stream: 0, fallback: 0, replayed: 0 }

function body(): string {
  const i = settings.sameId ? settings.idBase : next++
  return JSON.stringify({
    transaction_id: `bench-${i}`,
    card_id: `card-${i % CARDS}`,
    customer_id: `cust-${i % CARDS}`,
    merchant_id: `m-${i % 500}`,
    terminal_id: `t-${i % 2_000}`,
    amount: 5 + (i % 300),
    currency: 'EUR',
    mcc: '5411',
    country: 'FR',
    card_country: i % 20 === 0 ? 'US' : 'FR',
    channel: i % 3 === 0 ? 'ecom' : 'pos',
    event_time: new Date().toISOString(),
  })
}

const result = await autocannon({
  url: settings.url,
  connections: settings.connections,
  overallRate: settings.rate,
  duration: settings.seconds,
  requests: [
    {
      method: 'POST',
      path: '/v1/score',
      headers: { authorization: `Bearer ${settings.key}`, 'content-type': 'application/json' },
      setupRequest: (request) => ({ ...request, body: body() }),
      onResponse: (status, text) => {
        if (status !== 200) return
        const answer = JSON.parse(text) as { latency_ms: number; fallback: boolean; replayed: boolean }
        server.record(answer.latency_ms)
        sources[answer.fallback ? 'fallback' : answer.replayed ? 'replayed' : 'stream']++
      },
    },
  ],
})
process.stdout.write(
  `${JSON.stringify({
    requests: result.requests.total,
    rate: result.requests.average,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    client: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    server: server.summary(),
    sources,
  })}\n`,
)
