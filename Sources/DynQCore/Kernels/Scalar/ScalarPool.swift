// The scalar set's pooling kernels (tested against the oracle). Pooling keeps the input's scale and zero point. Each reports its work to its `tally`
// (KernelTally.swift; default `NoTally()`: nothing).

/// Max pooling over the in-image part of each window (padded positions are ignored, as PyTorch's −∞ padding).
/// Scratch: none.
/// Reports per in-image tap one load and one comparison (an element op), per output
/// one store.
@inlinable
public func maxPool2dScalar<T: KernelTally>(
    _ p: Pool2DParams, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>, tally: T = NoTally()
) {
    let outH = p.outputHeight, outW = p.outputWidth, c = p.channels
    for oy in 0..<outH {
        for ox in 0..<outW {
            for ch in 0..<c {
                var m: Int32 = -128
                for ky in 0..<p.kernelHeight {
                    let iy = oy * p.strideY - p.padding.top + ky
                    if iy < 0 || iy >= p.inputHeight { continue }
                    for kx in 0..<p.kernelWidth {
                        let ix = ox * p.strideX - p.padding.left + kx
                        if ix < 0 || ix >= p.inputWidth { continue }
                        let at = (iy * p.inputWidth + ix) * c + ch
                        let q = Int32(input[at])
                        if q > m { m = q }
                        tally.read(input + at); tally.count(.elementOp, 1)
                    }
                }
                let at = (oy * outW + ox) * c + ch
                output[at] = clampToInt8(m, p.activationMin, p.activationMax)
                tally.write(output + at)
            }
        }
    }
}

/// Average pooling: `z + round_half_away(Σ (q − z) / n)` with `n` the full window (`countIncludePad`, padded
/// positions count as real 0) or the in-image taps. `|Σ| ≤ kh·kw·255`. Scratch: none.
/// Reports per in-image tap one load and one add, per output one division (an element
/// op) and one store.
@inlinable
public func avgPool2dScalar<T: KernelTally>(
    _ p: Pool2DParams, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>, tally: T = NoTally()
) {
    let outH = p.outputHeight, outW = p.outputWidth, c = p.channels
    let z = p.zeroPoint
    for oy in 0..<outH {
        for ox in 0..<outW {
            for ch in 0..<c {
                var sum: Int32 = 0
                var n: Int32 = 0
                for ky in 0..<p.kernelHeight {
                    let iy = oy * p.strideY - p.padding.top + ky
                    if iy < 0 || iy >= p.inputHeight { continue }
                    for kx in 0..<p.kernelWidth {
                        let ix = ox * p.strideX - p.padding.left + kx
                        if ix < 0 || ix >= p.inputWidth { continue }
                        let at = (iy * p.inputWidth + ix) * c + ch
                        sum &+= Int32(input[at]) &- z
                        n &+= 1
                        tally.read(input + at); tally.count(.add, 1)
                    }
                }
                if p.countIncludePad { n = Int32(p.kernelHeight * p.kernelWidth) }
                let avg = roundingDivide(sum, by: n) &+ z
                let at = (oy * outW + ox) * c + ch
                output[at] = clampToInt8(avg, p.activationMin, p.activationMax)
                tally.count(.elementOp, 1); tally.write(output + at)
            }
        }
    }
}

/// Global average pooling `[H][W][C] → [C]`: int32 `Σ_hw (q − z_in)` per channel, then
/// `clamp(multiplier.apply(Σ) + z_out)`. Scratch: none.
/// Reports per input element one load and one add, per channel one
/// requantization and one store.
@inlinable
public func globalAveragePoolScalar<T: KernelTally>(
    _ p: GlobalAveragePoolParams, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>, tally: T = NoTally()
) {
    let c = p.channels, n = p.height * p.width
    for ch in 0..<c {
        var sum: Int32 = 0
        for i in 0..<n {
            sum &+= Int32(input[i * c + ch]) &- p.inputZeroPoint
            tally.read(input + i * c + ch); tally.count(.add, 1)
        }
        output[ch] = p.output.finish(p.multiplier.apply(sum))
        tally.count(.requantization, 1); tally.write(output + ch)
    }
}
