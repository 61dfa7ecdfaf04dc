import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { createClient, type ClickHouseClient } from '@clickhouse/client'
import type { Config } from '../../config/schema.js'
import { ErrorCode, FraudstreamError } from '../../core/errors.js'
import { ChdbProcessConnection } from './chdb-process.js'
import { stringifyValues } from './encoded-row.js'

export type { ClickHouseClient }

/**
 * One client API for both deployments: a ClickHouse server when `clickhouse.url` is set, otherwise embedded chDB
 * under `<dataDir>/clickhouse` through the same @clickhouse/client interface. Either writes an EncodedRow value as
 * the text it holds (the batch sink's rows).
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
      json: { stringify: stringifyValues },
    })
  }
  const path = join(config.dataDir, 'clickhouse')
  mkdirSync(path, { recursive: true })
  // chDB is an optional dependency (~550 MB): a server deployment installs with --omit=optional and never loads it.
  try {
    import.meta.resolve('chdb/connection')
  } catch (err) {
    throw new FraudstreamError(ErrorCode.configInvalid, 'embedded ClickHouse needs the optional chdb package (npm install chdb), or set clickhouse.url to a ClickHouse server', 'input', false, { cause: err })
  }
  // The connection implements the client's Connection interface; the client's own types predate that hook.
  return createClient({
    connection: new ChdbProcessConnection(path),
    json: { stringify: stringifyValues },
  } as unknown as Parameters<typeof createClient>[0])
}

export function describeClickhouse(config: Pick<Config, 'clickhouse' | 'dataDir'>): string {
  return config.clickhouse.url ? config.clickhouse.url.replace(/\/\/[^@/]*@/, '//') : `embedded chDB at ${join(config.dataDir, 'clickhouse')}`
}

const noop = () => undefined

/**
 * Opening chDB installs ClickHouse's handlers for fatal signals, and its SIGABRT handler never returns in a Node
 * process: a native abort anywhere (std::terminate in an addon, "pure virtual method called") left a live process
 * that did nothing, where a supervisor or a test runner must see a crash. Adding a Node listener and removing it at
 * once puts the default action back (libuv installs its handler for a first listener and resets the signal to
 * SIG_DFL when the last goes), so an abort, or an operator's kill -ABRT for a core dump, ends the process at once,
 * even with the event loop stuck. Done after every opening, because each one installs ClickHouse's handler again.
 * If something else listens for SIGABRT, its listener keeps Node's handler and is left alone. chDB's SIGSEGV and
 * SIGBUS handlers hang the same way; JavaScript cannot reset those.
 */
export function endProcessOnAbort(): void {
  if (process.listenerCount('SIGABRT') > 0) return
  process.on('SIGABRT', noop)
  process.off('SIGABRT', noop)
}
