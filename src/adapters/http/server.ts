import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'
import { errorMessageOf } from '../../core/errors.js'

export interface HttpEndpoints {
  readonly registry: Registry
  /** Liveness: the process is up and the job has not failed. */
  readonly healthy: () => boolean
  /** Readiness: partitions assigned and state restored. */
  readonly ready: () => boolean
  readonly details: () => Record<string, unknown>
}

export interface HttpServer {
  readonly url: string
  close(): Promise<void>
}

/** `/metrics` (Prometheus text), `/health`, `/ready`. Binds to loopback by default: metrics are not public. */
export async function startHttpServer(options: {
  host: string
  port: number
  endpoints: HttpEndpoints
}): Promise<HttpServer> {
  const { endpoints } = options
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end()
      return
    }
    if (path === '/metrics') {
      endpoints.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': endpoints.registry.contentType }).end(text),
        (err: unknown) =>
          res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${errorMessageOf(err)}`),
      )
      return
    }
    if (path === '/health' || path === '/ready') {
      const ok = path === '/health' ? endpoints.healthy() : endpoints.ready()
      res
        .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: ok ? 'ok' : 'unavailable', ...endpoints.details() }))
      return
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /health or /ready\n')
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => resolve())
  })
  const address = server.address() as AddressInfo
  return {
    url: `http://${options.host}:${address.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
