import DynQCore
import Testing
@testable import DynQGraph

/// conv2d against cases small enough to check by hand (the comments show the arithmetic).
@Suite struct Conv2DTests {
    /// 3×3 input 1…9 (row-major):
    ///     1 2 3
    ///     4 5 6
    ///     7 8 9
    let x = T([1, 1, 3, 3], iota(9))

    @Test func crossCorrelationNotConvolution() throws {
        // Kernel [[1, 0], [0, -1]]: y[i,j] = x[i,j] − x[i+1,j+1] = −4 everywhere (a flipped kernel would give +4).
        let y = try runOp(.conv2d(Conv2DAttrs(weight: "w", bias: "b")), x,
                          weights: ["w": T([1, 1, 2, 2], [1, 0, 0, -1]), "b": T([1], [0.5])])
        expectClose(y, [1, 1, 2, 2], [-3.5, -3.5, -3.5, -3.5])
    }

    @Test func asymmetricPaddingIsPerSide() throws {
        // padding [top 1, left 0, bottom 0, right 1], kernel of ones 2×2. Padded input:
        //     0 0 0 0
        //     1 2 3 0
        //     4 5 6 0
        //     7 8 9 0
        // 2×2 window sums: 0+0+1+2=3, 0+0+2+3=5, 0+0+3+0=3 / 12, 16, 9 / 24, 28, 15.
        let y = try runOp(.conv2d(Conv2DAttrs(weight: "w", padding: Padding(top: 1, left: 0, bottom: 0, right: 1))), x,
                          weights: ["w": T([1, 1, 2, 2], [1, 1, 1, 1])])
        expectClose(y, [1, 1, 3, 3], [3, 5, 3, 12, 16, 9, 24, 28, 15])
    }

    @Test func strideTwoWithAsymmetricPadding() throws {
        // Same padded input, stride 2: windows at rows {0, 2} × cols {0, 2}: 3, 3 / 24, 15.
        let y = try runOp(.conv2d(Conv2DAttrs(weight: "w", stride: Pair(2, 2),
                                              padding: Padding(top: 1, left: 0, bottom: 0, right: 1))), x,
                          weights: ["w": T([1, 1, 2, 2], [1, 1, 1, 1])])
        expectClose(y, [1, 1, 2, 2], [3, 3, 24, 15])
    }

    @Test func stridesMayDifferPerAxis() throws {
        // 1×1 kernel (weight 1), stride [2, 1]: rows 0 and 2 of x.
        let y = try runOp(.conv2d(Conv2DAttrs(weight: "w", stride: Pair(2, 1))), x,
                          weights: ["w": T([1, 1, 1, 1], [1])])
        expectClose(y, [1, 1, 2, 3], [1, 2, 3, 7, 8, 9])
    }

    @Test func dilation() throws {
        // Ones 2×2 with dilation 2 reads the four corners: 1 + 3 + 7 + 9 = 20.
        let y = try runOp(.conv2d(Conv2DAttrs(weight: "w", dilation: Pair(2, 2))), x,
                          weights: ["w": T([1, 1, 2, 2], [1, 1, 1, 1])])
        expectClose(y, [1, 1, 1, 1], [20])
    }

    @Test func inputChannelsAreSummed() throws {
        // Channel 0 = 1 2 / 3 4, channel 1 = 10 20 / 30 40, 1×1 kernel [1, −1]: 1−10, 2−20, 3−30, 4−40.
        let y = try runOp(.conv2d(Conv2DAttrs(weight: "w")), T([1, 2, 2, 2], [1, 2, 3, 4, 10, 20, 30, 40]),
                          weights: ["w": T([1, 2, 1, 1], [1, -1])])
        expectClose(y, [1, 1, 2, 2], [-9, -18, -27, -36])
    }

    @Test func groupsSplitChannels() throws {
        // Input channels [2, 3] (1×1 pixels), groups 2, four outputs with weights 1 2 3 4: outputs 0–1 read
        // channel 0, outputs 2–3 read channel 1: 1·2, 2·2, 3·3, 4·3.
        let y = try runOp(.conv2d(Conv2DAttrs(weight: "w", groups: 2)), T([1, 2, 1, 1], [2, 3]),
                          weights: ["w": T([4, 1, 1, 1], [1, 2, 3, 4])])
        expectClose(y, [1, 4, 1, 1], [2, 4, 9, 12])
    }

    @Test func depthwiseWithPadding() throws {
        // Channel 0: all ones, kernel all ones, padding 1 → corners 4, edges 6, centre 9.
        // Channel 1: all twos, kernel with only the centre tap 3 → 6 everywhere.
        let input = T([1, 2, 3, 3], [Float](repeating: 1, count: 9) + [Float](repeating: 2, count: 9))
        let w = T([2, 1, 3, 3], [Float](repeating: 1, count: 9) + [0, 0, 0, 0, 3, 0, 0, 0, 0])
        let y = try runOp(.conv2d(Conv2DAttrs(weight: "w", padding: Padding(all: 1), groups: 2)),
                          input, weights: ["w": w])
        expectClose(y, [1, 2, 3, 3], [4, 6, 4, 6, 9, 6, 4, 6, 4] + [Float](repeating: 6, count: 9))
    }
}
