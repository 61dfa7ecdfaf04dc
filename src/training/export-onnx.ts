import onnxProto from 'onnx-proto'
import type { LogisticModel } from './logistic-regression.js'

const { onnx } = onnxProto

export const ONNX_INPUT_NAME = 'features'
export const ONNX_OUTPUT_NAME = 'score'
/** The second output of every exported graph: [N, F + 1] margin contributions, one column a feature, then the bias. */
export const ONNX_CONTRIBUTIONS_NAME = 'contributions'

/**
 * The logistic model as an ONNX graph (opset 13, float32):
 *   features [N, F] → Abs → Add(1) → Log → Mul(Sign(features)) → Sub(mean) → Div(scale) = standardised
 *   standardised → MatMul(weights [F, 1]) → Add(bias) → Sigmoid → Reshape → score [N]
 *   standardised → Mul(weights [F]) ‖ Expand(bias, [N, 1]) → Concat → contributions [N, F + 1]
 * The same transform as `transformRow` (signed log, standardise), so TypeScript and onnxruntime agree to float32
 * precision. The contributions are `logisticContributions`: each term of the logit and the intercept.
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
    output: [valueInfo(ONNX_OUTPUT_NAME, ['N']), valueInfo(ONNX_CONTRIBUTIONS_NAME, ['N', width + 1])],
    initializer: [
      floats('one', [1], [1]),
      floats('mean', [width], model.mean),
      floats('scale', [width], model.scale),
      floats('weights', [width, 1], model.weights),
      floats('bias', [1], [model.bias]),
      floats('weight_row', [width], model.weights),
      floats('bias_cell', [1, 1], [model.bias]),
      int64s('flat', [-1]),
      int64s('zero_index', [0]),
      int64s('one_index', [1]),
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
      node('Mul', ['standardised', 'weight_row'], ['feature_terms']),
      node('Shape', [ONNX_INPUT_NAME], ['input_shape']),
      node('Slice', ['input_shape', 'zero_index', 'one_index'], ['batch']),
      node('Concat', ['batch', 'one_index'], ['bias_shape'], 0),
      node('Expand', ['bias_cell', 'bias_shape'], ['bias_column']),
      node('Concat', ['feature_terms', 'bias_column'], [ONNX_CONTRIBUTIONS_NAME], 1),
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

/** A node named after its output; `axis` for Concat. */
function node(opType: string, input: string[], output: string[], axis?: number) {
  const attribute = axis === undefined ? [] : [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: axis }]
  return onnx.NodeProto.create({ opType, input, output, name: `${opType}_${output[0]}`, attribute })
}

function int64s(name: string, values: number[]) {
  return onnx.TensorProto.create({
    name,
    dims: [values.length],
    dataType: onnx.TensorProto.DataType.INT64,
    int64Data: values,
  })
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
