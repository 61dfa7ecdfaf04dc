// The child process of ChdbProcessConnection (chdb-process.ts): owns the embedded chDB session and runs the calls the
// parent's @clickhouse/client makes. chDB parses an insert on the calling thread, so in the job's process it held the
// event loop for tens of milliseconds per batch; here it holds only this one.
import { randomUUID } from 'node:crypto'
import type { Readable } from 'node:stream'
import type { RawInsertParams } from 'chdb'
import { createChdbConnection } from 'chdb/connection'
import type { ChdbHostRequest, ChdbHostResponse } from './chdb-process.js'
import { endProcessOnAbort } from './client.js'

const path = process.argv[2]
if (!path) throw new Error('chdb-host: the database path is the first argument')
const connection = createChdbConnection({ path })
endProcessOnAbort()

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string))
  return Buffer.concat(chunks)
}

/** The statement @clickhouse/client writes for an insert: `INSERT INTO <table> (<columns>) FORMAT <format>`. */
const CLIENT_INSERT = /^INSERT INTO (\S+) \(([^)]*)\) FORMAT (JSONCompactEachRow|JSONEachRow|TabSeparated|TSV|CSV)$/
/** Settings only ClickHouse's HTTP layer knows, which the client sends and the engine would refuse. */
const HTTP_ONLY = new Set(['wait_end_of_query', 'send_progress_in_http_headers', 'enable_http_compression'])

/**
 * A client insert as chDB's raw insert: the rows handed over as bytes with the settings as the insert's own. The
 * connection's insert instead prepends each setting as a `SET …;` statement to one multi-statement query holding the
 * rows, which chDB then splits, costing more CPU a row than the insert itself. Undefined for a statement of another
 * shape (it goes the connection's way).
 */
function rawInsertOf(params: Record<string, unknown>, values: string): RawInsertParams | undefined {
  const match = CLIENT_INSERT.exec(String(params.query ?? '').trim())
  if (!match) return undefined
  const settings: Record<string, string | number | boolean> = {}
  for (const [name, value] of Object.entries((params.clickhouse_settings ?? {}) as Record<string, unknown>))
    if (value !== undefined && !HTTP_ONLY.has(name)) settings[name] = value as string | number | boolean
  return {
    table: match[1]!,
    columns: match[2]!.split(',').map((column) => column.trim()),
    format: match[3] as RawInsertParams['format'],
    values: Buffer.from(values),
    settings,
  }
}

async function run(request: ChdbHostRequest): Promise<ChdbHostResponse> {
  const { id, op, params } = request
  switch (op) {
    case 'query':
    case 'exec': {
      const { stream, ...result } = await connection[op](params as never)
      return { id, result, bytes: await bytesOf(stream) }
    }
    case 'insert': {
      const raw = rawInsertOf(params, request.values ?? '')
      if (!raw)
        return { id, result: { ...(await connection.insert({ ...params, values: request.values ?? '' } as never)) } }
      const summary = await connection.chdb.rawInsert(raw)
      const rows = String(summary.rowsWritten)
      const bytes = String(summary.bytesWritten)
      return {
        id,
        result: {
          query_id: params.query_id ?? randomUUID(),
          response_headers: {},
          http_status_code: 200,
          summary: { read_rows: rows, read_bytes: bytes, written_rows: rows, written_bytes: bytes, result_rows: '0' },
        },
      }
    }
    case 'command':
      return { id, result: { ...(await connection.command(params as never)) } }
    case 'ping': {
      const pinged = await connection.ping(params as never)
      return pinged.success ? { id, result: { success: true } } : { id, error: pinged.error.message }
    }
  }
}

// The parent gone (its process ended, even by kill -9): nothing is left to serve.
process.on('disconnect', () => {
  void connection.close().finally(() => process.exit(0))
})
process.on('message', (request: ChdbHostRequest | { op: 'close' }) => {
  if (request.op === 'close') {
    void connection.close().then(() => process.send!({ id: 0, result: {} }, () => process.disconnect()))
    return
  }
  run(request).then(
    (response) => process.send!(response),
    (err: unknown) => process.send!({ id: request.id, error: err instanceof Error ? err.message : String(err) }),
  )
})
process.send!({ id: 0, result: { ready: true } })
