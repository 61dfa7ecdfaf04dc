import type { FastifyPluginAsync, FastifyReply } from 'fastify'
import { errorCodeOf, errorMessageOf } from '../core/errors.js'
import type { Transaction } from '../core/transaction-v1.js'
import type { Metrics } from '../observability/metrics.js'
import { answerSchema, commonErrors, errorSchema, transactionSchema } from './openapi.js'
import type { ScoreAnswer } from './score-service.js'
import { validateTransactions, type InputIssue } from './transaction-input.js'

export interface ScoreBackend {
  score(txs: readonly Transaction[], startedAtMs: number): Promise<ScoreAnswer[]>
}

export interface ScoreRoutesOptions {
  readonly scorer: ScoreBackend
  readonly maxBatch: number
  readonly maxConcurrent: number
  readonly maxEventTimeAheadMs: number
  readonly metrics?: Metrics
}

/** Errors a retry can help with: the scorer was full or the producer refused; the gateway may retry at once. */
const RETRYABLE = new Set(['FS_ERR_API_OVERLOADED', 'FS_ERR_KAFKA_PRODUCE'])

const responses = (ok: object) => ({
  200: ok,
  400: { description: 'Invalid transaction(s): every issue with its path', ...errorSchema },
  ...commonErrors,
  503: {
    description: 'api.maxConcurrent transactions in flight, or the producer refused: retry after `Retry-After`',
    ...errorSchema,
  },
})

/**
 * `POST /v1/score` and `POST /v1/score/batch`. A request counts its transactions against api.maxConcurrent before
 * anything is produced: past the bound it is answered 503 at once, since queueing it would only answer it after the
 * deadline.
 */
export const scoreRoutes: FastifyPluginAsync<ScoreRoutesOptions> = async (app, options) => {
  let inFlight = 0

  const answer = async (reply: FastifyReply, body: unknown[], prefix: string[], startedAtMs: number) => {
    const input = validateTransactions(body, prefix, {
      wallMs: Date.now(),
      maxEventTimeAheadMs: options.maxEventTimeAheadMs,
    })
    if (input.kind === 'invalid') return invalid(reply, input.issues)
    const count = input.txs.length
    if (inFlight + count > options.maxConcurrent)
      return overloaded(reply, `${inFlight} transactions in flight; api.maxConcurrent is ${options.maxConcurrent}`)
    inFlight += count
    try {
      const answers = await options.scorer.score(input.txs, startedAtMs)
      options.metrics?.apiDuration.observeMs(performance.now() - startedAtMs)
      return answers
    } catch (err) {
      if (RETRYABLE.has(errorCodeOf(err) ?? '')) return overloaded(reply, errorMessageOf(err))
      throw err
    } finally {
      inFlight -= count
    }
  }

  app.post(
    '/v1/score',
    {
      schema: {
        summary: 'Decide one transaction',
        description:
          'Produces the transaction to the transactions topic and answers with the decision the stream makes for it, or, past api.deadlineMs, with the fallback rules (`fallback: true`). Idempotent by transaction_id.',
        body: transactionSchema,
        response: responses({ description: 'The decision', ...answerSchema }),
      },
    },
    async (request, reply) => {
      const answers = await answer(reply, [request.body], [], request.startedAtMs)
      return Array.isArray(answers) ? answers[0] : answers
    },
  )

  app.post(
    '/v1/score/batch',
    {
      schema: {
        summary: 'Decide up to api.maxBatch transactions',
        description:
          'One answer per transaction, in the order sent. One invalid transaction fails the whole batch (400), every issue listed.',
        body: {
          type: 'object',
          required: ['transactions'],
          properties: {
            transactions: { type: 'array', items: transactionSchema, minItems: 1, maxItems: options.maxBatch },
          },
        },
        response: responses({
          description: 'The decisions, in request order',
          type: 'object',
          required: ['results'],
          properties: { results: { type: 'array', items: answerSchema } },
        }),
      },
    },
    async (request, reply) => {
      const body = request.body as { transactions?: unknown } | null
      const txs = body?.transactions
      if (!Array.isArray(txs) || txs.length === 0)
        return invalid(reply, [
          {
            path: 'transactions',
            message: 'transactions must be a non-empty array of transactions',
            code: 'invalid_type',
          },
        ])
      if (txs.length > options.maxBatch)
        return invalid(reply, [
          {
            path: 'transactions',
            message: `at most ${options.maxBatch} transactions a batch (api.maxBatch), got ${txs.length}`,
            code: 'too_big',
          },
        ])
      const answers = await answer(reply, txs, ['transactions'], request.startedAtMs)
      return Array.isArray(answers) ? { results: answers } : answers
    },
  )
}

function invalid(reply: FastifyReply, issues: readonly InputIssue[]): FastifyReply {
  return reply.code(400).send({
    error: 'invalid_transaction',
    message: issues.map((i) => `${i.path}: ${i.message}`).join('; '),
    issues,
  })
}

function overloaded(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(503).header('retry-after', '1').send({ error: 'overloaded', message })
}
