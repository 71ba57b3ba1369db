import DynQCore
import DynQGraph
import Foundation

/// `cpm` → `global_avgpool` + `flatten` + `linear` (+ relu) (+ `linear`) + `gate` (a sigmoid or softmax table
/// writing int16 Q15 coefficients that the dynamic convolutions read).
extension CPMAttrs: QuantizableOp {
    func emit(_ node: Node, _ b: inout ModelBuilder) throws { try b.emitCPM(node, self) }
}

extension ModelBuilder {
    /// Sigmoid-gate logits beyond ±ln(2^15) change η by less than one Q15 step (e^−10.4 ≈ 2^−15), so their
    /// range is clipped there: the int8 logits then spend their 256 codes where the sigmoid moves.
    static let sigmoidLogitLimit = ValueRange(min: -log(32768.0), max: log(32768.0))

    mutating func emitCPM(_ node: Node, _ a: CPMAttrs) throws {
        let x = node.inputs[0]
        let (inID, qin) = try input(x, node: node.name)
        let inShape = try shape(x, node: node.name)
        let c = inShape[1]
        // 1. Global average pool.
        let poolName = "\(node.name).pool"
        let (qp, pChosen, pObserved) = try calibrated(poolName, node: node.name, fullRange: true)
        let poolID = addTensor(poolName, nchw: [1, c, 1, 1], quant: qp)
        var rep = try emitGlobalAvgpool(name: poolName, input: inID, inShape: inShape, qin: qin, output: poolID, qout: qp)
        rep.outputRange = pChosen; rep.observedRange = pObserved
        reports.append(rep)
        // [1, 1, 1, C] → [1, C] for the linear layers (a C-byte copy).
        let flatName = "\(node.name).pool.flat"
        quants[flatName] = qp
        let flatID = addTensor(flatName, nchw: [1, c], quant: qp)
        ops.append(ModelDescription.Operation(name: flatName, op: .flatten(ModelDescription.Unary(input: poolID, output: flatID))))
        // 2. fc1 (+ ReLU) (+ fc2).
        let fc1 = try weight(a.fc1Weight, node: node.name)
        let logitLimit: ValueRange? = a.gate == .sigmoid ? ModelBuilder.sigmoidLogitLimit : nil
        let logitsName = "\(node.name).logits"
        var current = flatID, qcur = qp
        if let fc2Name = a.fc2Weight {
            let hiddenName = "\(node.name).hidden"
            let (qh, hChosen, hObserved) = try calibrated(hiddenName, node: node.name)
            let hID = addTensor(hiddenName, nchw: [1, fc1.shape[0]], quant: qh)
            var r1 = try emitLinear(name: "\(node.name).fc1", input: current, qin: qcur, w: fc1,
                                    b: try a.fc1Bias.map { try weight($0, node: node.name) }, output: hID, qout: qh,
                                    clamp: ModelDescription.Clamp(min: Swift.max(-128, qh.quantize(0)), max: 127))
            r1.outputRange = hChosen; r1.observedRange = hObserved; r1.notes.append("fused relu")
            reports.append(r1)
            current = hID; qcur = qh
            let fc2 = try weight(fc2Name, node: node.name)
            let (ql, lChosen, lObserved) = try calibrated(logitsName, node: node.name, limit: logitLimit)
            let lID = addTensor(logitsName, nchw: [1, fc2.shape[0]], quant: ql)
            var r2 = try emitLinear(name: "\(node.name).fc2", input: current, qin: qcur, w: fc2,
                                    b: try a.fc2Bias.map { try weight($0, node: node.name) }, output: lID, qout: ql,
                                    clamp: .none)
            r2.outputRange = lChosen; r2.observedRange = lObserved
            reports.append(r2)
            current = lID; qcur = ql
        } else {
            let (ql, lChosen, lObserved) = try calibrated(logitsName, node: node.name, limit: logitLimit)
            let lID = addTensor(logitsName, nchw: [1, fc1.shape[0]], quant: ql)
            var r1 = try emitLinear(name: "\(node.name).fc1", input: current, qin: qcur, w: fc1,
                                    b: try a.fc1Bias.map { try weight($0, node: node.name) }, output: lID, qout: ql,
                                    clamp: .none)
            r1.outputRange = lChosen; r1.observedRange = lObserved
            reports.append(r1)
            current = lID; qcur = ql
        }
        // 3. Gate → int16 Q15 coefficients.
        let out = node.outputs[0]
        let n = try shape(out, node: node.name).last ?? 0
        let coeffID = addTensor(out, .int16, nchw: [1, n], scaleBits: q15ScaleBits, zero: 0)
        let kind: ModelDescription.GateKind, table: BlobID, group: Int
        var gateRep = LayerReport(name: "\(node.name).gate", op: "gate")
        switch a.gate {
        case .sigmoid:
            kind = .sigmoid; group = n
            table = blob(ModelDescription.Blob(name: "\(node.name).sigmoid", int16: Tables.sigmoidGate(qcur), shape: [256]))
            gateRep.notes.append("sigmoid, int16 table")
        case .softmax(let temperature, let g):
            kind = .softmax; group = g
            guard g > 0, n % g == 0, g < 65536 else {
                throw DynQError("cpm \(node.name): softmax group \(g) must divide \(n) and be < 65536")
            }
            let e = Tables.softmaxExp(inputScale: qcur.scale, temperature: Double(temperature))
            table = blob(ModelDescription.Blob(name: "\(node.name).exp", int32: e.map { Int32($0) }, shape: [256]))
            gateRep.notes.append("softmax over \(g), temperature \(temperature) folded into the exp table")
        }
        ops.append(ModelDescription.Operation(name: "\(node.name).gate", op: .gate(ModelDescription.Gate(input: current, output: coeffID,
                                                                            kind: kind, table: table, group: group))))
        gates[out] = (kind, node.name)
        gateRep.input = qcur
        gateRep.observedRange = stats.observedRange(out)
        reports.append(gateRep)
    }
}
