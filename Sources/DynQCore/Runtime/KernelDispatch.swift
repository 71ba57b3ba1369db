/// Kernel selection helpers of the interpreter. The SIMD/reference switch itself is in `Step.run`: SIMD kernels
/// whenever the plan holds their packed weights and scratch and `reference` is off; the scalar reference kernels
/// otherwise. The add and the global average pool (SIMD twins without scratch or packing) run SIMD whenever
/// `reference` is off. Ops without a SIMD twin (max/avg pools, tables, gates, softmax, data movement) always run
/// the reference kernel.
enum Kernels {
    /// The reference conv, taking the pointwise variant for 1×1 kernels with one group.
    @inline(__always)
    static func conv2dReference<T: KernelTally>(
        _ p: Conv2DParams, pointwise: Bool, input: UnsafePointer<Int8>, weights: UnsafePointer<Int8>,
        bias: UnsafePointer<Int32>?, multipliers: UnsafePointer<QuantizedMultiplier>,
        output: UnsafeMutablePointer<Int8>, tally: T
    ) {
        if pointwise {
            pointwiseConv2dReference(p, input: input, weights: weights, bias: bias, multipliers: multipliers,
                                     output: output, tally: tally)
        } else {
            DynQCore.conv2dReference(p, input: input, weights: weights, bias: bias, multipliers: multipliers,
                                     output: output, tally: tally)
        }
    }
}
