// Data-movement kernels shared by every kernel set (their one implementation is also their law): they keep scale and zero point (concat may requantize). NHWC, batch 1.
// Each reports to its `tally` (KernelTally.swift; default `NoTally()`: nothing) every element as one load, one
// element op (or one requantization) and one store.

/// Copies one concat input into its slice of the output. The tensors are viewed as `[outer][inner]`: concat
/// along channels of `[H][W][C_i]` is `outer = H·W`, `inputInner = C_i`, `outputInner = ΣC`, `offset` = the
/// channels before this input; along height it is `outer = 1`, `inner = H_i·W·C`. Called once per input.
/// With `requantize`, each value becomes `clamp(M.apply(q − z_in) + z_out)`. Scratch: none.
/// Reports its work to `tally` (a requantization instead of an element op with `requantize`).
@inlinable
public func concatInput<T: KernelTally>(
    outerCount: Int, inputInner: Int, outputInner: Int, offset: Int,
    input: UnsafePointer<Int8>, requantize: Requantize?, output: UnsafeMutablePointer<Int8>, tally: T = NoTally()
) {
    precondition(offset >= 0 && offset + inputInner <= outputInner, "concatInput: slice outside the output")
    for i in 0..<outerCount {
        let src = input + i * inputInner
        let dst = output + i * outputInner + offset
        if let r = requantize {
            for j in 0..<inputInner {
                dst[j] = r.output.finish(r.multiplier.apply(Int32(src[j]) &- r.inputZeroPoint))
                tally.read(src + j); tally.count(.requantization, 1); tally.write(dst + j)
            }
        } else {
            dst.update(from: src, count: inputInner)
            tally.copied(from: src, to: dst, bytes: inputInner)
        }
    }
}

/// PyTorch's `channel_shuffle(x, groups)` on `[pixels][C]`: output channel `j·groups + i` is input channel
/// `i·(C/groups) + j`. `input` and `output` must not alias. Scratch: none.
/// Reports its work to `tally`.
@inlinable
public func channelShuffle<T: KernelTally>(
    pixels: Int, channels: Int, groups: Int, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>,
    tally: T = NoTally()
) {
    precondition(groups > 0 && channels % groups == 0, "channelShuffle: groups must divide channels")
    let per = channels / groups
    for px in 0..<pixels {
        let src = input + px * channels, dst = output + px * channels
        for i in 0..<groups {
            for j in 0..<per {
                dst[j * groups + i] = src[i * per + j]
                tally.read(src + i * per + j); tally.count(.elementOp, 1); tally.write(dst + j * groups + i)
            }
        }
    }
}

/// One output of `channel_split`: channels `start ..< start + count` of `[pixels][inputChannels]` into
/// `[pixels][count]`. Scratch: none.
/// Reports its work to `tally`.
@inlinable
public func channelSlice<T: KernelTally>(
    pixels: Int, inputChannels: Int, start: Int, count: Int,
    input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>, tally: T = NoTally()
) {
    precondition(start >= 0 && count >= 0 && start + count <= inputChannels, "channelSlice: out of range")
    for px in 0..<pixels {
        let src = input + px * inputChannels + start, dst = output + px * count
        dst.update(from: src, count: count)
        tally.copied(from: src, to: dst, bytes: count)
    }
}

/// `flatten` in PyTorch's order: HWC `[H][W][C]` → CHW `[C][H][W]` (a copy; identical when `H = W = 1` or
/// `C = 1`). Scratch: none.
/// Reports its work to `tally`. A plain copy when `H·W = 1` or `C = 1`.
@inlinable
public func flattenHWCToCHW<T: KernelTally>(
    height: Int, width: Int, channels: Int, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>,
    tally: T = NoTally()
) {
    let hw = height * width, n = hw * channels
    if hw == 1 || channels == 1 {
        output.update(from: input, count: n)
    } else {
        for i in 0..<hw {
            for c in 0..<channels { output[c * hw + i] = input[i * channels + c] }
        }
    }
    tally.copied(from: input, to: output, bytes: n)
}
