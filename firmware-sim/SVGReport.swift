import Foundation
import DynQGraph

/// A one-page SVG of a `SimReport`: the title line with the verdict, memory in use across the ops (the runtime
/// plan's live bytes; the peak marked) above, and per-op estimated cycles as bars coloured by kernel class below,
/// sharing the op axis, which names the ops (every k-th when there are too many to fit). Axis ticks are round
/// values (1, 2 or 5 × a power of ten; bytes in B, KiB or MiB).
extension SimReport {
    public func svg() -> String {
        let width = 1200.0, height = 860.0
        let left = 90.0, right = 30.0
        let plotW = width - left - right
        let memTop = 110.0, memH = 250.0
        let cycTop = 430.0, cycH = 220.0
        let n = max(layers.count, 1)
        let step = plotW / Double(n)
        func x(_ i: Int) -> Double { left + Double(i) * step }
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;")
        }
        let colors: [KernelClass: String] = [.conv3x3: "#1f77b4", .depthwise: "#2ca02c", .conv1x1: "#ff7f0e",
                                             .linear: "#9467bd", .elementwise: "#7f7f7f"]
        let fusionColor = "#d62728"
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="DejaVu Sans, Arial, sans-serif">
        <rect width="100%" height="100%" fill="white"/>

        """
        let verdictColor = fits ? "#2a7d2a" : "#c0392b"
        s += "<text x=\"\(left)\" y=\"34\" font-size=\"22\" font-weight=\"bold\">\(esc(model)) on \(esc(target.name)), kernel set \(esc(kernelSet))</text>\n"
        s += "<text x=\"\(width - right)\" y=\"34\" font-size=\"22\" font-weight=\"bold\" text-anchor=\"end\" fill=\"\(verdictColor)\">\(fits ? "FITS" : "DOES NOT FIT")</text>\n"
        s += "<text x=\"\(left)\" y=\"60\" font-size=\"14\" fill=\"#333\">\(esc(target.part)) · \(humanCount(target.clockHz.value))Hz · "
            + "\(grouped(counts.nominalMACs)) MACs per image · \(humanCount(totalCycles)) cycles · est. latency \(humanTime(latencySeconds))</text>\n"
        let ram = codeMeasured
            ? "RAM \(human(peakRAMBytes)) of \(human(ramLimit)) (arena \(human(arenaBytes)) + stack \(human(stackBytes)) + static \(human(staticRAMBytes)))"
            : "RAM: arena \(human(arenaBytes)) of \(human(ramLimit)) (stack, static: n/a for \(target.arch))"
        let flash = codeMeasured
            ? "flash \(human(flashUsedBytes)) of \(human(flashLimit)) (model \(human(modelBytes)) + code \(human(codeBytes)))"
            : "flash: model \(human(modelBytes)) of \(human(flashLimit)) (code: n/a for \(target.arch))"
        s += "<text x=\"\(left)\" y=\"82\" font-size=\"14\" fill=\"\(fitsRAM ? "#333" : "#c0392b")\">\(esc(ram))</text>\n"
        s += "<text x=\"\(width - right)\" y=\"82\" font-size=\"14\" text-anchor=\"end\" fill=\"\(fitsFlash ? "#333" : "#c0392b")\">\(esc(flash))</text>\n"

        // Memory panel.
        let peak = layers.map(\.liveBytes).max() ?? 0
        let memTicks = AxisTicks(maximum: Double(max(peak, 1)) * 1.05, bytes: true)
        let memMax = memTicks.top
        func my(_ v: Double) -> Double { memTop + memH - memH * v / memMax }
        s += "<text x=\"\(left)\" y=\"\(memTop - 8)\" font-size=\"14\" font-weight=\"bold\">Arena bytes in use during each op</text>\n"
        s += axis(top: memTop, height: memH, left: left, width: plotW, ticks: memTicks)
        var path = "M \(x(0)) \(my(0))"
        for (i, l) in layers.enumerated() {
            path += " L \(x(i)) \(my(Double(l.liveBytes))) L \(x(i) + step) \(my(Double(l.liveBytes)))"
        }
        path += " L \(x(n)) \(my(0)) Z"
        s += "<path d=\"\(path)\" fill=\"#aec7e8\" stroke=\"#1f77b4\" stroke-width=\"1\"/>\n"
        // Packed static weights (alive for the whole run) as a darker band at the bottom.
        let packed = counts.packedLiveBytes
        if packed.contains(where: { $0 > 0 }) {
            var band = "M \(x(0)) \(my(0))"
            for i in layers.indices { band += " L \(x(i)) \(my(Double(packed[i]))) L \(x(i) + step) \(my(Double(packed[i])))" }
            band += " L \(x(n)) \(my(0)) Z"
            s += "<path d=\"\(band)\" fill=\"#6b8fb5\" stroke=\"none\"/>\n"
        }
        let legendY = memTop + memH + 22
        s += "<rect x=\"\(left)\" y=\"\(legendY - 11)\" width=\"14\" height=\"14\" fill=\"#aec7e8\" stroke=\"#1f77b4\"/>\n"
        s += "<text x=\"\(left + 20)\" y=\"\(legendY)\" font-size=\"13\">activations, coefficients, fused kernels, scratch</text>\n"
        if packed.contains(where: { $0 > 0 }) {
            s += "<rect x=\"\(left + 360)\" y=\"\(legendY - 11)\" width=\"14\" height=\"14\" fill=\"#6b8fb5\"/>\n"
            s += "<text x=\"\(left + 380)\" y=\"\(legendY)\" font-size=\"13\">packed static weights (kept for the whole run): \(human(packed.max() ?? 0))</text>\n"
        }
        if let pi = layers.indices.max(by: { layers[$0].liveBytes < layers[$1].liveBytes }) {
            let px = x(pi) + step / 2, py = my(Double(layers[pi].liveBytes))
            s += "<line x1=\"\(px)\" y1=\"\(py)\" x2=\"\(px)\" y2=\"\(memTop + memH)\" stroke=\"#c0392b\" stroke-dasharray=\"4 3\"/>\n"
            s += "<circle cx=\"\(px)\" cy=\"\(py)\" r=\"5\" fill=\"#c0392b\"/>\n"
            let anchor = px > left + plotW * 0.7 ? "end" : "start"
            let dx = anchor == "end" ? -8.0 : 8.0
            s += "<text x=\"\(px + dx)\" y=\"\(py - 8)\" font-size=\"13\" fill=\"#c0392b\" text-anchor=\"\(anchor)\">peak \(human(layers[pi].liveBytes)) at \(esc(layers[pi].counts.name))</text>\n"
        }
        if Double(ramLimit) <= memMax {
            let ly = my(Double(ramLimit))
            s += "<line x1=\"\(left)\" y1=\"\(ly)\" x2=\"\(left + plotW)\" y2=\"\(ly)\" stroke=\"#c0392b\" stroke-width=\"2\"/>\n"
            s += "<text x=\"\(left + plotW - 4)\" y=\"\(ly - 5)\" font-size=\"12\" text-anchor=\"end\" fill=\"#c0392b\">SRAM \(human(ramLimit))</text>\n"
        } else {
            s += "<text x=\"\(left + plotW - 4)\" y=\"\(memTop + 14)\" font-size=\"12\" text-anchor=\"end\" fill=\"#555\">SRAM \(human(ramLimit)) (above this scale)</text>\n"
        }

        // Cycles panel.
        let cycleTicks = AxisTicks(maximum: max((layers.map(\.cycles).max() ?? 1) * 1.05, 1), bytes: false)
        let maxCycles = cycleTicks.top
        func cy(_ v: Double) -> Double { cycTop + cycH - cycH * v / maxCycles }
        s += "<text x=\"\(left)\" y=\"\(cycTop - 8)\" font-size=\"14\" font-weight=\"bold\">Estimated cycles per op "
            + "(\(esc(latencyModel)))</text>\n"
        s += axis(top: cycTop, height: cycH, left: left, width: plotW, ticks: cycleTicks)
        let barW = max(step * 0.8, 0.5)
        for (i, l) in layers.enumerated() where l.cycles > 0 {
            let c = l.counts
            let fusionCycles = l.fusionCycles
            let top = cy(l.cycles), split = cy(l.cycles - fusionCycles)
            s += "<rect x=\"\(x(i) + (step - barW) / 2)\" y=\"\(split)\" width=\"\(barW)\" height=\"\(cycTop + cycH - split)\" fill=\"\(colors[c.kernelClass]!)\"><title>\(esc(c.name)): \(humanCount(l.cycles)) cycles</title></rect>\n"
            if fusionCycles > 0 {
                s += "<rect x=\"\(x(i) + (step - barW) / 2)\" y=\"\(top)\" width=\"\(barW)\" height=\"\(split - top)\" fill=\"\(fusionColor)\"/>\n"
            }
        }
        // Op names under the shared axis, rotated; every k-th op when the names would overlap (13 px per name).
        let every = max(1, Int((13 / step).rounded(.up)))
        for i in stride(from: 0, to: layers.count, by: every) {
            let tx = x(i) + step / 2 + 4, ty = cycTop + cycH + 8
            s += "<text x=\"\(tx)\" y=\"\(ty)\" font-size=\"10\" fill=\"#333\" text-anchor=\"end\" "
                + "transform=\"rotate(-60 \(tx) \(ty))\">\(esc(String(layers[i].counts.name.suffix(24))))</text>\n"
        }
        // Legend.
        var lx = left
        let ly = height - 22
        for (label, color) in [("k×k conv", colors[.conv3x3]!), ("depthwise", colors[.depthwise]!),
                               ("1×1 conv", colors[.conv1x1]!), ("linear / CPM", colors[.linear]!),
                               ("element-wise", colors[.elementwise]!), ("kernel fusion", fusionColor)] {
            s += "<rect x=\"\(lx)\" y=\"\(ly - 11)\" width=\"14\" height=\"14\" fill=\"\(color)\"/>\n"
            s += "<text x=\"\(lx + 20)\" y=\"\(ly)\" font-size=\"13\">\(label)</text>\n"
            lx += 150
        }
        s += "<text x=\"\(left + plotW / 2)\" y=\"\(height - 46)\" font-size=\"12\" text-anchor=\"middle\" fill=\"#555\">ops in execution order (\(layers.count)\(every > 1 ? ", every \(every)th named" : ""))</text>\n"
        s += "</svg>\n"
        return s
    }

    private func axis(top: Double, height: Double, left: Double, width: Double, ticks: AxisTicks) -> String {
        var s = "<line x1=\"\(left)\" y1=\"\(top + height)\" x2=\"\(left + width)\" y2=\"\(top + height)\" stroke=\"#333\"/>\n"
        s += "<line x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(top + height)\" stroke=\"#333\"/>\n"
        for k in 0...ticks.count {
            let v = ticks.step * Double(k)
            let y = top + height - height * v / ticks.top
            s += "<line x1=\"\(left)\" y1=\"\(y)\" x2=\"\(left + width)\" y2=\"\(y)\" stroke=\"#ddd\"/>\n"
            s += "<text x=\"\(left - 6)\" y=\"\(y + 4)\" font-size=\"11\" text-anchor=\"end\" fill=\"#555\">\(ticks.label(v))</text>\n"
        }
        return s
    }
}

/// Round axis ticks for values in `[0, maximum]`: a step of 1, 2 or 5 × a power of ten (of bytes, KiB or MiB for
/// byte axes), at most 6 steps, the top tick at or above `maximum`.
struct AxisTicks: Equatable {
    /// The tick spacing and the number of steps; `top = step · count`.
    var step: Double
    var count: Int
    /// Byte axes label in B / KiB / MiB; others with k / M / G.
    var unit: Double
    var unitName: String

    var top: Double { step * Double(count) }

    init(maximum: Double, bytes: Bool) {
        let m = Swift.max(maximum, 1)
        // Bytes: the unit from the maximum, then a round step in that unit. Counts: a round step, then the
        // largest unit not above it (a 1,000,000 step reads "1 M").
        let byteUnit: (Double, String) = m >= 4 * 1_048_576 ? (1_048_576, " MiB") : m >= 4 * 1024 ? (1024, " KiB") : (1, " B")
        let base = bytes ? byteUnit.0 : 1
        let raw = m / base / 5
        let magnitude = Foundation.pow(10, Foundation.log10(raw).rounded(.down))
        let normalized = raw / magnitude
        let nice = normalized <= 1 ? 1.0 : normalized <= 2 ? 2.0 : normalized <= 5 ? 5.0 : 10.0
        step = Swift.max(nice * magnitude, bytes ? 0 : 1) * base
        count = Swift.max(1, Int((m / step).rounded(.up)))
        if bytes {
            (unit, unitName) = byteUnit
        } else {
            (unit, unitName) = step >= 1e9 ? (1e9, " G") : step >= 1e6 ? (1e6, " M") : step >= 1e3 ? (1e3, " k") : (1, "")
        }
    }

    /// `v` in the axis unit, without needless decimals: "0", "5 KiB", "250 k", "0.5 M".
    func label(_ v: Double) -> String {
        if v == 0 { return "0" }
        let x = v / unit
        let text = x == x.rounded() ? String(Int(x)) : String(format: "%g", x)
        return text + unitName
    }
}
