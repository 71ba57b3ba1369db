import DynQGraph

/// The paper's model zoo: the four static ImageNet baselines of DyNet (Zhang et al., "DyNet: Dynamic Convolution
/// for Accelerating Convolutional Neural Networks", 2020) and their dynamic versions, as DynQ graphs with random,
/// seeded He-initialised weights. The architectures and every width choice the paper leaves open are documented
/// in docs/zoo.md; the MAC counts are pinned by Tests/DynQSimTests/ZooTests.swift.
public enum ZooModel: String, CaseIterable, Sendable {
    case mobilenetV2 = "mobilenetv2"
    case shufflenetV2 = "shufflenetv2"
    case resnet18 = "resnet18"
    case resnet50 = "resnet50"
    case dyMobile = "dy-mobile"
    case dyShuffle = "dy-shuffle"
    case dyResnet18 = "dy-resnet18"
    case dyResnet50 = "dy-resnet50"

    public var isDynamic: Bool {
        switch self {
        case .mobilenetV2, .shufflenetV2, .resnet18, .resnet50: return false
        case .dyMobile, .dyShuffle, .dyResnet18, .dyResnet50: return true
        }
    }

    /// The static baseline a dynamic model is derived from (itself for a static model).
    public var baseline: ZooModel {
        switch self {
        case .dyMobile: return .mobilenetV2
        case .dyShuffle: return .shufflenetV2
        case .dyResnet18: return .resnet18
        case .dyResnet50: return .resnet50
        default: return self
        }
    }

    /// The paper's name for the model.
    public var paperName: String {
        switch self {
        case .mobilenetV2: return "MobileNetV2 1.0"
        case .shufflenetV2: return "ShuffleNetV2 1.0"
        case .resnet18: return "ResNet18"
        case .resnet50: return "ResNet50"
        case .dyMobile: return "Dy-mobile"
        case .dyShuffle: return "Dy-shuffle"
        case .dyResnet18: return "Dy-ResNet18"
        case .dyResnet50: return "Dy-ResNet50"
        }
    }

    /// Multiply-adds at 224×224 in the paper's FLOPs table (ICLR version), in millions.
    public var paperMMACs: Double {
        switch self {
        case .mobilenetV2: return 300
        case .shufflenetV2: return 146
        case .resnet18: return 1820
        case .resnet50: return 4100
        case .dyMobile: return 129
        case .dyShuffle: return 88
        case .dyResnet18: return 550
        case .dyResnet50: return 1075
        }
    }

    /// The FLOPs reduction the paper's abstract states for the dynamic model (ICLR version), in percent.
    public var paperReductionPercent: Double? {
        switch self {
        case .dyShuffle: return 40.0
        case .dyMobile: return 56.7
        case .dyResnet18: return 68.2
        case .dyResnet50: return 72.4
        default: return nil
        }
    }

    /// Builds the graph and the weight specs.
    ///
    /// - Parameters:
    ///   - resolution: input height = width (224 in the paper; smaller values give the same architecture on
    ///     a smaller image, useful for tests and for microcontrollers).
    ///   - classes: classifier outputs (1000 for ImageNet).
    ///   - kernels: `g`, the number of fixed kernels per dynamic conv (6 in the paper).
    public func build(resolution: Int = 224, classes: Int = 1000, kernels g: Int = 6) -> ZooNetwork {
        precondition(resolution >= 32 && classes >= 1 && g >= 1, "ZooModel.build: resolution ≥ 32, classes ≥ 1, g ≥ 1")
        var b = ZooBuilder(channels: 3, height: resolution, width: resolution)
        let out: String
        switch self {
        case .mobilenetV2: out = Self.mobilenetV2(&b, classes: classes)
        case .dyMobile: out = Self.dyMobile(&b, classes: classes, g: g)
        case .shufflenetV2: out = Self.shufflenetV2(&b, classes: classes, dynamicG: nil)
        case .dyShuffle: out = Self.shufflenetV2(&b, classes: classes, dynamicG: g)
        case .resnet18: out = Self.resnet(&b, bottleneck: false, blocks: [2, 2, 2, 2], classes: classes, dynamicG: nil)
        case .resnet50: out = Self.resnet(&b, bottleneck: true, blocks: [3, 4, 6, 3], classes: classes, dynamicG: nil)
        case .dyResnet18: out = Self.resnet(&b, bottleneck: false, blocks: [2, 2, 2, 2], classes: classes, dynamicG: g)
        case .dyResnet50: out = Self.resnet(&b, bottleneck: true, blocks: [3, 4, 6, 3], classes: classes, dynamicG: g)
        }
        let graph = b.graph(name: rawValue, output: out, preprocess: Self.imagenetPreprocess)
        return ZooNetwork(model: self, graph: graph, weights: b.weights)
    }

    /// torchvision's ImageNet normalisation.
    public static let imagenetPreprocess = Preprocess(scale: 1 / 255, mean: [0.485, 0.456, 0.406],
                                                      std: [0.229, 0.224, 0.225])

    /// Gamma range of the last batchnorm of a residual branch (keeps the sum over many blocks in range).
    static let residualGamma: ClosedRange<Float> = 0.1...0.3

    // MARK: - MobileNetV2

    /// `(t, c, n, s)`: expansion, output channels, repeats, first stride (Sandler et al., Table 2).
    static let mobilenetV2Config = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                                    (6, 160, 3, 2), (6, 320, 1, 1)]

    static func mobilenetV2(_ b: inout ZooBuilder, classes: Int) -> String {
        var x = b.conv("features.0.conv", b.inputName, out: 32, k: 3, stride: 2)
        x = b.relu6("features.0.relu", b.batchnorm("features.0.bn", x))
        var index = 1
        for (t, c, n, s) in mobilenetV2Config {
            for i in 0..<n {
                let p = "features.\(index)"
                let input = x
                let cin = b.channels(input)
                let hidden = cin * t
                var y = input
                if t != 1 {
                    y = b.conv("\(p).expand", y, out: hidden, k: 1)
                    y = b.relu6("\(p).expand.relu", b.batchnorm("\(p).expand.bn", y))
                }
                y = b.conv("\(p).dw", y, out: hidden, k: 3, stride: i == 0 ? s : 1, groups: hidden)
                y = b.relu6("\(p).dw.relu", b.batchnorm("\(p).dw.bn", y))
                y = b.conv("\(p).project", y, out: c, k: 1)
                let residual = (i > 0 || s == 1) && cin == c
                y = b.batchnorm("\(p).project.bn", y, gamma: residual ? residualGamma : 0.8...1.2)
                x = residual ? b.addTensors("\(p).add", input, y) : y
                index += 1
            }
        }
        x = b.conv("features.\(index).conv", x, out: 1280, k: 1)
        x = b.relu6("features.\(index).relu", b.batchnorm("features.\(index).bn", x))
        return b.classifier(x, classes: classes, output: "logits")
    }

    /// Dy-mobile's stage widths: MobileNetV2's `c` rounded up to a multiple of 6, so that the 3×3 grouped conv
    /// with 6 channels per group (`groups = C_out/6`) exists (16→18, 32→36, 64→66, 160→162, 320→324).
    static func dyMobileWidth(_ c: Int) -> Int { (c + 5) / 6 * 6 }

    /// Dy-mobile: no channel expansion; each block is three dynamic convs with `C_out` output channels
    /// (1×1, 3×3 grouped with `groups = C_out/6` carrying the stride, 1×1), each followed by batchnorm (ReLU6 after
    /// the first two), one CPM per block reading the block input. Stem, last 1×1 conv and classifier stay static.
    static func dyMobile(_ b: inout ZooBuilder, classes: Int, g: Int) -> String {
        var x = b.conv("features.0.conv", b.inputName, out: 32, k: 3, stride: 2)
        x = b.relu6("features.0.relu", b.batchnorm("features.0.bn", x))
        var index = 1
        for (_, c0, n, s) in mobilenetV2Config {
            let c = dyMobileWidth(c0)
            for i in 0..<n {
                let p = "features.\(index)"
                let input = x
                let cin = b.channels(input)
                let coeffs = b.cpm("\(p).cpm", input, hidden: max(1, cin / 4), n: 3 * c * g)
                var y = b.dynamicConv("\(p).conv1", input, coeffs: coeffs, offset: 0, out: c, k: 1, g: g)
                y = b.relu6("\(p).conv1.relu", b.batchnorm("\(p).conv1.bn", y))
                y = b.dynamicConv("\(p).conv2", y, coeffs: coeffs, offset: c * g, out: c, k: 3,
                                  stride: i == 0 ? s : 1, groups: c / 6, g: g)
                y = b.relu6("\(p).conv2.relu", b.batchnorm("\(p).conv2.bn", y))
                y = b.dynamicConv("\(p).conv3", y, coeffs: coeffs, offset: 2 * c * g, out: c, k: 1, g: g)
                let residual = (i > 0 || s == 1) && cin == c
                y = b.batchnorm("\(p).conv3.bn", y, gamma: residual ? residualGamma : 0.8...1.2)
                x = residual ? b.addTensors("\(p).add", input, y) : y
                index += 1
            }
        }
        x = b.conv("features.\(index).conv", x, out: 1280, k: 1)
        x = b.relu6("features.\(index).relu", b.batchnorm("features.\(index).bn", x))
        return b.classifier(x, classes: classes, output: "logits")
    }

    // MARK: - ShuffleNetV2

    /// The three convs of a ShuffleNetV2 right branch (1×1, BN, ReLU; depthwise 3×3, BN; 1×1, BN, ReLU), static
    /// or dynamic (then reading `coeffs` from `offset`).
    static func shuffleBranch(_ b: inout ZooBuilder, _ p: String, _ x: String, width: Int, stride: Int,
                              coeffs: String?, g: Int) -> String {
        func conv(_ b: inout ZooBuilder, _ name: String, _ x: String, k: Int, stride: Int, groups: Int,
                  slot: Int) -> String {
            if let coeffs {
                return b.dynamicConv(name, x, coeffs: coeffs, offset: slot * width * g, out: width, k: k,
                                     stride: stride, groups: groups, g: g)
            }
            return b.conv(name, x, out: width, k: k, stride: stride, groups: groups)
        }
        var y = conv(&b, "\(p).conv1", x, k: 1, stride: 1, groups: 1, slot: 0)
        y = b.relu("\(p).conv1.relu", b.batchnorm("\(p).conv1.bn", y))
        y = conv(&b, "\(p).dw", y, k: 3, stride: stride, groups: width, slot: 1)
        y = b.batchnorm("\(p).dw.bn", y)
        y = conv(&b, "\(p).conv2", y, k: 1, stride: 1, groups: 1, slot: 2)
        return b.relu("\(p).conv2.relu", b.batchnorm("\(p).conv2.bn", y))
    }

    /// ShuffleNetV2 1.0 (stages 116/232/464, repeats 4/8/4) and, with `dynamicG`, Dy-shuffle: the right branch
    /// of every unit is dynamic (one CPM per unit reading the unit input), and basic units split the channels
    /// 3:1 (the identity keeps ¾, the dynamic branch gets ¼). Downsampling units keep ShuffleNetV2's 1:1 output
    /// split; their left branch stays static.
    static func shufflenetV2(_ b: inout ZooBuilder, classes: Int, dynamicG: Int?) -> String {
        let g = dynamicG ?? 1
        var x = b.conv("conv1", b.inputName, out: 24, k: 3, stride: 2)
        x = b.relu("conv1.relu", b.batchnorm("conv1.bn", x))
        x = b.maxpool("maxpool", x, k: 3, stride: 2, pad: 1)
        for (stage, (out, repeats)) in [(116, 4), (232, 8), (464, 4)].enumerated() {
            for i in 0..<repeats {
                let p = "stage\(stage + 2).\(i)"
                let input = x
                let cin = b.channels(input)
                if i == 0 {
                    let width = out / 2
                    var left = b.conv("\(p).branch1.dw", input, out: cin, k: 3, stride: 2, groups: cin)
                    left = b.batchnorm("\(p).branch1.dw.bn", left)
                    left = b.conv("\(p).branch1.conv", left, out: out - width, k: 1)
                    left = b.relu("\(p).branch1.relu", b.batchnorm("\(p).branch1.bn", left))
                    let coeffs = dynamicG.map { _ in b.cpm("\(p).cpm", input, hidden: max(1, cin / 4), n: 3 * width * g) }
                    let right = shuffleBranch(&b, "\(p).branch2", input, width: width, stride: 2, coeffs: coeffs, g: g)
                    x = b.channelShuffle("\(p).shuffle", b.concat("\(p).concat", [left, right]), groups: 2)
                } else {
                    let width = dynamicG == nil ? cin / 2 : cin / 4
                    let parts = b.channelSplit("\(p).split", input, sizes: [cin - width, width])
                    let coeffs = dynamicG.map { _ in b.cpm("\(p).cpm", input, hidden: max(1, cin / 4), n: 3 * width * g) }
                    let right = shuffleBranch(&b, "\(p).branch2", parts[1], width: width, stride: 1, coeffs: coeffs, g: g)
                    x = b.channelShuffle("\(p).shuffle", b.concat("\(p).concat", [parts[0], right]), groups: 2)
                }
            }
        }
        x = b.conv("conv5", x, out: 1024, k: 1)
        x = b.relu("conv5.relu", b.batchnorm("conv5.bn", x))
        return b.classifier(x, classes: classes, output: "fc")
    }

    // MARK: - ResNet

    /// ResNet18/50 (torchvision, stride on the 3×3 of a bottleneck) and, with `dynamicG`, Dy-ResNet18/50: every
    /// conv inside a block is dynamic with half the original output channels (so the blocks run at half width),
    /// one two-layer CPM per block (`C_in → C_in/4 → coefficients`) reading the block input. The 7×7 stem (64
    /// channels), the 1×1 projection shortcuts and the classifier stay static; because the stem keeps 64 channels,
    /// Dy-ResNet18's first block needs a projection shortcut 64 → 32.
    static func resnet(_ b: inout ZooBuilder, bottleneck: Bool, blocks: [Int], classes: Int,
                       dynamicG: Int?) -> String {
        let g = dynamicG ?? 1
        let divisor = dynamicG == nil ? 1 : 2
        let expansion = bottleneck ? 4 : 1
        var x = b.conv("conv1", b.inputName, out: 64, k: 7, stride: 2)
        x = b.relu("relu", b.batchnorm("bn1", x))
        x = b.maxpool("maxpool", x, k: 3, stride: 2, pad: 1)
        for (layer, (planes, repeats)) in zip([64, 128, 256, 512], blocks).enumerated() {
            let width = planes / divisor
            let out = width * expansion
            for i in 0..<repeats {
                let p = "layer\(layer + 1).\(i)"
                let input = x
                let cin = b.channels(input)
                let stride = i == 0 && layer > 0 ? 2 : 1
                // (name, output channels, kernel, stride) of the block's convs, in order.
                let convs: [(String, Int, Int, Int)] = bottleneck
                    ? [("conv1", width, 1, 1), ("conv2", width, 3, stride), ("conv3", out, 1, 1)]
                    : [("conv1", width, 3, stride), ("conv2", out, 3, 1)]
                let coeffs = dynamicG.map { _ in
                    b.cpm("\(p).cpm", input, hidden: max(1, cin / 4), n: convs.reduce(0) { $0 + $1.1 } * g)
                }
                var y = input
                var offset = 0
                for (k, (name, o, kernel, s)) in convs.enumerated() {
                    if let coeffs {
                        y = b.dynamicConv("\(p).\(name)", y, coeffs: coeffs, offset: offset, out: o, k: kernel,
                                          stride: s, g: g)
                        offset += o * g
                    } else {
                        y = b.conv("\(p).\(name)", y, out: o, k: kernel, stride: s)
                    }
                    let last = k == convs.count - 1
                    y = b.batchnorm("\(p).bn\(k + 1)", y, gamma: last ? residualGamma : 0.8...1.2)
                    if !last { y = b.relu("\(p).relu\(k + 1)", y) }
                }
                var shortcut = input
                if stride != 1 || cin != out {
                    shortcut = b.conv("\(p).downsample.0", input, out: out, k: 1, stride: stride)
                    shortcut = b.batchnorm("\(p).downsample.1", shortcut)
                }
                x = b.relu("\(p).relu", b.addTensors("\(p).add", shortcut, y))
            }
        }
        return b.classifier(x, classes: classes, output: "fc")
    }
}

/// A zoo model's graph and the specs of its weights (values made by `materializeWeights(seed:)`).
public struct ZooNetwork: Sendable {
    public var model: ZooModel
    public var graph: Graph
    /// In creation order (the order the safetensors file lists them in).
    public var weights: [WeightSpec]

    /// Total number of weight elements (parameters, batchnorm statistics included).
    public var parameterCount: Int { weights.reduce(0) { $0 + $1.count } }

    /// Trainable parameters (batchnorm running statistics excluded), the number papers and torchvision quote.
    public var trainableParameterCount: Int {
        weights.filter { !$0.name.hasSuffix(".running_mean") && !$0.name.hasSuffix(".running_var") }
            .reduce(0) { $0 + $1.count }
    }
}
