import { ErrorCode, errorMessageOf, FraudstreamError } from '../../core/errors.js'
import type { ClickHouseClient } from './client.js'

/** A query's rows as JSON objects (arrays in JSONCompactEachRow, for long results); a failure is an FS_ERR_SINK_CLICKHOUSE error naming `what` was being read. */
export async function queryRows<T>(
  client: ClickHouseClient,
  query: string,
  params: Record<string, unknown>,
  what: string,
  format: 'JSONEachRow' | 'JSONCompactEachRow' = 'JSONEachRow',
): Promise<T[]> {
  try {
    return await (await client.query({ query, query_params: params, format })).json<T>()
  } catch (err) {
    throw new FraudstreamError(
      ErrorCode.sinkClickhouse,
      `${what} failed: ${errorMessageOf(err)}`,
      'external',
      false,
      { cause: err },
    )
  }
}
