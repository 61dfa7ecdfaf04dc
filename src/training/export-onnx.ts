import onnxProto from 'onnx-proto'
import type { LogisticModel } from './logistic-regression.js'

const { onnx } = onnxProto

export const ONNX_INPUT_NAME = 'features'
export const ONNX_OUTPUT_NAME = 'score'

/**
 * The logistic model as an ONNX graph (opset 13, float32):
 *   features [N, F] → Abs → Add(1) → Log → Mul(Sign(features)) → Sub(mean) → Div(scale)
 *                   → MatMul(weights [F, 1]) → Add(bias) → Sigmoid → Reshape → score [N]
 * The same transform as `transformRow` (signed log, standardise), so TypeScript and onnxruntime agree to float32
 * precision.
 */
export function logisticToOnnx(
  model: LogisticModel,
  options: { featureNames: readonly string[]; docString: string },
): Uint8Array {
  const width = model.weights.length
  const floats = (name: string, dims: number[], values: ArrayLike<number>) =>
    onnx.TensorProto.create({
      name,
      dims,
      dataType: onnx.TensorProto.DataType.FLOAT,
      floatData: Array.from(values, Number),
    })
  const graph = onnx.GraphProto.create({
    name: 'logistic_regression',
    docString: `inputs in order: ${options.featureNames.join(', ')}`,
    input: [valueInfo(ONNX_INPUT_NAME, ['N', width])],
    output: [valueInfo(ONNX_OUTPUT_NAME, ['N'])],
    initializer: [
      floats('one', [1], [1]),
      floats('mean', [width], model.mean),
      floats('scale', [width], model.scale),
      floats('weights', [width, 1], model.weights),
      floats('bias', [1], [model.bias]),
      onnx.TensorProto.create({ name: 'flat', dims: [1], dataType: onnx.TensorProto.DataType.INT64, int64Data: [-1] }),
    ],
    node: [
      node('Abs', [ONNX_INPUT_NAME], ['magnitude']),
      node('Add', ['magnitude', 'one'], ['shifted']),
      node('Log', ['shifted'], ['logged']),
      node('Sign', [ONNX_INPUT_NAME], ['sign']),
      node('Mul', ['logged', 'sign'], ['signed_log']),
      node('Sub', ['signed_log', 'mean'], ['centred']),
      node('Div', ['centred', 'scale'], ['standardised']),
      node('MatMul', ['standardised', 'weights'], ['product']),
      node('Add', ['product', 'bias'], ['logit']),
      node('Sigmoid', ['logit'], ['probability']),
      node('Reshape', ['probability', 'flat'], [ONNX_OUTPUT_NAME]),
    ],
  })
  const proto = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'fraudstream',
    producerVersion: '0.1.0',
    docString: options.docString,
    opsetImport: [{ domain: '', version: 13 }],
    graph,
  })
  return onnx.ModelProto.encode(proto).finish()
}

function node(opType: string, input: string[], output: string[]) {
  return onnx.NodeProto.create({ opType, input, output, name: `${opType}_${output[0]}` })
}

/** A float32 tensor's name and shape, `N` for the batch dimension. */
export function valueInfo(name: string, dims: (string | number)[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  })
}
