import DynQCore
import Testing
@testable import DynQGraph

/// Every non-convolution op on hand-checked numbers.
@Suite struct ElementwiseAndShapeOpTests {
    let v = T([1, 7], [-4, -3, -1, 0, 1, 3, 7])

    @Test func relu() throws { expectClose(try runOp(.relu, v), [1, 7], [0, 0, 0, 0, 1, 3, 7]) }
    @Test func relu6() throws { expectClose(try runOp(.relu6, v), [1, 7], [0, 0, 0, 0, 1, 3, 6]) }

    @Test func hardsigmoid() throws {
        // relu6(x + 3) / 6 for x + 3 = −1, 0, 2, 3, 4, 6, 10.
        expectClose(try runOp(.hardsigmoid, v), [1, 7], [0, 0, 1.0 / 3, 0.5, 2.0 / 3, 1, 1])
    }

    @Test func hardswish() throws {
        // x · hardsigmoid(x).
        expectClose(try runOp(.hardswish, v), [1, 7], [0, 0, -1.0 / 3, 0, 2.0 / 3, 3, 7])
    }

    @Test func batchnormUsesRunningStatisticsAndEps() throws {
        // Channel 0: (x − 1) / √(3 + 1) · 2 + 0 = x − 1.  Channel 1: (x − 2) / √(0 + 1) · 1 + 1 = x − 1.
        let y = try runOp(.batchnorm(BatchnormAttrs(weight: "g", bias: "b", runningMean: "m", runningVar: "v", eps: 1)),
                          T([1, 2, 1, 2], [1, 3, 2, 4]),
                          weights: ["g": T([2], [2, 1]), "b": T([2], [0, 1]), "m": T([2], [1, 2]), "v": T([2], [3, 0])])
        expectClose(y, [1, 2, 1, 2], [0, 2, 1, 3])
    }

    @Test func addConcatFlatten() throws {
        let g = makeGraph([1, 1, 1, 2], [
            Node(name: "sum", op: .add, inputs: ["x", "x"], outputs: ["s"]),             // [2, 4]
            Node(name: "cat", op: .concat, inputs: ["x", "s"], outputs: ["c"]),          // channels [1 2], [2 4]
            Node(name: "flat", op: .flatten, inputs: ["c"], outputs: ["f"]),
        ])
        let y = try FloatEngine(graph: g, weights: [:]).run(T([1, 1, 1, 2], [1, 2]))[0]
        expectClose(y, [1, 4], [1, 2, 2, 4])
    }

    @Test func channelShuffle() throws {
        // Channels 0…5, groups 2: view(2, 3) = [[0 1 2] [3 4 5]] → transpose → 0 3 1 4 2 5.
        let x = T([1, 6, 1, 1], iota(6, from: 0))
        expectClose(try runOp(.channelShuffle(groups: 2), x), [1, 6, 1, 1], [0, 3, 1, 4, 2, 5])
        // groups 3: [[0 1] [2 3] [4 5]] → 0 2 4 1 3 5.
        expectClose(try runOp(.channelShuffle(groups: 3), x), [1, 6, 1, 1], [0, 2, 4, 1, 3, 5])
    }

    @Test func channelShuffleMovesWholePlanes() throws {
        // Two channels of 2 pixels each, groups 2 with one channel per group: unchanged order 0, 1 → 0, 1.
        // Four channels (a, b, c, d) of 2 pixels, groups 2: a c b d.
        let x = T([1, 4, 1, 2], [1, 1, 2, 2, 3, 3, 4, 4])
        expectClose(try runOp(.channelShuffle(groups: 2), x), [1, 4, 1, 2], [1, 1, 3, 3, 2, 2, 4, 4])
    }

    @Test func channelSplit() throws {
        let g = makeGraph([1, 3, 1, 2], [
            Node(name: "split", op: .channelSplit(sizes: [1, 2]), inputs: ["x"], outputs: ["a", "b"]),
        ], outputs: ["a", "b"])
        let ys = try FloatEngine(graph: g, weights: [:]).run(T([1, 3, 1, 2], iota(6)))
        expectClose(ys[0], [1, 1, 1, 2], [1, 2])
        expectClose(ys[1], [1, 2, 1, 2], [3, 4, 5, 6])
    }

    @Test func globalAvgpool() throws {
        let y = try runOp(.globalAvgpool, T([1, 2, 2, 2], [1, 2, 3, 4, 0, 0, 0, 8]))
        expectClose(y, [1, 2, 1, 1], [2.5, 2])
    }

    @Test func linear() throws {
        // W = [[1 1] [2 −1] [0 3]], b = [0 1 −1], x = [1 2]: 3, 0 + 1, 6 − 1.
        let y = try runOp(.linear(LinearAttrs(weight: "w", bias: "b")), T([1, 2], [1, 2]),
                          weights: ["w": T([3, 2], [1, 1, 2, -1, 0, 3]), "b": T([3], [0, 1, -1])])
        expectClose(y, [1, 3], [3, 1, 5])
    }

    @Test func softmaxWithTemperature() throws {
        // softmax([0, 2·ln 3] / 2) = [1, 3] / 4.
        expectClose(try runOp(.softmax(temperature: 2), T([1, 2], [0, 2 * ln3])), [1, 2], [0.25, 0.75])
    }
}

@Suite struct PoolingTests {
    @Test func maxpoolFloorMode() throws {
        // 5×5 input 1…25, kernel 2, stride 2: the last row and column are dropped.
        // Windows: max(1,2,6,7)=7, max(3,4,8,9)=9, max(11,12,16,17)=17, 19.
        let y = try runOp(.maxpool(PoolAttrs(kernel: Pair(2, 2))), T([1, 1, 5, 5], iota(25)))
        expectClose(y, [1, 1, 2, 2], [7, 9, 17, 19])
    }

    @Test func maxpoolPaddingNeverWins() throws {
        // All values negative: zero padding must not win. 2×2 input [−1 −2; −3 −4], kernel 2, stride 1,
        // padding 1: each 3×3 output is the max of the real pixels in its window.
        let y = try runOp(.maxpool(PoolAttrs(kernel: Pair(2, 2), stride: .one, padding: Padding(all: 1))),
                          T([1, 1, 2, 2], [-1, -2, -3, -4]))
        expectClose(y, [1, 1, 3, 3], [-1, -1, -2, -1, -1, -2, -3, -3, -4])
    }

    @Test func avgpoolCountIncludePad() throws {
        // [1 2; 3 4], kernel 2, stride 1, padding 1: window sums 1 3 2 / 4 10 6 / 3 7 4, divided by 4.
        let y = try runOp(.avgpool(PoolAttrs(kernel: Pair(2, 2), stride: .one, padding: Padding(all: 1))),
                          T([1, 1, 2, 2], [1, 2, 3, 4]))
        expectClose(y, [1, 1, 3, 3], [0.25, 0.75, 0.5, 1, 2.5, 1.5, 0.75, 1.75, 1])
    }

    @Test func avgpoolExcludingPad() throws {
        // Same sums divided by the number of real pixels: 1 2 1 / 2 4 2 / 1 2 1.
        let y = try runOp(.avgpool(PoolAttrs(kernel: Pair(2, 2), stride: .one, padding: Padding(all: 1),
                                             countIncludePad: false)),
                          T([1, 1, 2, 2], [1, 2, 3, 4]))
        expectClose(y, [1, 1, 3, 3], [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4])
    }

    @Test func avgpoolAsymmetricPaddingAndRectangularKernel() throws {
        // 1×3 input [1 2 3], kernel [1, 2], stride [1, 2], padding right 1: windows [1 2] and [3 pad].
        let p = PoolAttrs(kernel: Pair(1, 2), stride: Pair(1, 2), padding: Padding(top: 0, left: 0, bottom: 0, right: 1))
        expectClose(try runOp(.avgpool(p), T([1, 1, 1, 3], [1, 2, 3])), [1, 1, 1, 2], [1.5, 1.5])
        var q = p
        q.countIncludePad = false
        expectClose(try runOp(.avgpool(q), T([1, 1, 1, 3], [1, 2, 3])), [1, 1, 1, 2], [1.5, 3])
    }
}
