import DynQGraph

/// A float graph with its weights, loaded for a command. Validation errors name the graph file.
struct FloatModel {
    var graph: Graph
    var weights: [String: Tensor]
    var graphPath: String

    init(graph graphPath: String, weights weightsPath: String) throws {
        graph = try loadGraph(graphPath)
        weights = try readSafetensors(weightsPath).tensors
        self.graphPath = graphPath
    }

    func engine() throws -> FloatEngine {
        do { return try FloatEngine(graph: graph, weights: weights) } catch let e as DynQError { throw e.inFile(graphPath) }
    }

    func counts() throws -> [NodeCounts] {
        try countNodes(graph: graph, weights: weights, file: graphPath)
    }
}

/// Thousands separators: 1234567 → "1,234,567".
func grouped(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (k, ch) in digits.enumerated() {
        if k > 0 && (digits.count - k) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return (n < 0 ? "-" : "") + out
}

/// `[1, 16, 28, 28]` → "1×16×28×28".
func shapeText(_ s: [Int]) -> String { s.map(String.init).joined(separator: "×") }

/// A left/right-aligned text table.
func renderTable(_ header: [String], _ rows: [[String]], rightAligned: Set<Int>) -> [String] {
    let all = [header] + rows
    let widths = header.indices.map { c in all.map { $0[c].count }.max() ?? 0 }
    func line(_ r: [String]) -> String {
        r.enumerated().map { c, v in
            let pad = String(repeating: " ", count: widths[c] - v.count)
            return rightAligned.contains(c) ? pad + v : v + pad
        }.joined(separator: "  ").replacing(/\s+$/, with: "")
    }
    return [line(header), String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1))] + rows.map(line)
}
