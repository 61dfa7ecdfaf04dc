import type { Label } from '../../core/label-v1.js'
import type { SourceRecord } from '../../core/ports.js'
import type { Stage } from '../../core/stage.js'
import { decodeLabel } from './decode-transaction.js'

/** The labels decode node: valid Label v1 records go on, anything else to the dead-letter topic with its reason. */
export function decodeLabelStage(
  name: string,
  options: { readonly maxRecordBytes: number },
): Stage<SourceRecord, Label> {
  return {
    name,
    process(batch, ctx) {
      for (const item of batch) {
        const decoded = decodeLabel(item.value.value, options)
        if (decoded.kind === 'ok') ctx.emit(item, decoded.label)
        else
          ctx.deadLetter(item, decoded.reason, {
            code: `FS_ERR_DECODE_${decoded.reason.toUpperCase()}`,
            message: decoded.message,
          })
      }
    },
  }
}
