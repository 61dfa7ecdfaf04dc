import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { createClient, type ClickHouseClient } from '@clickhouse/client'
import type { Config } from '../../config/schema.js'
import { ErrorCode, FraudstreamError } from '../../core/errors.js'

export type { ClickHouseClient }

/**
 * One client API for both deployments: a ClickHouse server when `clickhouse.url` is set, otherwise embedded chDB
 * under `<dataDir>/clickhouse` through the same @clickhouse/client interface.
 */
export async function createClickhouseClient(config: Pick<Config, 'clickhouse' | 'dataDir'>): Promise<ClickHouseClient> {
  const ch = config.clickhouse
  if (ch.url) {
    return createClient({
      url: ch.url,
      database: ch.database,
      ...(ch.username ? { username: ch.username } : {}),
      ...(ch.password ? { password: ch.password } : {}),
      request_timeout: 30_000,
    })
  }
  const path = join(config.dataDir, 'clickhouse')
  mkdirSync(path, { recursive: true })
  // chDB is an optional dependency (~550 MB): a server deployment installs with --omit=optional and never loads it.
  let createChdbConnection: typeof import('chdb/connection').createChdbConnection
  try {
    ;({ createChdbConnection } = await import('chdb/connection'))
  } catch (err) {
    throw new FraudstreamError(ErrorCode.configInvalid, 'embedded ClickHouse needs the optional chdb package (npm install chdb), or set clickhouse.url to a ClickHouse server', 'input', false, { cause: err })
  }
  // chDB's connection implements the client's Connection interface; the client's own types predate that hook.
  return createClient({ connection: createChdbConnection({ path }) } as Parameters<typeof createClient>[0])
}

export function describeClickhouse(config: Pick<Config, 'clickhouse' | 'dataDir'>): string {
  return config.clickhouse.url ? config.clickhouse.url.replace(/\/\/[^@/]*@/, '//') : `embedded chDB at ${join(config.dataDir, 'clickhouse')}`
}
