// Defaults of `KernelSet`: the element-wise and pooling ops run the scalar kernels unless a set has faster ones,
// and a set without a tally reports to `NoTally`.

extension KernelSet {
    @inlinable
    public func add(_ p: AddParams, count: Int, _ a: UnsafePointer<Int8>, _ b: UnsafePointer<Int8>,
                    output: UnsafeMutablePointer<Int8>) {
        addScalar(p, count: count, input1: a, input2: b, output: output, tally: tally)
    }
    @inlinable
    public func maxPool2d(_ p: Pool2DParams, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>) {
        maxPool2dScalar(p, input: input, output: output, tally: tally)
    }
    @inlinable
    public func avgPool2d(_ p: Pool2DParams, input: UnsafePointer<Int8>, output: UnsafeMutablePointer<Int8>) {
        avgPool2dScalar(p, input: input, output: output, tally: tally)
    }
    @inlinable
    public func globalAveragePool(_ p: GlobalAveragePoolParams, input: UnsafePointer<Int8>,
                                  output: UnsafeMutablePointer<Int8>) {
        globalAveragePoolScalar(p, input: input, output: output, tally: tally)
    }
    @inlinable
    public func fusedDCInputMeans(input: UnsafePointer<Int8>, positions: Int, channels: Int, zeroPoint: Int32,
                                  means: UnsafeMutablePointer<Int16>) {
        DynQCore.fusedDCInputMeans(input: input, positions: positions, channels: channels, zeroPoint: zeroPoint,
                                   means: means, tally: tally)
    }
}

extension KernelSet where Tally == NoTally {
    @inlinable public var tally: NoTally { NoTally() }
}
