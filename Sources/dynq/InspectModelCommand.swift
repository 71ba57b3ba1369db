// `dynq inspect MODEL.dynq`: every op with its quantization parameters, the tensors, and the arena plan.
import DynQCore
import DynQGraph
import Foundation

let dynqInspector = ModelHandler(
    name: "dynq",
    matches: { $0.hasSuffix(".dynq") },
    run: { path, args in
        let a = try Arguments(args, flags: ["blobs"])
        _ = try a.positionals(0, "")
        let file = try DynqModelFile(path)
        // Names and notes come from the file: control characters are shown escaped, line by line, so a hostile
        // model cannot forge terminal output.
        for line in describeModel(file, showBlobs: a.has("blobs")) { Console.out(DynQError.printable(line)) }
        if !file.model.notes.isEmpty {
            Console.out("")
            Console.out("quantization report (recorded by dynq quantize in the file):")
            for line in file.model.notes.split(separator: "\n", omittingEmptySubsequences: false) {
                Console.out(DynQError.printable(String(line)))
            }
        }
        return 0
    })

/// binary32 bits as a short decimal.
func floatText(_ bits: UInt32) -> String { String(format: "%.6g", Float(bitPattern: bits)) }

/// `(m, e)` as `m·2^(e−31) ≈ M`.
func requantText(_ m: Int32, _ e: Int32) -> String {
    let real = Double(m) * pow(2, Double(e) - 31)
    return "(\(m), \(e)) ≈ \(String(format: "%.6g", real))"
}

func describeModel(_ file: DynqModelFile, showBlobs: Bool) -> [String] {
    let m = file.model
    var out: [String] = []
    let size = m.bytes.count
    out.append("model '\(m.name)': \(file.path), \(grouped(size)) bytes, format version \(ModelFormat.version), CRC ok")
    let inT = m.tensors[m.input.index]
    let pre = m.preprocess
    out.append("input '\(inT.name)' uint8 \(shapeText(inT.shape)) (NHWC); preprocess x = (p·\(floatText(pre.scaleBits)) − mean) / std, "
               + "mean [\(pre.meanBits.map(floatText).joined(separator: ", "))], std [\(pre.stdBits.map(floatText).joined(separator: ", "))]")
    out.append("outputs " + m.outputs.map { "'\(m.tensors[$0.index].name)'" }.joined(separator: ", ")
               + (m.classNames.isEmpty ? "" : "; \(m.classNames.count) classes: " + m.classNames.prefix(12).joined(separator: ", ")
                  + (m.classNames.count > 12 ? ", …" : "")))
    let weightBytes = m.blobs.reduce(0) { $0 + $1.byteCount }
    out.append("\(m.tensors.count) tensors, \(m.blobs.count) blobs (\(grouped(weightBytes)) bytes, used in place), \(m.operations.count) ops")
    out.append("")

    func t(_ id: TensorID) -> String {
        let x = m.tensors[id.index]
        let type = x.type == .int8 ? "" : " \(x.type)"
        return "\(x.name)\(type) \(shapeText(x.shape)) s=\(floatText(x.scaleBits)) z=\(x.zeroPoint)"
    }
    func blob(_ id: BlobID?) -> String {
        guard let id else { return "none" }
        let b = m.blobs[id.index]
        return "\(b.name) \(b.type) \(shapeText(b.shape))"
    }
    func i32(_ id: BlobID, _ k: Int) -> Int32 {
        Int32(littleEndian: m.bytes.loadUnaligned(fromByteOffset: m.blobs[id.index].offset + 4 * k, as: Int32.self))
    }
    func multipliers(_ id: BlobID) -> String {
        let n = m.blobs[id.index].elementCount / 2
        let pairs = (0..<n).map { (i32(id, 2 * $0), i32(id, 2 * $0 + 1)) }
        let reals = pairs.map { Double($0.0) * pow(2, Double($0.1) - 31) }
        var s = "\(n) × (m, e)"
        if let lo = reals.min(), let hi = reals.max() { s += ", M in [\(String(format: "%.4g", lo)), \(String(format: "%.4g", hi))]" }
        s += ": " + pairs.prefix(4).map { requantText($0.0, $0.1) }.joined(separator: ", ") + (n > 4 ? ", …" : "")
        return s
    }
    func window(_ w: ModelDescription.Window) -> String {
        var s = "kernel \(w.kernelH)×\(w.kernelW) stride \(w.strideH)×\(w.strideW)"
        if w.dilationH != 1 || w.dilationW != 1 { s += " dilation \(w.dilationH)×\(w.dilationW)" }
        if w.padTop + w.padLeft + w.padBottom + w.padRight > 0 {
            s += " pad [t \(w.padTop), l \(w.padLeft), b \(w.padBottom), r \(w.padRight)]"
        }
        return s
    }
    func clamp(_ c: ModelDescription.Clamp) -> String { c == .none ? "" : " clamp [\(c.min), \(c.max)]" }

    let plan = KernelSetChoice.simd128.plan(m)
    for (i, o) in m.operations.enumerated() {
        var lines: [String] = []
        let code = o.op.code.name.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }
        out.append("[\(i)] \(o.name): \(code)")
        switch o.op {
        case .inputTable(let p):
            lines = ["\(t(p.input)) → \(t(p.output))", "table \(blob(p.table))"]
        case .conv2d(let p), .depthwiseConv2d(let p):
            lines = ["\(t(p.input)) → \(t(p.output))",
                     window(p.window) + (p.groups > 1 ? " groups \(p.groups)" : "") + clamp(p.clamp),
                     "weights \(blob(p.weights)); bias \(blob(p.bias))",
                     "multipliers \(multipliers(p.multipliers))"]
        case .dynamicConv2d(let p):
            let c = m.tensors[p.coefficients.index]
            let n = p.mode == .perChannel ? m.tensors[p.output.index].shape[3] * p.kernelCount : p.kernelCount
            lines = ["\(t(p.input)) → \(t(p.output))",
                     "\(p.mode == .perChannel ? "per_channel" : "per_layer") g=\(p.kernelCount), coefficients \(c.name)[\(p.coefficientOffset)..<\(p.coefficientOffset + n)] (Q15)"
                        + (p.depthwise ? ", depthwise" : ""),
                     window(p.window) + (p.groups > 1 ? " groups \(p.groups)" : "") + clamp(p.clamp),
                     "weights \(blob(p.weights)); mixed bias \(blob(p.mixedBias)); bias \(blob(p.bias))",
                     "static M0 \(multipliers(p.multipliers)); per sample M = M0·A/127"]
        case .linear(let p):
            lines = ["\(t(p.input)) → \(t(p.output))" + clamp(p.clamp),
                     "weights \(blob(p.weights)); bias \(blob(p.bias))",
                     "multipliers \(multipliers(p.multipliers))"]
        case .add(let p):
            lines = ["\(t(p.a)) + \(t(p.b)) → \(t(p.output))" + clamp(p.clamp),
                     "left shift \(p.leftShift); a \(requantText(p.aRequant.multiplier, p.aRequant.shift)); "
                        + "b \(requantText(p.bRequant.multiplier, p.bRequant.shift)); out \(requantText(p.outputRequant.multiplier, p.outputRequant.shift))"]
        case .concat(let p):
            lines = p.inputs.indices.map { k in
                let r = p.requants[k]
                return "\(t(p.inputs[k])) requant \(requantText(r.multiplier, r.shift))"
            } + ["→ \(t(p.output))"]
        case .channelShuffle(let p):
            lines = ["\(t(p.input)) → \(t(p.output)) groups \(p.groups)"]
        case .channelSplit(let p):
            lines = ["\(t(p.input)) → " + p.outputs.map(t).joined(separator: ", ")]
        case .maxPool(let p), .avgPool(let p):
            var s = window(p.window)
            if case .avgPool = o.op { s += p.countIncludePad ? " count_include_pad" : " exclude pad" }
            lines = ["\(t(p.input)) → \(t(p.output))", s + clamp(p.clamp)]
        case .globalAvgPool(let p):
            lines = ["\(t(p.input)) → \(t(p.output))" + clamp(p.clamp),
                     "requant \(requantText(p.requant.multiplier, p.requant.shift))"]
        case .flatten(let p):
            lines = ["\(t(p.input)) → \(t(p.output)) (HWC → CHW)"]
        case .softmax(let p):
            lines = ["\(t(p.input)) → \(t(p.output))", "exp table \(blob(p.expTable))"]
        case .gate(let p):
            lines = ["\(t(p.input)) → \(t(p.output))",
                     (p.kind == .sigmoid ? "sigmoid" : "softmax over chunks of \(p.group)") + ", table \(blob(p.table))"]
        case .table(let p):
            lines = ["\(t(p.input)) → \(t(p.output))", "table \(blob(p.table))"]
        }
        let req = opRequirements(m.file, op: i, kernels: SIMD128Kernels.self)
        var mem: [String] = []
        if req.fusedWeights > 0 {
            mem.append("per-sample fused kernel \(req.fusedWeights) B, bias \(req.fusedBias) B, multipliers \(req.fusedMultipliers) B")
        }
        if req.packedWeights > 0 { mem.append("packed weights \(req.packedWeights) B (whole run)") }
        if req.scratch > 0 { mem.append("scratch \(req.scratch) B") }
        if let v = req.variant { mem.append("kernel \(v)") }
        if !mem.isEmpty { mem[0] = "simd128: " + mem[0] }
        if !mem.isEmpty { lines.append(mem.joined(separator: ", ")) }
        for l in lines { out.append("    " + l) }
    }

    if showBlobs {
        out.append("")
        out.append("blobs:")
        for (i, b) in m.blobs.enumerated() {
            out.append("  [\(i)] \(b.name) \(b.type) \(shapeText(b.shape)) @\(b.offset) \(b.byteCount) B")
        }
    }

    out.append("")
    let ref = KernelSetChoice.scalar.plan(m)
    let keep = KernelSetChoice.hostDefault.plan(m, keepAll: true)
    out.append("arena (simd128 kernels): \(grouped(plan.arenaBytes)) bytes: interpreter tables \(grouped(plan.tableBytes)), "
               + "plan \(grouped(plan.planBytes)) (peak live \(grouped(plan.peakLiveBytes)) at op \(plan.peakOperation), "
               + "no sharing \(grouped(plan.unsharedBytes)))")
    out.append("arena (scalar kernels, no packing): \(grouped(ref.arenaBytes)) bytes; keepAll (eval): \(grouped(keep.arenaBytes)) bytes")
    return out
}
