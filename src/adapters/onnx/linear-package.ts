import { readFileSync } from 'node:fs'
import onnxProto from 'onnx-proto'
import { ErrorCode, FraudstreamError } from '../../core/errors.js'
import type { LinearModel } from '../../stages/infer/first-tier.js'
import { assertContract, loadModelPackage, type ModelPackage } from './model-package.js'

const { onnx } = onnxProto

/**
 * A logistic-regression package's parameters, read from its ONNX graph's initializers (`mean`, `scale` [F],
 * `weights` [F, 1], `bias` [1], float32, as training/export-onnx.ts writes them), so the model can run as a dot product
 * on the main thread. Refuses a package of another kind or another feature contract.
 */
export function loadLinearPackage(
  modelsDir: string,
  ref: string,
  contract: { readonly hash: string; readonly names: readonly string[] },
): { readonly pkg: ModelPackage; readonly linear: LinearModel } {
  const pkg = loadModelPackage(modelsDir, ref)
  if (pkg.manifest.kind !== 'logistic_regression')
    throw new FraudstreamError(
      ErrorCode.modelLoad,
      `infer.tiers.first is ${ref}, a ${pkg.manifest.kind} model: the first tier runs a logistic_regression model on the main thread (train one with \`fraudstream train --kind logistic\`)`,
      'input',
    )
  assertContract(pkg.manifest, contract.hash, contract.names)
  let graph: onnxProto.onnx.IGraphProto | null | undefined
  try {
    graph = onnx.ModelProto.decode(readFileSync(pkg.onnxPath)).graph
  } catch (err) {
    throw new FraudstreamError(ErrorCode.modelLoad, `${pkg.onnxPath} is not an ONNX model`, 'input', false, {
      cause: err,
    })
  }
  const width = contract.names.length
  const floats = (name: string, length: number): Float64Array => {
    const tensor = graph?.initializer?.find((t) => t.name === name)
    const values = tensor?.floatData
    if (!values || values.length !== length)
      throw new FraudstreamError(
        ErrorCode.modelLoad,
        `${pkg.onnxPath} has no float initializer "${name}" of ${length} values: it was not exported by fraudstream train --kind logistic`,
        'input',
      )
    return Float64Array.from(values)
  }
  return {
    pkg,
    linear: {
      mean: floats('mean', width),
      scale: floats('scale', width),
      weights: floats('weights', width),
      bias: floats('bias', 1)[0]!,
    },
  }
}
