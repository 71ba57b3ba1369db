/// The interpreter's one switch between the SIMD kernels and the scalar reference kernels (`reference: true`).
/// Each function has the reference kernel's signature.
enum Kernels {
    @inline(__always)
    static func conv2d(_ p: Conv2DParams, pointwise: Bool, input: UnsafePointer<Int8>, weights: UnsafePointer<Int8>,
                       bias: UnsafePointer<Int32>?, multipliers: UnsafePointer<QuantizedMultiplier>,
                       output: UnsafeMutablePointer<Int8>, reference: Bool) {
        // TODO(kernels): SIMD conv / pointwise when `!reference`.
        if pointwise {
            pointwiseConv2dReference(p, input: input, weights: weights, bias: bias, multipliers: multipliers, output: output)
        } else {
            conv2dReference(p, input: input, weights: weights, bias: bias, multipliers: multipliers, output: output)
        }
    }

    @inline(__always)
    static func depthwiseConv2d(_ p: DepthwiseConv2DParams, input: UnsafePointer<Int8>, weights: UnsafePointer<Int8>,
                                bias: UnsafePointer<Int32>?, multipliers: UnsafePointer<QuantizedMultiplier>,
                                output: UnsafeMutablePointer<Int8>, reference: Bool) {
        // TODO(kernels): SIMD depthwise when `!reference`.
        depthwiseConv2dReference(p, input: input, weights: weights, bias: bias, multipliers: multipliers, output: output)
    }

    @inline(__always)
    static func linear(_ p: LinearParams, input: UnsafePointer<Int8>, weights: UnsafePointer<Int8>,
                       bias: UnsafePointer<Int32>?, multipliers: UnsafePointer<QuantizedMultiplier>,
                       output: UnsafeMutablePointer<Int8>, reference: Bool) {
        // TODO(kernels): SIMD linear when `!reference`.
        linearReference(p, input: input, weights: weights, bias: bias, multipliers: multipliers, output: output)
    }

    @inline(__always)
    static func dynamicFusion(_ p: DynamicFusionParams, kernels: UnsafePointer<Int8>, coefficients: UnsafePointer<Int16>,
                              mixedBias: UnsafePointer<Int32>?, staticBias: UnsafePointer<Int32>?,
                              staticMultipliers: UnsafePointer<QuantizedMultiplier>,
                              fusedKernel: UnsafeMutablePointer<Int8>, biasAccumulator: UnsafeMutablePointer<Int32>,
                              multipliers: UnsafeMutablePointer<QuantizedMultiplier>, reference: Bool) {
        // TODO(kernels): SIMD fusion when `!reference`.
        dynamicFusionReference(p, kernels: kernels, coefficients: coefficients, mixedBias: mixedBias,
                               staticBias: staticBias, staticMultipliers: staticMultipliers, fusedKernel: fusedKernel,
                               biasAccumulator: biasAccumulator, multipliers: multipliers)
    }

    @inline(__always)
    static func add(_ p: AddParams, count: Int, input1: UnsafePointer<Int8>, input2: UnsafePointer<Int8>,
                    output: UnsafeMutablePointer<Int8>, reference: Bool) {
        addReference(p, count: count, input1: input1, input2: input2, output: output)
    }

    @inline(__always)
    static func maxPool(_ p: Pool2DParams, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>, reference: Bool) {
        maxPool2dReference(p, input: input, output: output)
    }

    @inline(__always)
    static func avgPool(_ p: Pool2DParams, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>, reference: Bool) {
        avgPool2dReference(p, input: input, output: output)
    }

    @inline(__always)
    static func globalAvgPool(_ p: GlobalAveragePoolParams, input: UnsafePointer<Int8>,
                              output: UnsafeMutablePointer<Int8>, reference: Bool) {
        globalAveragePoolReference(p, input: input, output: output)
    }

    @inline(__always)
    static func lookupTable(count: Int, input: UnsafePointer<Int8>, table: UnsafePointer<Int8>,
                            output: UnsafeMutablePointer<Int8>, reference: Bool) {
        DynQCore.lookupTable(count: count, input: input, table: table, output: output)
    }
}
