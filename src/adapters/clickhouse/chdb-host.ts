// The child process of ChdbProcessConnection (chdb-process.ts): owns the embedded chDB session and runs the calls the
// parent's @clickhouse/client makes. chDB parses an insert on the calling thread, so in the job's process it held the
// event loop for tens of milliseconds per batch; here it holds only this one.
import type { Readable } from 'node:stream'
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

async function run(request: ChdbHostRequest): Promise<ChdbHostResponse> {
  const { id, op, params } = request
  switch (op) {
    case 'query':
    case 'exec': {
      const { stream, ...result } = await connection[op](params as never)
      return { id, result, bytes: await bytesOf(stream) }
    }
    case 'insert':
      return { id, result: { ...(await connection.insert({ ...params, values: request.values ?? '' } as never)) } }
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
