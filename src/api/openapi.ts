import { z } from 'zod'
import { TransactionV1Schema } from '../core/transaction-v1.js'

/**
 * JSON Schemas of the API's bodies, for the OpenAPI 3.1 document (whose schema dialect is JSON Schema 2020-12, what
 * zod emits). They document; they do not validate: requests are validated by TransactionV1Schema itself, the schema the
 * stream decodes with, so the API accepts exactly what the stream accepts and reports zod's issue paths.
 */
const { $schema: _dialect, ...transaction } = z.toJSONSchema(TransactionV1Schema, {
  unrepresentable: 'any',
  io: 'input',
}) as Record<string, unknown>

export const transactionSchema = {
  ...transaction,
  description:
    'Transaction v1, as on the transactions topic. card_id must be a token or hash (a Luhn-valid 13–19 digit value is refused); currency ISO 4217; country and card_country ISO 3166-1 alpha-2.',
  example: {
    transaction_id: 'tx-0001',
    card_id: 'card-7f3a',
    customer_id: 'cust-12',
    merchant_id: 'm-88',
    terminal_id: 't-881',
    amount: 42.5,
    currency: 'EUR',
    mcc: '5411',
    country: 'FR',
    card_country: 'FR',
    channel: 'pos',
    entry_mode: 'chip',
    event_time: '2026-12-07T12:00:00Z',
  },
} as const

export const answerSchema = {
  type: 'object',
  required: ['transaction_id', 'decision', 'score', 'reasons', 'rules', 'model', 'latency_ms', 'fallback', 'replayed'],
  properties: {
    transaction_id: { type: 'string' },
    decision: { type: 'string', enum: ['approve', 'review', 'decline'] },
    score: { type: ['number', 'null'], description: "The deciding model's score; null when the fallback answered" },
    reasons: { type: 'array', items: { type: 'string' } },
    rules: {
      type: 'array',
      items: { type: 'string' },
      description: 'Rules that fired; `fallback:deadline` first when the fallback answered',
    },
    model: {
      type: 'object',
      required: ['name', 'version'],
      properties: { name: { type: 'string' }, version: { type: 'string' } },
    },
    latency_ms: { type: 'number', description: 'From the request arriving to this answer' },
    fallback: {
      type: 'boolean',
      description:
        "The stream's decision missed api.deadlineMs: the fallback rules answered on the transaction's own fields. The stream still decides and records the transaction; a retry gets that decision.",
    },
    replayed: {
      type: 'boolean',
      description:
        'An earlier request with this transaction_id produced the transaction: this is its decision (idempotent retry)',
    },
  },
} as const

export const errorSchema = {
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: {
      type: 'string',
      description: 'A stable code: invalid_transaction, unauthorized, forbidden, rate_limited, overloaded, …',
    },
    message: { type: 'string' },
    issues: {
      type: 'array',
      description: 'Every validation issue, with the path of the field (e.g. `transactions.2.amount`)',
      items: {
        type: 'object',
        required: ['path', 'message'],
        properties: { path: { type: 'string' }, message: { type: 'string' }, code: { type: 'string' } },
      },
    },
  },
} as const

/** Responses every authenticated route can give besides its own. */
export const commonErrors = {
  401: { description: 'No key, or a key that is not configured', ...errorSchema },
  403: { description: 'The key lacks the scope the route needs', ...errorSchema },
  429: { description: "The key's token bucket is empty; `Retry-After` says when a token returns", ...errorSchema },
} as const

/** The document's frame: @fastify/swagger fills in the paths from the routes' schemas. */
export const openApiFrame: import('@fastify/swagger').FastifyDynamicSwaggerOptions['openapi'] = {
  openapi: '3.1.0',
  info: {
    title: 'fraudstream scoring API',
    version: '1',
    description:
      'Synchronous card-fraud decisions for a payment gateway. Each transaction goes through the stream (the transactions topic, the job that owns its card, the decisions topic): the answer is the decision the stream records, once, in `decisions` and `scores`.',
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API key from api.keys' } },
  },
  security: [{ bearer: [] }],
}
