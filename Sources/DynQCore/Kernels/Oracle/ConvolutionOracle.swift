// The oracle: the law every kernel set is tested against. One definition per operation, naive loops in the order
// of the mathematical definition, no instrumentation, no speed tricks, no shortcuts for special shapes. It is
// never run in production; `OracleKernels` lets the interpreter run it for tests.
//
// One convolution law covers conv2d (dense, grouped, 1×1), depthwise conv2d and linear: they differ only in the
// weight layout, which the wrappers below translate. For every output element `(oy, ox, o)` of group
// `γ = o / (O/groups)`:
//
//     acc = bias[o] + Σ_{ky, kx, i} (x(iy, ix, γ·I_g + i) − z_in) · w(o, ky, kx, i)
//     iy  = oy·stride_h − pad_top + ky·dilation_h,   ix = ox·stride_w − pad_left + kx·dilation_w
//     x(iy, ix, c) = z_in outside the image (zero padding is the real value 0)
//     out = clamp(M[o].apply(acc) + z_out, act_min, act_max)      (QuantizedMultiplier.apply: single rounding)
//
// Overflow: |x − z_in| ≤ 255 and |w| ≤ 127, so |acc| ≤ K·32 385 + |bias| < 2^31, which the model validator
// checks per layer (`K·255·127 + max|bias| < 2^31`); the int32 sum is exact.

/// The convolution law. `weight(o, ky, kx, i)` is the weight of output channel `o`, tap `(ky, kx)` and input
/// channel `i` of its group (`0 ..< I/groups`). Layouts: NHWC input and output, batch 1.
@inlinable
public func convolutionOracle(
    _ p: Conv2DParams,
    input: UnsafePointer<Int8>,
    weight: (_ o: Int, _ ky: Int, _ kx: Int, _ i: Int) -> Int8,
    bias: UnsafePointer<Int32>?,
    multipliers: UnsafePointer<QuantizedMultiplier>,
    output: UnsafeMutablePointer<Int8>
) {
    let gIn = p.groupInputChannels, gOut = p.groupOutputChannels
    let z = p.inputZeroPoint
    func x(_ iy: Int, _ ix: Int, _ c: Int) -> Int32 {
        if iy < 0 || iy >= p.inputHeight || ix < 0 || ix >= p.inputWidth { return z }
        return Int32(input[(iy * p.inputWidth + ix) * p.inputChannels + c])
    }
    for oy in 0..<p.outputHeight {
        for ox in 0..<p.outputWidth {
            for o in 0..<p.outputChannels {
                let group = o / gOut
                var acc: Int32 = bias?[o] ?? 0
                for ky in 0..<p.kernelHeight {
                    for kx in 0..<p.kernelWidth {
                        let iy = oy * p.strideY - p.padding.top + ky * p.dilationY
                        let ix = ox * p.strideX - p.padding.left + kx * p.dilationX
                        for i in 0..<gIn {
                            acc &+= (x(iy, ix, group * gIn + i) &- z) &* Int32(weight(o, ky, kx, i))
                        }
                    }
                }
                output[(oy * p.outputWidth + ox) * p.outputChannels + o] = p.output.finish(multipliers[o].apply(acc))
            }
        }
    }
}

/// conv2d, OHWI weights `[O][kh][kw][I/groups]` (any window, groups, 1×1 included): the convolution law.
@inlinable
public func conv2dReference(
    _ p: Conv2DParams, input: UnsafePointer<Int8>, weights: UnsafePointer<Int8>, bias: UnsafePointer<Int32>?,
    multipliers: UnsafePointer<QuantizedMultiplier>, output: UnsafeMutablePointer<Int8>
) {
    let kh = p.kernelHeight, kw = p.kernelWidth, gIn = p.groupInputChannels
    convolutionOracle(p, input: input, weight: { o, ky, kx, i in weights[((o * kh + ky) * kw + kx) * gIn + i] },
                      bias: bias, multipliers: multipliers, output: output)
}

/// Depthwise conv2d, channel multiplier 1, weights `[kh][kw][C]`: the convolution law with `groups == C`.
@inlinable
public func depthwiseConv2dReference(
    _ p: DepthwiseConv2DParams, input: UnsafePointer<Int8>, weights: UnsafePointer<Int8>,
    bias: UnsafePointer<Int32>?, multipliers: UnsafePointer<QuantizedMultiplier>,
    output: UnsafeMutablePointer<Int8>
) {
    let kw = p.kernelWidth, c = p.channels
    convolutionOracle(p.asGroupedConv, input: input, weight: { o, ky, kx, _ in weights[(ky * kw + kx) * c + o] },
                      bias: bias, multipliers: multipliers, output: output)
}

/// Fully connected, weights `[O][F]`: the convolution law over a 1×1 image with a 1×1 kernel.
@inlinable
public func linearReference(
    _ p: LinearParams, input: UnsafePointer<Int8>, weights: UnsafePointer<Int8>, bias: UnsafePointer<Int32>?,
    multipliers: UnsafePointer<QuantizedMultiplier>, output: UnsafeMutablePointer<Int8>
) {
    let f = p.inputFeatures
    convolutionOracle(p.asConv, input: input, weight: { o, _, _, i in weights[o * f + i] }, bias: bias,
                      multipliers: multipliers, output: output)
}
