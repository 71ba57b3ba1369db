/// Number, shape and table formatting shared by the commands' text output.

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
