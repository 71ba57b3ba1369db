import DynQCore
import DynQGraph
import Foundation
@testable import DynQQuantizer

/// Writes `md` to bytes, loads it with the runtime and runs it on raw CHW uint8 images; returns each image's
/// outputs dequantized (`scale · (q − z)`), and the model read back from the bytes.
final class Int8Runner {
    let bytes: UnsafeMutableRawBufferPointer
    let arena: UnsafeMutableRawBufferPointer
    var interpreter: Interpreter<SIMD128Kernels>
    let readBack: ModelDescription

    init(_ md: ModelDescription) throws {
        let file = try md.serialized()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: file.count, alignment: 16)
        file.withUnsafeBytes { buffer.copyMemory(from: $0) }
        bytes = buffer
        let model = try Model(bytes: UnsafeRawBufferPointer(buffer))
        readBack = ModelDescription(model)
        let need = ArenaPlan(model: model, kernels: SIMD128Kernels.self).arenaBytes
        arena = UnsafeMutableRawBufferPointer.allocate(byteCount: max(need, 16), alignment: 16)
        interpreter = try Interpreter(model: model, arena: arena)
    }

    deinit { bytes.deallocate(); arena.deallocate() }

    /// `pixels` is one CHW image.
    func run(_ pixels: [UInt8], channels c: Int) throws -> [[Double]] {
        let hw = pixels.count / c
        var hwc = [UInt8](repeating: 0, count: pixels.count)
        for ch in 0..<c { for i in 0..<hw { hwc[i * c + ch] = pixels[ch * hw + i] } }
        try interpreter.setInput(hwc)
        interpreter.invoke()
        let m = interpreter.model
        return (0..<m.outputCount).map { k in
            let t = m.tensor(m.output(k).index)
            let s = Double(Float(bitPattern: t.scaleBits))
            let nhwc: [Double]
            if t.type == .int16 {
                let raw = interpreter.tensorBytes(m.output(k)).assumingMemoryBound(to: Int16.self)
                nhwc = raw.map { s * Double(Int($0) - t.zeroPoint) }
            } else {
                nhwc = interpreter.output(k).map { s * Double(Int($0) - t.zeroPoint) }
            }
            // NHWC → NCHW for comparison with the float engine.
            guard t.shape.rank == 4 else { return nhwc }
            let (h, w, cc) = (t.shape[1], t.shape[2], t.shape[3])
            var out = nhwc
            for y in 0..<h { for x in 0..<w { for ch in 0..<cc { out[(ch * h + y) * w + x] = nhwc[(y * w + x) * cc + ch] } } }
            return out
        }
    }
}
