// Kernel parameter structs built from a validated model's records (used by the op files).

extension ModelFile {
    /// `clamp(y + z_out)` of an op writing tensor `t` with clamp `c`.
    @inline(__always)
    func outputQuantization(_ t: TensorID, _ c: ModelDescription.Clamp) -> OutputQuantization {
        OutputQuantization(zeroPoint: Int32(tensor(t.index).zeroPoint), activationMin: Int32(c.min),
                           activationMax: Int32(c.max))
    }

    /// A conv's kernel parameters (input and output NHWC int8).
    @inline(__always)
    func convParams(_ w: Window, groups: Int, input: TensorID, output: TensorID, clamp: ModelDescription.Clamp)
        -> Conv2DParams
    {
        let i = tensor(input.index).shape, o = tensor(output.index).shape
        var p = Conv2DParams(inputHeight: i[1], inputWidth: i[2], inputChannels: i[3], outputChannels: o[3],
                             kernelHeight: w.kernelH, kernelWidth: w.kernelW, groups: groups,
                             inputZeroPoint: Int32(tensor(input.index).zeroPoint),
                             output: outputQuantization(output, clamp))
        p.window = w
        return p
    }

    /// A depthwise conv's kernel parameters.
    @inline(__always)
    func depthwiseParams(_ w: Window, input: TensorID, output: TensorID, clamp: ModelDescription.Clamp)
        -> DepthwiseConv2DParams
    {
        let i = tensor(input.index).shape
        var p = DepthwiseConv2DParams(inputHeight: i[1], inputWidth: i[2], channels: i[3], kernelHeight: w.kernelH,
                                      kernelWidth: w.kernelW, inputZeroPoint: Int32(tensor(input.index).zeroPoint),
                                      output: outputQuantization(output, clamp))
        p.window = w
        return p
    }
}

extension ModelDescription.Requant {
    /// As the kernels' `QuantizedMultiplier` (validated range).
    @inline(__always) var quantizedMultiplier: QuantizedMultiplier {
        QuantizedMultiplier(multiplier: multiplier, shift: shift)
    }
}
