// HostWide pooling: max pooling on 64-byte vectors (`vpmaxsb` zmm with AVX-512 BW, two ymm with AVX2). Bit-exact
// twin of `maxPool2dReference`: per output pixel and block of 64 channels, the signed maximum over the window's
// in-image taps (padded positions ignored, as the reference; every window has one), starting from −128, then the
// clamp to `[act_min, act_max]`. A channel count that is not a multiple of 64 ends with a block at `C − 64`
// overlapping the previous one (same outputs rewritten); fewer than 64 channels run the 128-bit kernel
// (`maxPool2d`, SIMD128/MaxPoolSIMD128.swift). Scratch: none.
#if arch(x86_64)
import DynQIntrinsics

/// Max pooling: same contract and results as `maxPool2dReference`. Scratch: none.
internal func hostWideMaxPool2d(_ p: Pool2DParams, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>) {
    let c = p.channels
    if c < 64 { return maxPool2d(p, input: input, output: output) }
    let outH = p.outputHeight, outW = p.outputWidth, w = p.inputWidth
    let low = SIMD64<Int8>(repeating: Int8(truncatingIfNeeded: p.activationMin))
    let high = SIMD64<Int8>(repeating: Int8(truncatingIfNeeded: p.activationMax))
    for oy in 0..<outH {
        let top = oy * p.strideY - p.padding.top
        let y0 = max(0, top), y1 = min(p.inputHeight, top + p.kernelHeight)
        for ox in 0..<outW {
            let left = ox * p.strideX - p.padding.left
            let x0 = max(0, left), x1 = min(w, left + p.kernelWidth)
            let out = output + (oy * outW + ox) * c
            var c0 = 0
            while c0 < c {
                let b = c0 + 64 <= c ? c0 : c - 64
                var m = SIMD64<Int8>(repeating: -128)
                for iy in y0..<y1 {
                    var src = UnsafeRawPointer(input + (iy * w + x0) * c + b)
                    for _ in x0..<x1 {
                        m = dynq_x86_max_i8x64(m, src.loadUnaligned(as: SIMD64<Int8>.self))
                        src += c
                    }
                }
                UnsafeMutableRawPointer(out + b).storeBytes(of: dynq_x86_min_i8x64(dynq_x86_max_i8x64(m, low), high),
                                                            as: SIMD64<Int8>.self)
                c0 += 64
            }
        }
    }
}
#endif
