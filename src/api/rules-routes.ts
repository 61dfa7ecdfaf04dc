import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { errorCodeOf, errorMessageOf } from '../core/errors.js'
import { commonErrors, errorSchema } from './openapi.js'

/** What the rules and lists routes act on: RulesAdmin (src/rules/rules-admin.ts), as `fraudstream rules|lists` do. */
export interface RulesActions {
  listRules(): Promise<readonly unknown[]>
  putRule(raw: unknown): Promise<unknown>
  deleteRule(id: string): Promise<void>
  listEntries(): Promise<readonly unknown[]>
  addEntry(raw: unknown): Promise<unknown>
  removeEntry(kind: string, value: string, list?: string): Promise<string[]>
}

/** Errors the caller can fix: an invalid rule or entry (400), or a rule or entry not held (404). */
const STATUS_OF: Readonly<Record<string, number>> = {
  FS_ERR_RULE_INVALID: 400,
  FS_ERR_LIST_INVALID: 400,
  FS_ERR_USAGE: 404,
}

const anyObject = { type: 'object', additionalProperties: true } as const
const callerErrors = {
  400: { description: 'The rule or entry is invalid; the message gives every issue with its path', ...errorSchema },
  404: { description: 'No such rule or entry is held', ...errorSchema },
  ...commonErrors,
} as const

/** Runs an admin action, answering the caller's mistakes with their status and code; anything else is a 500. */
async function answer<T>(reply: FastifyReply, action: () => Promise<T>): Promise<T | FastifyReply> {
  try {
    return await action()
  } catch (err) {
    const status = STATUS_OF[errorCodeOf(err) ?? '']
    if (status === undefined) throw err
    return reply.code(status).send({ error: errorCodeOf(err), message: errorMessageOf(err) })
  }
}

/**
 * `/v1/admin/rules` and `/v1/admin/lists`, registered behind the admin scope (ApiServerOptions.adminPlugins). A write
 * answers once the broker acknowledged it; every running instance applies it within a second.
 */
export const rulesRoutes: FastifyPluginAsync<{ actions: RulesActions }> = async (app, { actions }) => {
  app.get(
    '/rules',
    {
      schema: {
        summary: 'The rules every instance follows',
        response: { 200: { type: 'object', properties: { rules: { type: 'array', items: anyObject } } } },
      },
    },
    async () => ({ rules: await actions.listRules() }),
  )
  app.put(
    '/rules',
    {
      schema: {
        summary: 'Add or replace a rule (as `fraudstream rules put`): validated and compiled before it is written',
        body: anyObject,
        response: { 200: { type: 'object', properties: { rule: anyObject } }, ...callerErrors },
      },
    },
    async (request, reply) => answer(reply, async () => ({ rule: await actions.putRule(request.body) })),
  )
  app.delete(
    '/rules/:id',
    {
      schema: {
        summary: 'Delete a rule (a tombstone on the rules topic)',
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } },
        response: { 200: { type: 'object', properties: { deleted: { type: 'string' } } }, ...callerErrors },
      },
    },
    async (request, reply) => {
      const { id } = request.params as { id: string }
      return answer(reply, async () => {
        await actions.deleteRule(id)
        return { deleted: id }
      })
    },
  )
  app.get(
    '/lists',
    {
      schema: {
        summary: 'The allow, block and watch list entries every instance holds',
        response: { 200: { type: 'object', properties: { entries: { type: 'array', items: anyObject } } } },
      },
    },
    async () => ({ entries: await actions.listEntries() }),
  )
  app.post(
    '/lists',
    {
      schema: {
        summary: 'Add an entry (as `fraudstream lists add`): { list, kind, value, expires_at?, reason? }',
        body: anyObject,
        response: { 200: { type: 'object', properties: { entry: anyObject } }, ...callerErrors },
      },
    },
    async (request, reply) => answer(reply, async () => ({ entry: await actions.addEntry(request.body) })),
  )
  app.delete(
    '/lists/:kind/:value',
    {
      schema: {
        summary: 'Remove a value of a kind from one list (?list=) or from every list holding it',
        params: {
          type: 'object',
          required: ['kind', 'value'],
          properties: { kind: { type: 'string' }, value: { type: 'string' } },
        },
        querystring: { type: 'object', properties: { list: { type: 'string' } } },
        response: {
          200: { type: 'object', properties: { removed: { type: 'array', items: { type: 'string' } } } },
          ...callerErrors,
        },
      },
    },
    async (request, reply) => {
      const { kind, value } = request.params as { kind: string; value: string }
      const { list } = request.query as { list?: string }
      return answer(reply, async () => ({ removed: await actions.removeEntry(kind, value, list) }))
    },
  )
}
