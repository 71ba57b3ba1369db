// Element-wise kernels: the scalar set's add (`addScalar`), and the table, gate and softmax kernels every set
// shares (their one implementation is also their law).
// Each reports its work to its `tally` (KernelTally.swift; default `NoTally()`: nothing).

/// Element-wise add of two int8 tensors of `count` elements (TFLite's scheme, `AddParams`):
/// `y_i = M_i.apply((q_i − z_i) << 20)`, `out = clamp(M_out.apply(y_1 + y_2) + z_out)`. Scratch: none.
/// Reports per element two loads, three requantizations, one add and one store.
@inlinable
public func addScalar<T: KernelTally>(
    _ p: AddParams, count: Int,
    input1: UnsafePointer<Int8>, input2: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>, tally: T = NoTally()
) {
    for i in 0..<count {
        let x1 = (Int32(input1[i]) &- p.input1ZeroPoint) &<< AddParams.leftShift
        let x2 = (Int32(input2[i]) &- p.input2ZeroPoint) &<< AddParams.leftShift
        let s = p.input1Multiplier.apply(x1) &+ p.input2Multiplier.apply(x2)
        output[i] = p.output.finish(p.outputMultiplier.apply(s))
        tally.read(input1 + i); tally.read(input2 + i)
        tally.count(.requantization, 3); tally.count(.add, 1); tally.write(output + i)
    }
}

/// `output[i] = table[input[i] + 128]`: any element-wise int8 → int8 function (hardswish, hardsigmoid,
/// unfused ReLU/ReLU6), the table built by the quantizer. `input` and `output` may alias. Scratch: none.
/// Reports per element the input load, the table lookup (with its load) and the store.
@inlinable
public func lookupTable<T: KernelTally>(
    count: Int, input: UnsafePointer<Int8>, table: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>,
    tally: T = NoTally()
) {
    for i in 0..<count {
        tally.read(input + i)
        let at = Int(input[i]) &+ 128
        output[i] = table[at]
        tally.count(.tableLookup, 1); tally.read(table + at); tally.write(output + i)
    }
}

/// Per-channel input table for the model's uint8 image `[H·W][C]`: `output[i][c] = tables[c][image[i][c]]`
/// (`tables` is `[C][256]`), folding preprocessing and input quantization. Scratch: none.
/// Reports per element the pixel load, the table lookup (with its load) and the store.
@inlinable
public func inputTable<T: KernelTally>(
    pixels: Int, channels: Int, image: UnsafePointer<UInt8>, tables: UnsafePointer<Int8>,
    output: UnsafeMutablePointer<Int8>, tally: T = NoTally()
) {
    for i in 0..<pixels {
        for c in 0..<channels {
            let px = i * channels + c, at = c * 256 + Int(image[px])
            output[px] = tables[at]
            tally.read(image + px); tally.count(.tableLookup, 1); tally.read(tables + at); tally.write(output + px)
        }
    }
}

/// The sigmoid gate: `η_q[i] = table[h[i] + 128]`, the table `round(2^15 · sigmoid(s_h (h − z_h)))` clamped to
/// 32767 (int16 Q15). Scratch: none.
/// Reports per coefficient the logit load, the table lookup (2-byte load) and the 2-byte store.
@inlinable
public func sigmoidGate<T: KernelTally>(
    count: Int, logits: UnsafePointer<Int8>, table: UnsafePointer<Int16>, coefficients: UnsafeMutablePointer<Int16>,
    tally: T = NoTally()
) {
    for i in 0..<count {
        let at = Int(logits[i]) &+ 128
        coefficients[i] = table[at]
        tally.read(logits + i); tally.count(.tableLookup, 1); tally.read(table + at); tally.write(coefficients + i)
    }
}

/// One softmax chunk's maximum logit and `ΣE`, `E[j] = table[max(h) − h[j]]` (each ≤ 2^16 by construction of the
/// table; the sum is UInt64: no bound on the chunk size). Reports `n` comparisons, `n` lookups, `2n` logit loads.
@inlinable
internal func softmaxChunkExp<T: KernelTally>(
    _ logits: UnsafePointer<Int8>, _ n: Int, _ table: UnsafePointer<UInt32>, _ tally: T
) -> (max: Int32, sum: UInt64) {
    var mx: Int32 = -128
    for j in 0..<n {
        if Int32(logits[j]) > mx { mx = Int32(logits[j]) }
        tally.read(logits + j); tally.count(.elementOp, 1)
    }
    var sum: UInt64 = 0
    for j in 0..<n {
        let at = Int(mx &- Int32(logits[j]))
        sum &+= UInt64(table[at])
        tally.read(logits + j); tally.count(.tableLookup, 1); tally.read(table + at)
    }
    return (mx, sum)
}

/// The softmax gate over `chunkCount` chunks of `chunkSize` logits each (`d = max(h) − h ∈ [0, 255]`,
/// `E[d] = table[d] = round(2^16 · exp(−s_h · d / T))`, uint32, `E[0] > 0`):
/// `η_q = round_half_away(2^15 · E / ΣE)` clamped to 32767 (Q15). Scratch: none.
/// Reports per logit (beyond `softmaxChunkExp`) one more load and lookup, one division
/// (an element op) and the 2-byte store.
@inlinable
public func softmaxGate<T: KernelTally>(
    chunkCount: Int, chunkSize: Int, logits: UnsafePointer<Int8>, expTable: UnsafePointer<UInt32>,
    coefficients: UnsafeMutablePointer<Int16>, tally: T = NoTally()
) {
    for c in 0..<chunkCount {
        let h = logits + c * chunkSize
        let (mx, sum) = softmaxChunkExp(h, chunkSize, expTable, tally)
        for j in 0..<chunkSize {
            let at = Int(mx &- Int32(h[j]))
            let e = UInt64(expTable[at])
            let out = coefficients + c * chunkSize + j
            out.pointee = Q15.ratio(e, over: sum)
            tally.read(h + j); tally.count(.tableLookup, 1); tally.read(expTable + at)
            tally.count(.elementOp, 1); tally.write(out)
        }
    }
}

/// Final softmax with int8 output at scale 1/256, zero point −128 (TFLite): per chunk,
/// `out = clamp(round_half_away(256 · E / ΣE) − 128, −128, 127)`; same exp table as `softmaxGate`.
/// Scratch: none.
/// Reports as `softmaxGate` does (1-byte stores).
@inlinable
public func softmaxInt8<T: KernelTally>(
    chunkCount: Int, chunkSize: Int, logits: UnsafePointer<Int8>, expTable: UnsafePointer<UInt32>,
    output: UnsafeMutablePointer<Int8>, tally: T = NoTally()
) {
    for c in 0..<chunkCount {
        let h = logits + c * chunkSize
        let (mx, sum) = softmaxChunkExp(h, chunkSize, expTable, tally)
        for j in 0..<chunkSize {
            let at = Int(mx &- Int32(h[j]))
            let n = UInt64(expTable[at]) << 8
            var q = n / sum
            let r = n % sum
            if r >= sum &- r { q &+= 1 }
            let v = Int32(truncatingIfNeeded: q > 255 ? 255 : q) &- 128
            output[c * chunkSize + j] = Int8(truncatingIfNeeded: v)
            tally.read(h + j); tally.count(.tableLookup, 1); tally.read(expTable + at)
            tally.count(.elementOp, 1); tally.write(output + c * chunkSize + j)
        }
    }
}
