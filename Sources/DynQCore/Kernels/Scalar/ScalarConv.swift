// The scalar kernel set's convolution and linear kernels (`ScalarKernels`): what a core without a vector or DSP
// unit runs (Cortex-M0+), and, instrumented, what the firmware simulator measures. Plain loops that skip the
// taps in the zero padding; tested bit-exact against the oracle (Kernels/Oracle/), which is the law.
//
// Overflow argument (all four kernels): every product is (q_in − z_in) · q_w with |q_in − z_in| ≤ 255 and
// |q_w| ≤ 127, so |acc| ≤ K · 32 385 + |bias|; the quantizer guarantees this is < 2^31 for every layer
// (K ≤ 66 311 without bias), so the int32 accumulator is exact. The wrapping operators `&+`, `&*` are used only
// because the checked ones would stop the auto-vectoriser; under the bound they never wrap.
// Requantization: `y = M[o].apply(acc)` (single rounding, ties toward +∞, saturated), then
// `clamp(y + z_out, act_min, act_max)`.
//
// Instrumentation: each kernel reports to its `tally` (default `NoTally()`: nothing) every MAC with its two loads
// (input byte, weight byte), per output the bias (4 bytes) and multiplier (8 bytes) loads, the requantization and
// the output store.

/// Scalar 2-D convolution (any kernel size, stride, per-side padding, dilation, groups). See `Conv2DParams`
/// for layouts. `bias` may be nil (zero bias). Scratch: none.
/// Reports its work to `tally`.
@inlinable
public func conv2dScalar<T: KernelTally>(
    _ p: Conv2DParams,
    input: UnsafePointer<Int8>,
    weights: UnsafePointer<Int8>,
    bias: UnsafePointer<Int32>?,
    multipliers: UnsafePointer<QuantizedMultiplier>,
    output: UnsafeMutablePointer<Int8>,
    tally: T = NoTally()
) {
    let outH = p.outputHeight, outW = p.outputWidth
    let inC = p.inputChannels, outC = p.outputChannels
    let gIn = p.groupInputChannels, gOut = p.groupOutputChannels
    let kh = p.kernelHeight, kw = p.kernelWidth
    let zIn = p.inputZeroPoint
    for oy in 0..<outH {
        for ox in 0..<outW {
            for o in 0..<outC {
                let group = o / gOut
                var acc: Int32 = 0
                if let b = bias { acc = b[o]; tally.read(b + o) }
                for ky in 0..<kh {
                    let iy = oy * p.strideY - p.padding.top + ky * p.dilationY
                    if iy < 0 || iy >= p.inputHeight { continue }          // padding: (z_in − z_in) = 0
                    for kx in 0..<kw {
                        let ix = ox * p.strideX - p.padding.left + kx * p.dilationX
                        if ix < 0 || ix >= p.inputWidth { continue }
                        let inBase = (iy * p.inputWidth + ix) * inC + group * gIn
                        let wBase = ((o * kh + ky) * kw + kx) * gIn
                        for i in 0..<gIn {
                            acc &+= (Int32(input[inBase + i]) &- zIn) &* Int32(weights[wBase + i])
                            tally.count(.mac, 1); tally.read(input + inBase + i); tally.read(weights + wBase + i)
                        }
                    }
                }
                let at = (oy * outW + ox) * outC + o
                output[at] = p.output.finish(multipliers[o].apply(acc))
                tally.read(multipliers + o); tally.count(.requantization, 1); tally.write(output + at)
            }
        }
    }
}

/// Scalar depthwise convolution, channel multiplier 1, weights `[kh][kw][C]`. Scratch: none.
/// Reports its work to `tally`.
@inlinable
public func depthwiseConv2dScalar<T: KernelTally>(
    _ p: DepthwiseConv2DParams,
    input: UnsafePointer<Int8>,
    weights: UnsafePointer<Int8>,
    bias: UnsafePointer<Int32>?,
    multipliers: UnsafePointer<QuantizedMultiplier>,
    output: UnsafeMutablePointer<Int8>,
    tally: T = NoTally()
) {
    let outH = p.outputHeight, outW = p.outputWidth, c = p.channels
    let zIn = p.inputZeroPoint
    for oy in 0..<outH {
        for ox in 0..<outW {
            for ch in 0..<c {
                var acc: Int32 = 0
                if let b = bias { acc = b[ch]; tally.read(b + ch) }
                for ky in 0..<p.kernelHeight {
                    let iy = oy * p.strideY - p.padding.top + ky * p.dilationY
                    if iy < 0 || iy >= p.inputHeight { continue }
                    for kx in 0..<p.kernelWidth {
                        let ix = ox * p.strideX - p.padding.left + kx * p.dilationX
                        if ix < 0 || ix >= p.inputWidth { continue }
                        let inAt = (iy * p.inputWidth + ix) * c + ch, wAt = (ky * p.kernelWidth + kx) * c + ch
                        acc &+= (Int32(input[inAt]) &- zIn) &* Int32(weights[wAt])
                        tally.count(.mac, 1); tally.read(input + inAt); tally.read(weights + wAt)
                    }
                }
                let at = (oy * outW + ox) * c + ch
                output[at] = p.output.finish(multipliers[ch].apply(acc))
                tally.read(multipliers + ch); tally.count(.requantization, 1); tally.write(output + at)
            }
        }
    }
}

/// Scalar pointwise (1×1) convolution, weights `[O][I]`: `p` must have a 1×1 kernel and `groups == 1`
/// (stride and padding are honoured). Scratch: none.
/// Reports its work to `tally`.
@inlinable
public func pointwiseConv2dScalar<T: KernelTally>(
    _ p: Conv2DParams,
    input: UnsafePointer<Int8>,
    weights: UnsafePointer<Int8>,
    bias: UnsafePointer<Int32>?,
    multipliers: UnsafePointer<QuantizedMultiplier>,
    output: UnsafeMutablePointer<Int8>,
    tally: T = NoTally()
) {
    precondition(p.kernelHeight == 1 && p.kernelWidth == 1 && p.groups == 1,
                 "pointwiseConv2dScalar: needs a 1x1 kernel and groups == 1")
    let outH = p.outputHeight, outW = p.outputWidth
    let inC = p.inputChannels, outC = p.outputChannels
    let zIn = p.inputZeroPoint
    for oy in 0..<outH {
        let iy = oy * p.strideY - p.padding.top
        for ox in 0..<outW {
            let ix = ox * p.strideX - p.padding.left
            let inside = iy >= 0 && iy < p.inputHeight && ix >= 0 && ix < p.inputWidth
            for o in 0..<outC {
                var acc: Int32 = 0
                if let b = bias { acc = b[o]; tally.read(b + o) }
                if inside {
                    let inBase = (iy * p.inputWidth + ix) * inC
                    for i in 0..<inC {
                        acc &+= (Int32(input[inBase + i]) &- zIn) &* Int32(weights[o * inC + i])
                        tally.count(.mac, 1); tally.read(input + inBase + i); tally.read(weights + o * inC + i)
                    }
                }
                let at = (oy * outW + ox) * outC + o
                output[at] = p.output.finish(multipliers[o].apply(acc))
                tally.read(multipliers + o); tally.count(.requantization, 1); tally.write(output + at)
            }
        }
    }
}

/// Scalar fully connected layer, weights `[O][F]`. Scratch: none.
/// Reports its work to `tally`.
@inlinable
public func linearScalar<T: KernelTally>(
    _ p: LinearParams,
    input: UnsafePointer<Int8>,
    weights: UnsafePointer<Int8>,
    bias: UnsafePointer<Int32>?,
    multipliers: UnsafePointer<QuantizedMultiplier>,
    output: UnsafeMutablePointer<Int8>,
    tally: T = NoTally()
) {
    let f = p.inputFeatures
    let zIn = p.inputZeroPoint
    for o in 0..<p.outputFeatures {
        var acc: Int32 = 0
        if let b = bias { acc = b[o]; tally.read(b + o) }
        for i in 0..<f {
            acc &+= (Int32(input[i]) &- zIn) &* Int32(weights[o * f + i])
            tally.count(.mac, 1); tally.read(input + i); tally.read(weights + o * f + i)
        }
        output[o] = p.output.finish(multipliers[o].apply(acc))
        tally.read(multipliers + o); tally.count(.requantization, 1); tally.write(output + o)
    }
}
