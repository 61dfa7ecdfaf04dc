import type { FastifyPluginAsync } from 'fastify'
import { errorCodeOf, errorMessageOf } from '../core/errors.js'
import { commonErrors, errorSchema } from './openapi.js'

/** What the admin routes act on: the running job and the model registry. */
export interface AdminActions {
  /** `fraudstream models promote <ref>`: the registry file, and the models topic when brokers are configured. */
  promote(ref: string): Promise<{ readonly registry: unknown; readonly topic?: string }>
  /** Stops the job fetching from its partitions (records already fetched are still decided); true if it was running. */
  pause(): boolean
  resume(): boolean
  readonly paused: boolean
}

/** Admin error codes a caller can fix: the model reference is wrong or not loadable. */
const CALLER_ERRORS = new Set(['FS_ERR_USAGE', 'FS_ERR_MODEL_LOAD', 'FS_ERR_MODEL_CONTRACT'])

const stateSchema = {
  description: "The job's consumption",
  type: 'object',
  required: ['paused'],
  properties: { paused: { type: 'boolean' } },
} as const

/**
 * `/v1/admin/*`, registered behind the admin scope. Further admin routes (rules, lists) are plugins registered beside
 * this one (ApiServerOptions.adminPlugins) and inherit the scope check.
 */
export const adminRoutes: FastifyPluginAsync<{ actions: AdminActions }> = async (app, { actions }) => {
  app.post(
    '/models/promote',
    {
      schema: {
        summary: 'Make a model version the champion (as `fraudstream models promote`)',
        body: {
          type: 'object',
          required: ['model'],
          properties: { model: { type: 'string', description: 'name@version', example: 'card-fraud-gbdt@2' } },
        },
        response: {
          200: {
            description: 'The registry as written; every running instance switches within a second',
            type: 'object',
            properties: {
              ok: { type: 'boolean' },
              registry: { type: 'object', additionalProperties: true },
              topic: { type: 'string' },
            },
          },
          400: { description: 'Not a loadable model version', ...errorSchema },
          ...commonErrors,
        },
      },
    },
    async (request, reply) => {
      const model = (request.body as { model?: unknown } | null)?.model
      if (typeof model !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(model))
        return reply.code(400).send({ error: 'bad_request', message: 'body must be { "model": "name@version" }' })
      try {
        return { ok: true, ...(await actions.promote(model)) }
      } catch (err) {
        const code = errorCodeOf(err) ?? ''
        if (!CALLER_ERRORS.has(code)) throw err
        return reply.code(400).send({ error: code, message: errorMessageOf(err) })
      }
    },
  )
  const state = { response: { 200: stateSchema, ...commonErrors } }
  app.post('/pause', { schema: { summary: "Pause the job's consumption", ...state } }, async () => {
    actions.pause()
    return { paused: actions.paused }
  })
  app.post('/resume', { schema: { summary: "Resume the job's consumption", ...state } }, async () => {
    actions.resume()
    return { paused: actions.paused }
  })
  app.get('/status', { schema: { summary: "The job's consumption", ...state } }, async () => ({
    paused: actions.paused,
  }))
}
