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
    /// `fusion_conv` or `fusion_depthwise` for a dynamic conv, else nil.
    public var fusionClass: String?
    public var fusionMACs = 0
    public var fusionChannels = 0

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
    return d.operations.enumerated().map { i, o in
        let v = variants.indices.contains(i) ? variants[i] : nil
        switch o.op {
        case .conv2d(let p), .depthwiseConv2d(let p):
            var w = KernelWork(kernelClass: counts.ops[i].kernelClass.rawValue, variant: v)
            let depthwise = w.kernelClass == KernelClass.depthwise.rawValue
            let k = p.window.kernelH * p.window.kernelW * (depthwise ? 1 : channels(p.input) / max(p.groups, 1))
            w.outputs = elements(p.output)
            w.macs = w.outputs * k
            return w
        case .dynamicConv2d(let p):
            var w = KernelWork(kernelClass: counts.ops[i].kernelClass.rawValue, variant: v)
            let k = p.window.kernelH * p.window.kernelW * (p.depthwise ? 1 : channels(p.input) / max(p.groups, 1))
            w.outputs = elements(p.output)
            w.macs = w.outputs * k
            w.fusionClass = p.depthwise ? "fusion_depthwise" : "fusion_conv"
            w.fusionChannels = channels(p.output)
            w.fusionMACs = p.kernelCount * w.fusionChannels * k
            return w
        case .linear(let p):
            var w = KernelWork(kernelClass: KernelClass.linear.rawValue, variant: v)
            w.outputs = elements(p.output)
            w.macs = w.outputs * channels(p.input)
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
            var w = KernelWork(kernelClass: KernelClass.elementwise.rawValue)
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
