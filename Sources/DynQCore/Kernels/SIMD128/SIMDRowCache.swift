/// The int16 input-row cache of the SIMD depthwise and grouped conv kernels: a ring of `rows` converted input rows
/// of `rowElements` int16 values each, plus one zero row that stands for every row outside the image. Input row
/// `iy` lives in slot `iy mod rows`; a slot is converted on first use (its tag records which row it holds). Lives
/// in the kernel's scratch: `tags` (`rows` Ints) and `storage` (`(rows + 1) · rowElements` Int16).
struct SIMDRowCache {
    let storage: UnsafeMutablePointer<Int16>
    let tags: UnsafeMutablePointer<Int>
    let rows: Int
    let rowElements: Int
    /// Input rows `0 ..< height` are inside the image.
    let height: Int

    /// Zeroes every slot and the zero row (the padding columns stay zero) and marks every slot empty.
    init(storage: UnsafeMutablePointer<Int16>, tags: UnsafeMutablePointer<Int>, rows: Int, rowElements: Int,
         height: Int) {
        self.storage = storage; self.tags = tags; self.rows = rows; self.rowElements = rowElements
        self.height = height
        storage.update(repeating: 0, count: (rows + 1) * rowElements)
        for r in 0..<rows { tags[r] = -1 }
    }

    /// The row that reads as zeros.
    var zeroRow: UnsafeMutablePointer<Int16> { storage + rows * rowElements }

    /// Input row `iy` converted by `convert(iy, slot)` when the slot does not hold it yet; the zero row when `iy` is
    /// outside the image.
    @inline(__always)
    func row(_ iy: Int, convert: (Int, UnsafeMutablePointer<Int16>) -> Void) -> UnsafeMutablePointer<Int16> {
        if iy < 0 || iy >= height { return zeroRow }
        let slot = iy % rows
        let dst = storage + slot * rowElements
        if tags[slot] != iy {
            tags[slot] = iy
            convert(iy, dst)
        }
        return dst
    }

    /// Fills `taps` with the offsets (int16 elements from `storage`) of the `kh·kw` taps of depthwise output row
    /// `oy`'s first pixel: tap `ky·kw + kx` reads input row `oy·strideY − padTop + ky·dilationY` (the zero row outside
    /// the image) at padded column `kx·dilationX`, `pixelElements` int16 per column. Rows the cache does not hold yet
    /// are converted by `convert` (as in `row`). Returns the tap count `kh·kw`.
    @inline(__always)
    func fillTaps(_ p: DepthwiseConv2DParams, outputRow oy: Int, pixelElements: Int,
                  into taps: UnsafeMutablePointer<Int>,
                  convert: (Int, UnsafeMutablePointer<Int16>) -> Void) -> Int {
        var t = 0
        for ky in 0..<p.kernelHeight {
            let base = row(oy * p.strideY - p.padding.top + ky * p.dilationY, convert: convert)
            for kx in 0..<p.kernelWidth {
                taps[t] = (base - storage) + kx * p.dilationX * pixelElements
                t += 1
            }
        }
        return t
    }
}
