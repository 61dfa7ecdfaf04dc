import assert from 'node:assert/strict'
import { test } from 'node:test'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { ENV_MAP, loadConfig } from '../../../src/config/load.js'

const root = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url))
interface Service {
  image?: string
  build?: string
  environment?: Record<string, string>
  ports?: string[]
  command?: unknown
  depends_on?: unknown
}
const compose = parse(readFileSync(root('docker-compose.yml'), 'utf8')) as { services: Record<string, Service> }
const job = compose.services.fraudstream!
/** Compose substitutes ${VAR:?msg}; the test stands in a value as `docker compose` would with the variable set. */
const env = Object.fromEntries(
  Object.entries(job.environment ?? {}).map(([k, v]) => [
    k,
    String(v).replace(/\$\{[A-Z_]+:\?[^}]*\}/g, 'secret-from-env'),
  ]),
)

test('docker-compose has Redpanda, its console, ClickHouse, Prometheus and the job built from the Dockerfile', () => {
  for (const name of ['redpanda', 'console', 'clickhouse', 'prometheus', 'fraudstream'])
    assert.ok(compose.services[name], `service ${name}`)
  assert.equal(job.build, '.')
  assert.match(readFileSync(root('Dockerfile'), 'utf8'), /ENTRYPOINT \["node", "bin\/fraudstream.js"\]/)
})

test('every job environment variable is one the config loader reads, and the resulting config is valid for production', () => {
  for (const key of Object.keys(env)) assert.ok(ENV_MAP[key], `${key} is not read by src/config/load.ts`)
  const config = loadConfig({ env })
  assert.equal(config.environment, 'production')
  assert.deepEqual(config.kafka.brokers, ['redpanda:9092'])
  assert.equal(config.clickhouse.password, 'secret-from-env')
  for (const service of Object.values(compose.services)) {
    for (const [key, value] of Object.entries(service.environment ?? {})) {
      if (/PASSWORD/.test(key))
        assert.match(String(value), /^\$\{[A-Z_]+:\?[^}]+\}$/, `${key} must come from the environment, not the file`)
    }
  }
})

test('ports agree: brokers, ClickHouse URL and the Prometheus target point at the services that listen there', () => {
  const config = loadConfig({ env })
  const redpandaArgs = (compose.services.redpanda!.command as string[]).join(' ')
  assert.ok(
    redpandaArgs.includes(`internal://${config.kafka.brokers[0]}`),
    'the job uses redpanda’s advertised internal listener',
  )
  assert.equal(new URL(config.clickhouse.url!).hostname, 'clickhouse')
  assert.ok(compose.services.clickhouse!.ports!.some((p) => p.endsWith(`:${new URL(config.clickhouse.url!).port}`)))
  assert.equal(config.http.host, '0.0.0.0', 'metrics listen beyond loopback inside the container')
  assert.ok(job.ports!.includes(`${config.http.port}:${config.http.port}`))
  const prometheus = parse(readFileSync(root('deploy/prometheus.yml'), 'utf8')) as {
    scrape_configs: { static_configs: { targets: string[] }[] }[]
  }
  assert.deepEqual(prometheus.scrape_configs[0]!.static_configs[0]!.targets, [`fraudstream:${config.http.port}`])
  assert.equal(
    config.clickhouse.database,
    (compose.services.clickhouse!.environment as Record<string, string>).CLICKHOUSE_DB,
  )
})
