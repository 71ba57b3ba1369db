// Reference element-wise kernels: add, 256-entry tables, the sigmoid and softmax gates, int8 softmax.

/// Element-wise add of two int8 tensors of `count` elements (TFLite's scheme, `AddParams`):
/// `y_i = M_i.apply((q_i − z_i) << 20)`, `out = clamp(M_out.apply(y_1 + y_2) + z_out)`. Scratch: none.
public func addReference(
    _ p: AddParams, count: Int,
    input1: UnsafePointer<Int8>, input2: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>
) {
    for i in 0..<count {
        let x1 = (Int32(input1[i]) &- p.input1ZeroPoint) &<< AddParams.leftShift
        let x2 = (Int32(input2[i]) &- p.input2ZeroPoint) &<< AddParams.leftShift
        let s = p.input1Multiplier.apply(x1) &+ p.input2Multiplier.apply(x2)
        output[i] = p.output.finish(p.outputMultiplier.apply(s))
    }
}

/// `output[i] = table[input[i] + 128]`: any element-wise int8 → int8 function (hardswish, hardsigmoid,
/// unfused ReLU/ReLU6), the table built by the quantizer. `input` and `output` may alias. Scratch: none.
public func lookupTable(
    count: Int, input: UnsafePointer<Int8>, table: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>
) {
    for i in 0..<count { output[i] = table[Int(input[i]) &+ 128] }
}

/// Per-channel input table for the model's uint8 image `[H·W][C]`: `output[i][c] = tables[c][image[i][c]]`
/// (`tables` is `[C][256]`), folding preprocessing and input quantization. Scratch: none.
public func inputTable(
    pixels: Int, channels: Int, image: UnsafePointer<UInt8>, tables: UnsafePointer<Int8>,
    output: UnsafeMutablePointer<Int8>
) {
    for i in 0..<pixels {
        for c in 0..<channels {
            output[i * channels + c] = tables[c * 256 + Int(image[i * channels + c])]
        }
    }
}

/// The sigmoid gate: `η_q[i] = table[h[i] + 128]`, the table `round(2^15 · sigmoid(s_h (h − z_h)))` clamped to
/// 32767 (int16 Q15). Scratch: none.
public func sigmoidGate(
    count: Int, logits: UnsafePointer<Int8>, table: UnsafePointer<Int16>, coefficients: UnsafeMutablePointer<Int16>
) {
    for i in 0..<count { coefficients[i] = table[Int(logits[i]) &+ 128] }
}

/// Exponentials of one softmax chunk: `E[j] = table[max(h) − h[j]]` (each ≤ 2^16 by construction of the table)
/// and returns `ΣE` (UInt64: no bound on the chunk size).
@inlinable
internal func softmaxChunkExp(
    _ logits: UnsafePointer<Int8>, _ n: Int, _ table: UnsafePointer<UInt32>
) -> UInt64 {
    var mx: Int32 = -128
    for j in 0..<n where Int32(logits[j]) > mx { mx = Int32(logits[j]) }
    var sum: UInt64 = 0
    for j in 0..<n { sum &+= UInt64(table[Int(mx &- Int32(logits[j]))]) }
    return sum
}

/// The softmax gate over `chunkCount` chunks of `chunkSize` logits each (`d = max(h) − h ∈ [0, 255]`,
/// `E[d] = table[d] = round(2^16 · exp(−s_h · d / T))`, uint32, `E[0] > 0`):
/// `η_q = round_half_away(2^15 · E / ΣE)` clamped to 32767 (Q15). Scratch: none.
public func softmaxGate(
    chunkCount: Int, chunkSize: Int, logits: UnsafePointer<Int8>, expTable: UnsafePointer<UInt32>,
    coefficients: UnsafeMutablePointer<Int16>
) {
    for c in 0..<chunkCount {
        let h = logits + c * chunkSize
        let sum = softmaxChunkExp(h, chunkSize, expTable)
        var mx: Int32 = -128
        for j in 0..<chunkSize where Int32(h[j]) > mx { mx = Int32(h[j]) }
        for j in 0..<chunkSize {
            let e = UInt64(expTable[Int(mx &- Int32(h[j]))])
            coefficients[c * chunkSize + j] = Q15.ratio(e, over: sum)
        }
    }
}

/// Final softmax with int8 output at scale 1/256, zero point −128 (TFLite): per chunk,
/// `out = clamp(round_half_away(256 · E / ΣE) − 128, −128, 127)`; same exp table as `softmaxGate`.
/// Scratch: none.
public func softmaxInt8(
    chunkCount: Int, chunkSize: Int, logits: UnsafePointer<Int8>, expTable: UnsafePointer<UInt32>,
    output: UnsafeMutablePointer<Int8>
) {
    for c in 0..<chunkCount {
        let h = logits + c * chunkSize
        let sum = softmaxChunkExp(h, chunkSize, expTable)
        var mx: Int32 = -128
        for j in 0..<chunkSize where Int32(h[j]) > mx { mx = Int32(h[j]) }
        for j in 0..<chunkSize {
            let n = UInt64(expTable[Int(mx &- Int32(h[j]))]) << 8
            var q = n / sum
            let r = n % sum
            if r >= sum &- r { q &+= 1 }
            let v = Int32(truncatingIfNeeded: q > 255 ? 255 : q) &- 128
            output[c * chunkSize + j] = Int8(truncatingIfNeeded: v)
        }
    }
}
