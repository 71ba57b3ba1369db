/// Number, shape and table formatting shared by the commands' text output.

/// `[1, 16, 28, 28]` → "1×16×28×28".
func shapeText(_ s: [Int]) -> String { s.map(String.init).joined(separator: "×") }

/// A left/right-aligned text table.
func renderTable(_ header: [String], _ rows: [[String]], rightAligned: Set<Int>) -> [String] {
    let all = [header] + rows
    let widths = header.indices.map { c in all.map { $0[c].count }.max() ?? 0 }
    func line(_ r: [String]) -> String {
        var s = r.enumerated().map { c, v in
            let pad = String(repeating: " ", count: widths[c] - v.count)
            return rightAligned.contains(c) ? pad + v : v + pad
        }.joined(separator: "  ")
        // Trailing padding trimmed by hand: a regex here made a 40,000-row table take tens of seconds.
        while s.last == " " { s.removeLast() }
        return s
    }
    return [line(header), String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1))] + rows.map(line)
}
