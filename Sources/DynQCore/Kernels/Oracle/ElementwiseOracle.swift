// The oracle's add and pooling laws (see ConvolutionOracle.swift for what the oracle is).

/// Element-wise add, TFLite's scheme: `y_k = M_k.apply((q_k − z_k) · 2^20)`,
/// `out = clamp(M_out.apply(y_1 + y_2) + z_out, act_min, act_max)`. Overflow: `|q − z| · 2^20 < 2^28` and the
/// input multipliers are at most 1 (validated), so `|y_1 + y_2| < 2^29`; outside that domain (kernel tests with
/// extreme multipliers) the int32 sum wraps, as every kernel's does.
@inlinable
public func addReference(
    _ p: AddParams, count: Int, input1: UnsafePointer<Int8>, input2: UnsafePointer<Int8>,
    output: UnsafeMutablePointer<Int8>
) {
    for i in 0..<count {
        let y1 = p.input1Multiplier.apply((Int32(input1[i]) - p.input1ZeroPoint) * (1 << AddParams.leftShift))
        let y2 = p.input2Multiplier.apply((Int32(input2[i]) - p.input2ZeroPoint) * (1 << AddParams.leftShift))
        output[i] = p.output.finish(p.outputMultiplier.apply(y1 &+ y2))
    }
}

/// Max pooling: the largest in-image value of each window (padded positions never win, PyTorch's −∞ padding),
/// clamped to `[act_min, act_max]`.
@inlinable
public func maxPool2dReference(_ p: Pool2DParams, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>) {
    for oy in 0..<p.outputHeight {
        for ox in 0..<p.outputWidth {
            for c in 0..<p.channels {
                var m = Int32.min
                for ky in 0..<p.kernelHeight {
                    for kx in 0..<p.kernelWidth {
                        let iy = oy * p.strideY - p.padding.top + ky, ix = ox * p.strideX - p.padding.left + kx
                        guard iy >= 0, iy < p.inputHeight, ix >= 0, ix < p.inputWidth else { continue }
                        m = max(m, Int32(input[(iy * p.inputWidth + ix) * p.channels + c]))
                    }
                }
                output[(oy * p.outputWidth + ox) * p.channels + c] = clampToInt8(m, p.activationMin, p.activationMax)
            }
        }
    }
}

/// Average pooling: `z + round_half_away(Σ_in-image (q − z) / n)`, `n` the whole window when `countIncludePad`
/// (padded positions are real 0), else the in-image taps; clamped to `[act_min, act_max]`.
@inlinable
public func avgPool2dReference(_ p: Pool2DParams, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>) {
    for oy in 0..<p.outputHeight {
        for ox in 0..<p.outputWidth {
            for c in 0..<p.channels {
                var sum: Int32 = 0, inside: Int32 = 0
                for ky in 0..<p.kernelHeight {
                    for kx in 0..<p.kernelWidth {
                        let iy = oy * p.strideY - p.padding.top + ky, ix = ox * p.strideX - p.padding.left + kx
                        guard iy >= 0, iy < p.inputHeight, ix >= 0, ix < p.inputWidth else { continue }
                        sum += Int32(input[(iy * p.inputWidth + ix) * p.channels + c]) - p.zeroPoint
                        inside += 1
                    }
                }
                let n = p.countIncludePad ? Int32(p.kernelHeight * p.kernelWidth) : inside
                output[(oy * p.outputWidth + ox) * p.channels + c] =
                    clampToInt8(roundingDivide(sum, by: n) + p.zeroPoint, p.activationMin, p.activationMax)
            }
        }
    }
}

/// Global average pooling `[H][W][C] → [C]`: `clamp(M.apply(Σ_hw (q − z_in)) + z_out)`; `H·W·255 < 2^31`.
@inlinable
public func globalAveragePoolReference(
    _ p: GlobalAveragePoolParams, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>
) {
    for c in 0..<p.channels {
        var sum: Int32 = 0
        for i in 0..<(p.height * p.width) { sum += Int32(input[i * p.channels + c]) - p.inputZeroPoint }
        output[c] = p.output.finish(p.multiplier.apply(sum))
    }
}
