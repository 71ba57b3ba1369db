// SIMD max pooling on 128-bit vectors: bit-exact twin of `maxPool2dReference` (portable Swift, no intrinsics).
//
// Channels are the vector dimension: for each output pixel and each block of 8 channels, the maximum over the
// window's in-image taps (padded positions are ignored, as the reference does; padding is smaller than the window,
// so every window has at least one in-image tap), starting from −128, then the clamp to `[act_min, act_max]`.
// Values are widened to int16, where the maximum is plain arithmetic: with `d = m − x` (|d| ≤ 255, no overflow),
// `max(m, x) = m − (d AND (d >> 15))` (the arithmetic shift is all ones exactly when d < 0). Swift's SIMD comparisons
// are not compiler builtins (they build their masks lane by lane), so none is used. A channel count that is not a
// multiple of 8 ends with a block at `C − 8` that overlaps the previous one (it recomputes the same outputs); fewer
// than 8 channels take the scalar loop. Scratch: none.

/// `max(a, b)` lane by lane for int16 lanes whose difference fits int16.
@inline(__always)
internal func maxInt16(_ a: SIMD8<Int16>, _ b: SIMD8<Int16>) -> SIMD8<Int16> {
    let d = a &- b
    return a &- (d & (d &>> 15))
}

/// `min(a, b)` lane by lane for int16 lanes whose difference fits int16.
@inline(__always)
internal func minInt16(_ a: SIMD8<Int16>, _ b: SIMD8<Int16>) -> SIMD8<Int16> {
    let d = a &- b
    return b &+ (d & (d &>> 15))
}

/// The low bytes of 8 int16 lanes holding values in [−128, 127] (`pand` + `packuswb` on SSE2).
@inline(__always)
internal func narrowToInt8(_ a: SIMD8<Int16>) -> SIMD8<Int8> {
    SIMD8<Int8>(Int8(truncatingIfNeeded: a[0]), Int8(truncatingIfNeeded: a[1]), Int8(truncatingIfNeeded: a[2]),
                Int8(truncatingIfNeeded: a[3]), Int8(truncatingIfNeeded: a[4]), Int8(truncatingIfNeeded: a[5]),
                Int8(truncatingIfNeeded: a[6]), Int8(truncatingIfNeeded: a[7]))
}

/// SIMD max pooling: same contract and results as `maxPool2dReference`. Scratch: none.
public func maxPool2d(_ p: Pool2DParams, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>) {
    let outH = p.outputHeight, outW = p.outputWidth, c = p.channels, w = p.inputWidth
    let low = SIMD8<Int16>(repeating: Int16(truncatingIfNeeded: p.activationMin))
    let high = SIMD8<Int16>(repeating: Int16(truncatingIfNeeded: p.activationMax))
    for oy in 0..<outH {
        let top = oy * p.strideY - p.padding.top
        let y0 = max(0, top), y1 = min(p.inputHeight, top + p.kernelHeight)
        for ox in 0..<outW {
            let left = ox * p.strideX - p.padding.left
            let x0 = max(0, left), x1 = min(w, left + p.kernelWidth)
            let out = output + (oy * outW + ox) * c
            if c < 8 {
                for ch in 0..<c {
                    var m: Int32 = -128
                    for iy in y0..<y1 {
                        for ix in x0..<x1 {
                            let q = Int32(input[(iy * w + ix) * c + ch])
                            m = q > m ? q : m
                        }
                    }
                    out[ch] = clampToInt8(m, p.activationMin, p.activationMax)
                }
                continue
            }
            var c0 = 0
            while c0 < c {
                let b = c0 + 8 <= c ? c0 : c - 8
                var m = SIMD8<Int16>(repeating: -128)
                for iy in y0..<y1 {
                    var src = UnsafeRawPointer(input + (iy * w + x0) * c + b)
                    for _ in x0..<x1 {
                        m = maxInt16(m, widen(load8(src)))
                        src += c
                    }
                }
                UnsafeMutableRawPointer(out + b).storeBytes(of: narrowToInt8(minInt16(maxInt16(m, low), high)),
                                                            as: SIMD8<Int8>.self)
                c0 += 8
            }
        }
    }
}
