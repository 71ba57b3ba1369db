/// The arena plan: where every activation tensor and every per-op buffer lives in the caller's arena, in the
/// style of TFLite Micro's greedy memory planner.
///
/// Buffers:
/// - every activation tensor (the uint8 input, int8 activations, the int16 Q15 coefficient tensors a gate writes
///   and dynamic layers read), alive from the op that writes it (op 0 for the model input) to the last op that
///   reads it (to the end for model outputs, and for every tensor with `keepAll`);
/// - per dynamic layer, for the op only: the fused int8 kernel (`O·K`), the per-sample int32 bias (`O`) and the
///   per-sample multipliers (`O` × 8 bytes);
/// - per op, the kernel's scratch (`KernelRequirements.scratchBytes`), for the op only;
/// - per static conv / depthwise / linear op, its weights packed for the SIMD kernel
///   (`KernelRequirements.packedWeightBytes`), alive for the whole run (packed once, at interpreter init);
/// - per dynamic layer with the SIMD kernels, the per-sample fused kernel packed for the SIMD kernel: the first
///   part of the op's scratch buffer.
///
/// With `simd: false` (the reference kernels only, e.g. for a microcontroller build) there are no packed weights
/// and no scratch.
///
/// Placement: buffers sorted by size (largest first, then by first use), each put at the lowest 16-byte aligned
/// offset where it overlaps no already placed buffer whose lifetime overlaps its own. Lifetimes are inclusive op
/// ranges, so an op's inputs, outputs and scratch never share bytes (no in-place ops).
///
/// `arenaBytes` is what the caller must provide (plus up to 15 bytes if the arena does not start on a 16-byte
/// boundary); `peakLiveBytes` is the most bytes alive at one op, the lower bound any planner could reach.
public struct ArenaPlan: Equatable, Sendable {
    public static let alignment = 16

    public enum Purpose: Equatable, Sendable {
        case tensor(TensorID)
        case fusedKernel
        case fusedBias
        case fusedMultipliers
        case scratch
        case packedWeights
    }

    public struct Buffer: Equatable, Sendable {
        public var purpose: Purpose
        /// The op the buffer belongs to (for tensors, the op that writes it; −1 for the model input).
        public var operation: Int
        /// Bytes used (before rounding up to the alignment).
        public var size: Int
        /// First and last op (inclusive) during which the bytes must be kept.
        public var firstUse: Int
        public var lastUse: Int
        /// Byte offset from the (aligned) arena start.
        public var offset: Int
    }

    public var buffers: [Buffer]
    /// Offset of every tensor, by `TensorID`.
    public var tensorOffsets: [Int]
    /// Per op: the offsets of its fused kernel, bias, multipliers, scratch and packed weights (−1 when none).
    public var fusedKernelOffsets: [Int]
    public var fusedBiasOffsets: [Int]
    public var fusedMultiplierOffsets: [Int]
    public var scratchOffsets: [Int]
    public var packedWeightOffsets: [Int]
    /// The arena size the plan needs (from an aligned start).
    public var arenaBytes: Int
    /// The most bytes alive at one op (each buffer rounded up to the alignment), and the op where that happens.
    public var peakLiveBytes: Int
    public var peakOperation: Int
    /// Sum of all buffers (rounded up to the alignment): what the arena would be with no sharing.
    public var unsharedBytes: Int
    public var keepAll: Bool
    /// Whether the plan holds the SIMD kernels' packed weights and scratch.
    public var simd: Bool

    /// Plans a loaded model.
    public init(model: Model, keepAll: Bool = false, simd: Bool = true) {
        self.init(tensors: model.tensors, operations: model.operations, input: model.input, outputs: model.outputs,
                  keepAll: keepAll, simd: simd)
    }

    /// Plans a model description (for tools that size memory without writing a file, e.g. the simulator).
    /// The description must be valid (`serialized()` succeeds).
    public init(description d: ModelDescription, keepAll: Bool = false, simd: Bool = true) {
        self.init(tensors: d.tensors, operations: d.operations, input: d.input, outputs: d.outputs, keepAll: keepAll,
                  simd: simd)
    }

    @inline(__always) static func aligned(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    init(tensors: [ModelDescription.Tensor], operations: [ModelDescription.Operation], input: TensorID,
         outputs: [TensorID], keepAll: Bool, simd: Bool) {
        let n = operations.count
        let end = n - 1
        var first = [Int](repeating: -1, count: tensors.count)
        var last = [Int](repeating: -1, count: tensors.count)
        var producer = [Int](repeating: -1, count: tensors.count)
        first[input.index] = 0; last[input.index] = 0
        for (i, o) in operations.enumerated() {
            for t in o.op.inputs { last[t.index] = max(last[t.index], i) }
            for t in o.op.outputs { first[t.index] = i; last[t.index] = max(last[t.index], i); producer[t.index] = i }
        }
        for t in outputs { last[t.index] = end }

        var bufs: [Buffer] = []
        for (i, t) in tensors.enumerated() where first[i] >= 0 {
            bufs.append(Buffer(purpose: .tensor(TensorID(i)), operation: producer[i], size: t.byteCount,
                               firstUse: first[i], lastUse: keepAll ? end : last[i], offset: 0))
        }
        for (i, o) in operations.enumerated() {
            let req = KernelRequirements(operation: o.op, tensors: tensors, simd: simd)
            func add(_ p: Purpose, _ size: Int, whole: Bool = false) {
                if size > 0 {
                    bufs.append(Buffer(purpose: p, operation: i, size: size, firstUse: whole ? 0 : i,
                                       lastUse: whole ? end : i, offset: 0))
                }
            }
            add(.fusedKernel, req.fusedKernelBytes)
            add(.fusedBias, req.fusedBiasBytes)
            add(.fusedMultipliers, req.fusedMultiplierBytes)
            add(.scratch, req.scratchBytes)
            add(.packedWeights, req.packedWeightBytes, whole: true)
        }

        // Greedy by size: largest first (ties: earlier first use, then creation order, so the plan is stable).
        var order = Array(bufs.indices)
        order.sort { a, b in
            let sa = ArenaPlan.aligned(bufs[a].size), sb = ArenaPlan.aligned(bufs[b].size)
            if sa != sb { return sa > sb }
            if bufs[a].firstUse != bufs[b].firstUse { return bufs[a].firstUse < bufs[b].firstUse }
            return a < b
        }
        var placed: [Int] = []
        var extent = 0
        for b in order {
            let size = ArenaPlan.aligned(bufs[b].size)
            // Placed buffers alive at the same time, by offset.
            var conflicts: [(Int, Int)] = []
            for p in placed where bufs[p].firstUse <= bufs[b].lastUse && bufs[b].firstUse <= bufs[p].lastUse {
                conflicts.append((bufs[p].offset, bufs[p].offset + ArenaPlan.aligned(bufs[p].size)))
            }
            conflicts.sort { $0.0 < $1.0 }
            var offset = 0
            for (lo, hi) in conflicts {
                if offset + size <= lo { break }
                offset = max(offset, hi)
            }
            bufs[b].offset = offset
            extent = max(extent, offset + size)
            placed.append(b)
        }

        var live = [Int](repeating: 0, count: max(n, 1))
        var unshared = 0
        for b in bufs {
            let s = ArenaPlan.aligned(b.size)
            unshared += s
            for i in b.firstUse...b.lastUse { live[i] += s }
        }
        var peak = 0, peakOp = 0
        for (i, v) in live.enumerated() where v > peak { peak = v; peakOp = i }

        var tensorOffsets = [Int](repeating: -1, count: tensors.count)
        var fk = [Int](repeating: -1, count: n), fb = fk, fm = fk, sc = fk, pw = fk
        for b in bufs {
            switch b.purpose {
            case .tensor(let t): tensorOffsets[t.index] = b.offset
            case .fusedKernel: fk[b.operation] = b.offset
            case .fusedBias: fb[b.operation] = b.offset
            case .fusedMultipliers: fm[b.operation] = b.offset
            case .scratch: sc[b.operation] = b.offset
            case .packedWeights: pw[b.operation] = b.offset
            }
        }
        self.buffers = bufs
        self.tensorOffsets = tensorOffsets
        self.fusedKernelOffsets = fk; self.fusedBiasOffsets = fb; self.fusedMultiplierOffsets = fm
        self.scratchOffsets = sc; self.packedWeightOffsets = pw
        self.arenaBytes = extent
        self.peakLiveBytes = peak
        self.peakOperation = peakOp
        self.unsharedBytes = unshared
        self.keepAll = keepAll
        self.simd = simd
    }

    /// Whether two buffers that are alive at the same time overlap in the arena (never, for a correct plan).
    public func findOverlap() -> (Int, Int)? {
        for a in buffers.indices {
            for b in buffers.indices where b > a {
                let x = buffers[a], y = buffers[b]
                guard x.firstUse <= y.lastUse && y.firstUse <= x.lastUse else { continue }
                if x.offset < y.offset + y.size && y.offset < x.offset + x.size && x.size > 0 && y.size > 0 {
                    return (a, b)
                }
            }
        }
        return nil
    }
}

/// The buffers an op needs beside its input and output tensors, from the kernels' own buffer-size functions
/// (CMSIS-NN's `*_get_buffer_size` idea: sizes from the op alone, so a host can size memory without running).
public struct KernelRequirements: Equatable, Sendable {
    /// Dynamic layers: the per-sample fused int8 kernel, `O·K`.
    public var fusedKernelBytes = 0
    /// Dynamic layers: the per-sample int32 bias, `4·O`.
    public var fusedBiasBytes = 0
    /// Dynamic layers: the per-sample `QuantizedMultiplier`s, `8·O`.
    public var fusedMultiplierBytes = 0
    /// Kernel scratch (im2col rows, tap offsets, fusion's F), for the op only; the largest of the op's kernels.
    /// Dynamic layers with the SIMD kernels: `packedFusedKernelBytes` rounded up to 16, then that largest scratch.
    public var scratchBytes = 0
    /// Static weights packed for the SIMD kernel, kept for the whole run.
    public var packedWeightBytes = 0
    /// Dynamic layers: the fused kernel packed for the SIMD kernel, per sample (inside `scratchBytes`).
    public var packedFusedKernelBytes = 0

    /// The op must come from a valid model. `simd: false`: the reference kernels, which need no scratch and no
    /// packing.
    public init(operation op: ModelDescription.Op, tensors t: [ModelDescription.Tensor], simd: Bool = true) {
        typealias S = Step
        switch op {
        case .conv2d(let p):
            guard simd else { return }
            let cp = S.convParams(p.window, groups: p.groups, input: t[p.input.index], output: t[p.output.index],
                                  clamp: p.clamp)
            packedWeightBytes = conv2dPackedWeightBytes(cp)
            scratchBytes = conv2dScratchBytes(cp)
        case .depthwiseConv2d(let p):
            guard simd else { return }
            let dp = S.depthwiseParams(p.window, input: t[p.input.index], output: t[p.output.index], clamp: p.clamp)
            packedWeightBytes = depthwiseConv2dPackedWeightBytes(dp)
            scratchBytes = depthwiseConv2dScratchBytes(dp)
        case .linear(let p):
            guard simd else { return }
            let lp = S.linearParams(p, tensors: t)
            packedWeightBytes = linearPackedWeightBytes(lp)
            scratchBytes = linearScratchBytes(lp)
        case .dynamicConv2d(let p):
            let (fusion, dw, cp) = S.dynamicParams(p, tensors: t)
            fusedKernelBytes = fusion.kernelElements
            fusedBiasBytes = 4 * fusion.outputChannels
            fusedMultiplierBytes = MemoryLayout<QuantizedMultiplier>.stride * fusion.outputChannels
            guard simd else { return }
            if let dw {
                packedFusedKernelBytes = depthwiseConv2dPackedWeightBytes(dw)
                scratchBytes = max(dynamicFusionScratchBytes(fusion), depthwiseConv2dScratchBytes(dw))
            } else {
                packedFusedKernelBytes = conv2dPackedWeightBytes(cp)
                scratchBytes = max(dynamicFusionScratchBytes(fusion), conv2dScratchBytes(cp))
            }
            scratchBytes += ArenaPlan.aligned(packedFusedKernelBytes)
        default:
            break
        }
    }
}
