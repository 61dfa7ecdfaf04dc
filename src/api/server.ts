import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify'
import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import type { Config } from '../config/schema.js'
import type { Logger } from '../observability/logger.js'
import type { Metrics } from '../observability/metrics.js'
import { ApiKeyring, hasScope, type ApiKey, type ApiScope } from './api-keys.js'
import { adminRoutes, type AdminActions } from './admin-routes.js'
import { openApiFrame } from './openapi.js'
import { scoreRoutes, type ScoreBackend } from './score-routes.js'
import { limitsByKeyId, TokenBucketStore } from './token-bucket-store.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated key; set by the auth hook on every route but the public ones. */
    apiKey: ApiKey | undefined
    /** performance.now() when the request arrived: the deadline and latency_ms count from here. */
    startedAtMs: number
  }
  interface FastifyContextConfig {
    /** Served without a key (the OpenAPI document). */
    public?: boolean
  }
}

export interface ApiServerOptions {
  readonly api: Pick<Config['api'], 'maxBatch' | 'maxConcurrent' | 'bodyLimitBytes'>
  readonly keys: readonly ApiKey[]
  readonly scorer: ScoreBackend
  /** decode.maxEventTimeAheadMs: what the stream would dead-letter, the API refuses with a 400. */
  readonly maxEventTimeAheadMs: number
  /** Without it (an API-only instance) the admin routes answer 404. */
  readonly admin?: AdminActions
  /** More admin routes (rules, lists), registered under /v1/admin behind the admin scope. */
  readonly adminPlugins?: readonly FastifyPluginAsync[]
  readonly log: Logger
  readonly metrics?: Metrics
  /** The token buckets' clock (tests move it by hand). */
  readonly nowMs?: () => number
}

/**
 * The scoring API as a Fastify instance, not yet listening (tests drive it with `inject`). Every route but
 * `/openapi.json` needs `Authorization: Bearer <key>`; hooks run auth (401) → scope (403) → the key's token bucket
 * (429 + Retry-After) → the route (400 on a bad body, 503 past api.maxConcurrent).
 */
export async function createApiServer(options: ApiServerOptions): Promise<FastifyInstance> {
  const keyring = new ApiKeyring(options.keys)
  const app: FastifyInstance = Fastify({
    // pino 10's Logger and the pino typings Fastify bundles disagree on fields Fastify never reads.
    loggerInstance: options.log as unknown as FastifyBaseLogger,
    // Nothing per request in the log on the hot path (STYLE §6): metrics count requests; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.api.bodyLimitBytes,
    // Requests are validated by zod (score-routes.ts); route schemas are for the OpenAPI document only.
    ajv: { customOptions: { strict: false } },
  })
  app.setValidatorCompiler(() => (data) => ({ value: data }))
  app.decorateRequest('apiKey', undefined)
  app.decorateRequest('startedAtMs', 0)
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500
    if (status >= 500) request.log.error({ err, route: request.routeOptions.url }, 'api request failed')
    void reply.code(status).send({ error: errorCodeOf(status, err), message: err.message })
  })
  app.addHook('onRequest', async (request, reply) => {
    request.startedAtMs = performance.now()
    if (request.routeOptions.config.public || request.routeOptions.url === undefined) return
    const auth = keyring.authenticate(request.headers.authorization)
    if (auth.kind !== 'ok') {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send({
          error: 'unauthorized',
          message:
            auth.kind === 'missing'
              ? 'send an API key: Authorization: Bearer <key>'
              : auth.kind === 'malformed'
                ? 'the Authorization header must be "Bearer <key>"'
                : 'unknown API key',
        })
    }
    request.apiKey = auth.key
  })
  if (options.metrics) {
    const { apiRequests } = options.metrics
    app.addHook('onResponse', async (request, reply) => {
      apiRequests.inc({ route: request.routeOptions.url ?? 'unknown', status: String(reply.statusCode) })
    })
  }
  await app.register(swagger, { openapi: openApiFrame })
  const limits = limitsByKeyId(options.keys)
  const nowMs = options.nowMs
  await app.register(rateLimit, {
    global: true,
    hook: 'preParsing',
    store: class extends TokenBucketStore {
      constructor() {
        super(limits, nowMs)
      }
    },
    keyGenerator: (request: FastifyRequest) => request.apiKey?.id ?? '',
    allowList: (request: FastifyRequest) => request.apiKey === undefined,
    max: (_request: FastifyRequest, keyId: string) => limits(keyId)?.burst ?? 1,
    timeWindow: 1_000,
    addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      error: 'rate_limited',
      message: `the key's rate limit is spent: retry in ${context.after}`,
    }),
  })
  await app.register(async (scoring) => {
    scoring.addHook('onRequest', requireScope('score'))
    await scoring.register(scoreRoutes, {
      scorer: options.scorer,
      maxBatch: options.api.maxBatch,
      maxConcurrent: options.api.maxConcurrent,
      maxEventTimeAheadMs: options.maxEventTimeAheadMs,
      ...(options.metrics ? { metrics: options.metrics } : {}),
    })
  })
  const admin = options.admin
  if (admin)
    await app.register(
      async (scope) => {
        scope.addHook('onRequest', requireScope('admin'))
        await scope.register(adminRoutes, { actions: admin })
        for (const plugin of options.adminPlugins ?? []) await scope.register(plugin)
      },
      { prefix: '/v1/admin' },
    )
  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger())
  return app
}

/** 403 unless the authenticated key has `scope`; runs after the auth hook, so a key is there. */
export function requireScope(scope: ApiScope) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const key = request.apiKey
    if (key && !hasScope(key, scope))
      return reply
        .code(403)
        .send({ error: 'forbidden', message: `key ${key.id} lacks the ${scope} scope this route needs` })
  }
}

function errorCodeOf(status: number, err: { code?: string; error?: string }): string {
  if (status === 429) return 'rate_limited'
  if (status === 413) return 'body_too_large'
  if (status === 415) return 'unsupported_media_type'
  if (status === 400) return 'bad_request'
  if (status === 404) return 'not_found'
  return status >= 500 ? 'internal' : (err.code ?? 'error')
}

export interface ApiServer {
  readonly url: string
  readonly app: FastifyInstance
  close(): Promise<void>
}

/** createApiServer, listening on host:port (port 0: any free one). */
export async function startApiServer(
  options: ApiServerOptions & { readonly host: string; readonly port: number },
): Promise<ApiServer> {
  const app = await createApiServer(options)
  await app.listen({ host: options.host, port: options.port })
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : options.port
  return { url: `http://${options.host}:${port}`, app, close: () => app.close() }
}
