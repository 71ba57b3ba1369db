import DynQCore

/// The work of one op in the units a calibrated instruction model prices (`InstructionModel`): the units the
/// per-layer QEMU benchmarks (scripts/qemu-layers.sh) report, computed from shapes alone. Unlike `OpCounts`
/// (the scalar kernels' executed work, padding taps skipped, each fused weight computed twice), these are the
/// shapes' nominal figures, which every fast kernel set does: padded taps included, the fusion once.
///
/// - `mac`: conv / depthwise / linear multiply-accumulates, `outputs · K` (`K = kh·kw·C_in/groups`, `kh·kw` for
///   depthwise, the input features for linear); for an add, its elements; for a global average pool, its input
///   elements; for other element-wise ops, the scalar kernels' element work (table lookups + element ops + adds).
/// - `output`: output elements (conv, depthwise, linear: one requantization each; pool: one per channel).
/// - `edge`: output elements whose window reaches into the zero padding (a depthwise kernel runs its interior
///   pixels unrolled and its border pixels tap by tap).
/// - `channel`: the output channels of a conv / depthwise layer (per-channel set-up, e.g. widening a channel
///   quad's weights).
/// - `input`: the conv / depthwise input elements with the padding added (`(H+pads)·(W+pads)·C`: a kernel that
///   copies its input into a padded row cache, as Helium's depthwise does).
/// - `weight`: the weights of a conv / depthwise / linear layer, `O·K` (a kernel that sums each channel's
///   weights per call to fold in the input zero point, as Helium's convs do).
/// - `call`: 1 per op (the kernel's own per-call work).
/// - a dynamic conv's per-sample fusion is a second term: `fusionMACs = g·O·K` products, `fusionChannels = O`
///   (each channel's `A[o]`, Q32 reciprocal and multiplier).
public struct KernelWork: Equatable, Sendable {
    /// The instruction-model class: `conv3x3`, `depthwise`, `conv1x1`, `linear`, `add`, `global_avgpool` or
    /// `elementwise`.
    public var kernelClass: String
    /// The kernel set's chooser answer for the op (`im2colElements`, `stem`, …), when the op has variants.
    public var variant: String?
    public var macs = 0
    public var outputs = 0
    public var edgeOutputs = 0
    public var channels = 0
    public var paddedInputs = 0
    public var weights = 0
    /// The op's kind (`conv2d`, `flatten`, …): the interpreter's per-op work is priced per kind (`op@kind`).
    public var opKind = ""
    /// `fusion_conv` or `fusion_depthwise` for a dynamic conv, else nil.
    public var fusionClass: String?
    public var fusionMACs = 0
    public var fusionChannels = 0
    /// A dynamic conv with the fused DC correction: its input elements (the means) and fused elements
    /// (`O·K`, one residual each), priced by the optional class `fused_dc`.
    public var fusedDCInputs = 0
    public var fusedDCElements = 0

    public init(kernelClass: String, variant: String? = nil) {
        self.kernelClass = kernelClass; self.variant = variant
    }
}

/// Per op, the work in the instruction model's units, with the chooser answers of kernel set `kernels` (the
/// variant names of its `Variant` enum, e.g. `CortexMDSPKernels.Variant.im2colElements`).
public func kernelWork(_ d: ModelDescription, counts: ModelCounts, kernels: KernelSetChoice) -> [KernelWork] {
    let variants = opVariants(d, kernels: kernels)
    func elements(_ id: TensorID) -> Int { d.tensors[id.index].elementCount }
    func channels(_ id: TensorID) -> Int { d.tensors[id.index].shape.last ?? 1 }
    /// Input elements with the window's padding added (NHWC).
    func padded(_ w: Window, _ input: TensorID) -> Int {
        let i = d.tensors[input.index].shape
        guard i.count == 4 else { return elements(input) }
        return (i[1] + w.padding.top + w.padding.bottom) * (i[2] + w.padding.left + w.padding.right) * i[3]
    }
    /// Output elements whose window reaches outside the input (NHWC input and output).
    func edge(_ w: Window, _ input: TensorID, _ output: TensorID) -> Int {
        let i = d.tensors[input.index].shape, o = d.tensors[output.index].shape
        guard i.count == 4, o.count == 4 else { return 0 }
        func touches(_ out: Int, _ stride: Int, _ pad: Int, _ k: Int, _ dil: Int, _ size: Int) -> Bool {
            let first = out * stride - pad
            return first < 0 || first + (k - 1) * dil > size - 1
        }
        let rows = (0..<o[1]).filter { touches($0, w.strideH, w.padding.top, w.kernelH, w.dilationH, i[1]) }.count
        let cols = (0..<o[2]).filter { touches($0, w.strideW, w.padding.left, w.kernelW, w.dilationW, i[2]) }.count
        return (rows * o[2] + cols * o[1] - rows * cols) * o[3]
    }
    return d.operations.enumerated().map { i, o in
        var w = work(i, o)
        w.opKind = String(describing: o.op.code.name)
        return w
    }
    /// A (dynamic) convolution's window work in `w`; returns K, the weights per output channel.
    func windowWork(_ w: inout KernelWork, _ window: Window, _ input: TensorID, _ output: TensorID,
                    groups: Int, depthwise: Bool) -> Int {
        let k = window.kernelH * window.kernelW * (depthwise ? 1 : channels(input) / max(groups, 1))
        w.outputs = elements(output)
        w.macs = w.outputs * k
        w.edgeOutputs = edge(window, input, output)
        w.channels = channels(output)
        w.paddedInputs = padded(window, input)
        w.weights = w.channels * k
        return k
    }
    func work(_ i: Int, _ o: ModelDescription.Operation) -> KernelWork {
        let v = variants.indices.contains(i) ? variants[i] : nil
        switch o.op {
        case .conv2d(let p), .depthwiseConv2d(let p):
            var w = KernelWork(kernelClass: counts.ops[i].kernelClass.rawValue, variant: v)
            _ = windowWork(&w, p.window, p.input, p.output, groups: p.groups,
                           depthwise: w.kernelClass == KernelClass.depthwise.rawValue)
            return w
        case .dynamicConv2d(let p):
            var w = KernelWork(kernelClass: counts.ops[i].kernelClass.rawValue, variant: v)
            let k = windowWork(&w, p.window, p.input, p.output, groups: p.groups, depthwise: p.depthwise)
            w.fusionClass = p.depthwise ? "fusion_depthwise" : "fusion_conv"
            w.fusionChannels = channels(p.output)
            w.fusionMACs = p.kernelCount * w.fusionChannels * k
            if p.correctsFusedDC {
                w.fusedDCInputs = elements(p.input)
                w.fusedDCElements = w.fusionChannels * k
            }
            return w
        case .linear(let p):
            var w = KernelWork(kernelClass: KernelClass.linear.rawValue, variant: v)
            w.outputs = elements(p.output)
            w.macs = w.outputs * channels(p.input)
            w.weights = w.macs
            return w
        case .add(let p):
            var w = KernelWork(kernelClass: "add")
            w.macs = elements(p.output)
            return w
        case .globalAvgPool(let p):
            var w = KernelWork(kernelClass: "global_avgpool")
            w.macs = elements(p.input)
            w.outputs = elements(p.output)
            return w
        default:
            var w = KernelWork(kernelClass: KernelClass.elementwise.rawValue, variant: String(describing: o.op.code.name))
            let c = counts.ops[i]
            w.macs = c.tableLookups + c.elementOps + c.adds
            return w
        }
    }
}

/// The chooser answer of `kernels` for every op (nil for ops without variants), by case name.
public func opVariants(_ d: ModelDescription, kernels: KernelSetChoice) -> [String?] {
    guard let bytes = try? d.serialized() else { return [] }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: ArenaPlan.alignment)
    defer { buffer.deallocate() }
    bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
    guard let file = try? ModelFile(bytes: UnsafeRawBufferPointer(buffer)) else { return [] }
    struct Asker: KernelSetUser {
        let file: ModelFile, count: Int
        func use<K: StatelessKernelSet>(_ kernels: K.Type) -> [String?] {
            (0..<count).map { i in opRequirements(file, op: i, kernels: K.self).variant.map { String(describing: $0) } }
        }
    }
    return (try? kernels.with(Asker(file: file, count: d.operations.count))) ?? []
}
