/**
 * A row already written as its JSONCompactEachRow text (a JSON array, no newline). The batch sink encodes a row when
 * it is added rather than when its batch is inserted: the row object would otherwise live until ClickHouse
 * acknowledged it, hundreds of milliseconds, be copied by two young-generation collections and promoted, where its
 * text is one flat string.
 */
export class EncodedRow {
  constructor(readonly json: string) {}
}

/** JSON.stringify, but an EncodedRow is written as its text: the `json.stringify` of every client createClickhouseClient makes. */
export function stringifyValues(value: unknown): string {
  return value instanceof EncodedRow ? value.json : JSON.stringify(value)
}
