// SIMD global average pooling: bit-exact twin of `globalAveragePoolReference`.
//
// Channels are the vector dimension: for a block of 8 channels the kernel walks all H·W pixels (stride C) and adds
// the int8 values, widened to int16, into int16 lanes, flushed into int32 every 256 pixels
// (256 · [−128, 127] ⊂ [−32768, 32512] fits int16). The reference's `Σ (q − z_in)` is then `Σ q − H·W·z_in`: the
// same integer (both sums are below 2^31 in magnitude: H·W ≤ 2^23), requantized by the same scalar
// `finish(apply(·))` per channel. The last block of a channel count that is not a multiple of 8 starts at C − 8,
// overlapping the previous one (it recomputes and rewrites the same outputs), so no load leaves the tensor; fewer
// than 8 channels run the scalar loop.

/// Pixels summed in int16 lanes before the int32 flush.
public let globalAveragePoolFlushPixels = 256

/// SIMD global average pooling `[H][W][C] → [C]`: same contract and results as `globalAveragePoolReference`.
/// Scratch: none.
public func globalAveragePool(
    _ p: GlobalAveragePoolParams, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>
) {
    let c = p.channels, n = p.height * p.width
    let zn = Int32(truncatingIfNeeded: n) &* p.inputZeroPoint          // |n · z| ≤ 2^23 · 128
    @inline(__always) func finish(_ ch: Int, _ sum: Int32) {
        output[ch] = p.output.finish(p.multiplier.apply(sum &- zn))
    }
    if c < 8 {
        for ch in 0..<c {
            var sum: Int32 = 0
            for i in 0..<n { sum &+= Int32(input[i * c + ch]) }
            finish(ch, sum)
        }
        return
    }
    var c0 = 0
    while c0 < c {
        let b = c0 + 8 <= c ? c0 : c - 8
        var lo = SIMD4<Int32>(), hi = SIMD4<Int32>()
        var i = 0
        while i < n {
            let end = n - i < globalAveragePoolFlushPixels ? n : i + globalAveragePoolFlushPixels
            var acc = SIMD8<Int16>()
            var src = input + i * c + b
            for _ in i..<end {
                acc &+= widen(load8(src))
                src += c
            }
            let w = widen(acc)
            lo &+= SIMD4<Int32>(w[0], w[1], w[2], w[3])
            hi &+= SIMD4<Int32>(w[4], w[5], w[6], w[7])
            i = end
        }
        for l in 0..<4 {
            finish(b + l, lo[l])
            finish(b + 4 + l, hi[l])
        }
        c0 += 8
    }
}
