// Parameter structs of the int8 kernels. Layouts and domains (docs/numerics.md):
//   activations  int8 NHWC, batch 1 (HWC, channels fastest), zero point in [-128, 127]
//   conv weights int8 OHWI [O][kh][kw][I/groups], in [-127, 127], zero point 0
//   depthwise    int8 [kh][kw][C] (channel multiplier 1)
//   linear       int8 [O][F]
//   bias         int32 at scale s_in · s_w[o]
//   multipliers  one QuantizedMultiplier per output channel

/// Conv and pool padding: the shared `Padding` (Geometry/Window.swift).
public typealias ConvPadding = Padding

/// A 2-D convolution: NHWC int8 input `[inputHeight][inputWidth][inputChannels]`, OHWI int8 weights
/// `[outputChannels][kernelHeight][kernelWidth][inputChannels / groups]`, optional int32 bias `[outputChannels]`,
/// one `QuantizedMultiplier` per output channel, NHWC int8 output `[outputHeight][outputWidth][outputChannels]`.
/// Grouped: output channel `o` reads input channels `(o / (O/groups)) · (I/groups) ..< +I/groups`.
///
/// Accumulator: `acc[o] = bias[o] + Σ (q_in − z_in) · q_w` over `K = kernelHeight·kernelWidth·I/groups` terms;
/// it cannot overflow int32 while `K · 255 · 127 + |bias| < 2^31` (`K ≤ 66 311` without bias), which the
/// quantizer checks per layer.
@frozen
public struct Conv2DParams: Equatable, Sendable {
    public var inputHeight: Int
    public var inputWidth: Int
    public var inputChannels: Int
    public var outputChannels: Int
    /// Kernel size, stride, dilation and padding: the shared `Window`.
    public var window: Window
    public var groups: Int
    /// `z_in`, in `[−128, 127]`.
    public var inputZeroPoint: Int32
    public var output: OutputQuantization

    @inlinable
    public init(inputHeight: Int, inputWidth: Int, inputChannels: Int, outputChannels: Int,
                kernelHeight: Int, kernelWidth: Int, strideY: Int = 1, strideX: Int = 1,
                padding: ConvPadding = .zero, dilationY: Int = 1, dilationX: Int = 1, groups: Int = 1,
                inputZeroPoint: Int32, output: OutputQuantization) {
        precondition(inputHeight > 0 && inputWidth > 0 && inputChannels > 0 && outputChannels > 0,
                     "Conv2DParams: empty tensor")
        precondition(kernelHeight > 0 && kernelWidth > 0 && strideY > 0 && strideX > 0 && dilationY > 0
                     && dilationX > 0, "Conv2DParams: kernel, stride and dilation must be positive")
        precondition(padding.top >= 0 && padding.left >= 0 && padding.bottom >= 0 && padding.right >= 0,
                     "Conv2DParams: negative padding")
        precondition(groups > 0 && inputChannels % groups == 0 && outputChannels % groups == 0,
                     "Conv2DParams: groups must divide input and output channels")
        precondition(inputZeroPoint >= -128 && inputZeroPoint <= 127, "Conv2DParams: input zero point")
        self.inputHeight = inputHeight; self.inputWidth = inputWidth; self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.window = Window(kernel: Pair(kernelHeight, kernelWidth), stride: Pair(strideY, strideX),
                             dilation: Pair(dilationY, dilationX), padding: padding)
        self.groups = groups
        self.inputZeroPoint = inputZeroPoint; self.output = output
    }

    @inlinable public var outputHeight: Int {
        windowOutputExtent(input: inputHeight, kernel: kernelHeight, stride: strideY, dilation: dilationY,
                           padBefore: padding.top, padAfter: padding.bottom)
    }
    @inlinable public var outputWidth: Int {
        windowOutputExtent(input: inputWidth, kernel: kernelWidth, stride: strideX, dilation: dilationX,
                           padBefore: padding.left, padAfter: padding.right)
    }
    /// Input channels seen by one output channel, `I / groups`.
    @inlinable public var groupInputChannels: Int { inputChannels / groups }
    /// Output channels per group, `O / groups`.
    @inlinable public var groupOutputChannels: Int { outputChannels / groups }
    /// Weights per output channel, `K = kh · kw · I/groups` (the fusion kernel's `K`).
    @inlinable public var weightsPerOutputChannel: Int { kernelHeight * kernelWidth * groupInputChannels }
    @inlinable public var weightCount: Int { outputChannels * weightsPerOutputChannel }
    @inlinable public var inputCount: Int { inputHeight * inputWidth * inputChannels }
    @inlinable public var outputCount: Int { outputHeight * outputWidth * outputChannels }
    /// Multiply-accumulates of one call.
    @inlinable public var macs: Int { outputHeight * outputWidth * outputChannels * weightsPerOutputChannel }
}

/// A depthwise convolution with channel multiplier 1: NHWC int8 input `[H][W][C]`, weights `[kh][kw][C]`
/// (the CMSIS-NN / TFLite `[1, kh, kw, C]` layout), int32 bias `[C]`, per-channel multipliers `[C]`.
/// Accumulator bound: `kh·kw · 255 · 127 + |bias| < 2^31`.
@frozen
public struct DepthwiseConv2DParams: Equatable, Sendable {
    public var inputHeight: Int
    public var inputWidth: Int
    public var channels: Int
    /// Kernel size, stride, dilation and padding: the shared `Window`.
    public var window: Window
    public var inputZeroPoint: Int32
    public var output: OutputQuantization

    @inlinable
    public init(inputHeight: Int, inputWidth: Int, channels: Int, kernelHeight: Int, kernelWidth: Int,
                strideY: Int = 1, strideX: Int = 1, padding: ConvPadding = .zero,
                dilationY: Int = 1, dilationX: Int = 1, inputZeroPoint: Int32, output: OutputQuantization) {
        precondition(inputHeight > 0 && inputWidth > 0 && channels > 0, "DepthwiseConv2DParams: empty tensor")
        precondition(kernelHeight > 0 && kernelWidth > 0 && strideY > 0 && strideX > 0 && dilationY > 0
                     && dilationX > 0, "DepthwiseConv2DParams: kernel, stride and dilation must be positive")
        precondition(padding.top >= 0 && padding.left >= 0 && padding.bottom >= 0 && padding.right >= 0,
                     "DepthwiseConv2DParams: negative padding")
        precondition(inputZeroPoint >= -128 && inputZeroPoint <= 127, "DepthwiseConv2DParams: input zero point")
        self.inputHeight = inputHeight; self.inputWidth = inputWidth; self.channels = channels
        self.window = Window(kernel: Pair(kernelHeight, kernelWidth), stride: Pair(strideY, strideX),
                             dilation: Pair(dilationY, dilationX), padding: padding)
        self.inputZeroPoint = inputZeroPoint; self.output = output
    }

    @inlinable public var outputHeight: Int {
        windowOutputExtent(input: inputHeight, kernel: kernelHeight, stride: strideY, dilation: dilationY,
                           padBefore: padding.top, padAfter: padding.bottom)
    }
    @inlinable public var outputWidth: Int {
        windowOutputExtent(input: inputWidth, kernel: kernelWidth, stride: strideX, dilation: dilationX,
                           padBefore: padding.left, padAfter: padding.right)
    }
    /// Taps per channel, `kh · kw` (the fusion kernel's `K` in the depthwise layout).
    @inlinable public var taps: Int { kernelHeight * kernelWidth }
    @inlinable public var weightCount: Int { taps * channels }
    @inlinable public var inputCount: Int { inputHeight * inputWidth * channels }
    @inlinable public var outputCount: Int { outputHeight * outputWidth * channels }
    @inlinable public var macs: Int { outputHeight * outputWidth * channels * taps }

    /// The same operation as a grouped `Conv2DParams` (`groups == C`), whose OHWI weights `[C][kh][kw][1]`
    /// are the transpose of the depthwise `[kh][kw][C]`.
    @inlinable public var asGroupedConv: Conv2DParams {
        Conv2DParams(inputHeight: inputHeight, inputWidth: inputWidth, inputChannels: channels,
                     outputChannels: channels, kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                     strideY: strideY, strideX: strideX, padding: padding, dilationY: dilationY,
                     dilationX: dilationX, groups: channels, inputZeroPoint: inputZeroPoint, output: output)
    }
}

/// A fully connected layer: int8 input `[F]`, weights `[O][F]`, int32 bias `[O]`, multipliers `[O]`,
/// int8 output `[O]`. Accumulator bound: `F · 255 · 127 + |bias| < 2^31`.
@frozen
public struct LinearParams: Equatable, Sendable {
    public var inputFeatures: Int
    public var outputFeatures: Int
    public var inputZeroPoint: Int32
    public var output: OutputQuantization

    @inlinable
    public init(inputFeatures: Int, outputFeatures: Int, inputZeroPoint: Int32, output: OutputQuantization) {
        precondition(inputFeatures > 0 && outputFeatures > 0, "LinearParams: empty")
        precondition(inputZeroPoint >= -128 && inputZeroPoint <= 127, "LinearParams: input zero point")
        self.inputFeatures = inputFeatures; self.outputFeatures = outputFeatures
        self.inputZeroPoint = inputZeroPoint; self.output = output
    }

    /// The same operation as a 1×1 convolution over a 1×1 image.
    @inlinable public var asConv: Conv2DParams {
        Conv2DParams(inputHeight: 1, inputWidth: 1, inputChannels: inputFeatures, outputChannels: outputFeatures,
                     kernelHeight: 1, kernelWidth: 1, inputZeroPoint: inputZeroPoint, output: output)
    }
    @inlinable public var macs: Int { inputFeatures * outputFeatures }
}

/// How a dynamic layer's Q15 coefficients are laid out (mirrors the graph's `coefficients` attribute).
public enum FusionCoefficientMode: Equatable, Sendable {
    /// DyNet: `η_q[O][g]`, each output channel mixes its own g kernels.
    case perChannel
    /// CondConv / DY-CNN: `η_q[g]`, shared by every output channel.
    case perLayer
}

/// Where the per-channel kernel elements sit in the weight layout that fusion reads and writes.
public enum FusionWeightLayout: Equatable, Sendable {
    /// `[O][K]`: conv OHWI (`K = kh·kw·I/groups`) and linear (`K = F`).
    case outputMajor
    /// `[K][O]`: depthwise `[kh][kw][C]` (`K = kh·kw`, `O = C`), channels fastest.
    case channelsLast
}

/// Per-sample dynamic kernel fusion (docs/numerics.md, "Dynamic convolution in fixed point").
///
/// Inputs: `g` fixed kernels `q_w[g][…]` in `layout` (each kernel `O·K` int8 in `[−127, 127]`), Q15
/// coefficients `η_q` (`[O][g]` or `[g]`, each in `[0, 32767]`), optional mixed bias `mb_q[g][O]` int32,
/// optional static bias `b_q[O]` int32, static multipliers `(m0, e0)[O]`.
/// Outputs: the fused int8 kernel (same layout, `O·K`), `bias_acc[O]` int32, per-sample multipliers `[O]`.
/// `|F| ≤ g · 32767 · 127 < 2^31` needs `g ≤ 516`.
@frozen
public struct DynamicFusionParams: Equatable, Sendable {
    /// `g`, the number of fixed kernels.
    public var kernelCount: Int
    /// `O`, output channels.
    public var outputChannels: Int
    /// `K`, kernel elements per output channel.
    public var elementsPerChannel: Int
    public var layout: FusionWeightLayout
    public var coefficients: FusionCoefficientMode
    /// `I_g`, the input channels one output channel reads (`K` for a linear layer, 1 for a depthwise one): kernel
    /// element `k` of channel `o` reads input channel `⌊o / O_g⌋·I_g + k mod I_g` (the fused DC correction's `i(o,k)`).
    public var groupInputChannels: Int
    /// `O_g`, the output channels of one group (`O` for a linear layer, 1 for a depthwise one).
    public var groupOutputChannels: Int

    /// `groupInputChannels` defaults to `K` and `groupOutputChannels` to `O` (one group reading `K` inputs, as a
    /// linear layer); the conv and depthwise initializers set them from the layer.
    @inlinable
    public init(kernelCount: Int, outputChannels: Int, elementsPerChannel: Int,
                layout: FusionWeightLayout = .outputMajor, coefficients: FusionCoefficientMode,
                groupInputChannels: Int? = nil, groupOutputChannels: Int? = nil) {
        precondition(kernelCount > 0 && kernelCount <= 516, "DynamicFusionParams: g must be in 1...516")
        precondition(outputChannels > 0 && elementsPerChannel > 0, "DynamicFusionParams: empty kernel")
        self.kernelCount = kernelCount; self.outputChannels = outputChannels
        self.elementsPerChannel = elementsPerChannel; self.layout = layout; self.coefficients = coefficients
        self.groupInputChannels = groupInputChannels ?? elementsPerChannel
        self.groupOutputChannels = groupOutputChannels ?? outputChannels
        precondition(self.groupInputChannels > 0 && elementsPerChannel % self.groupInputChannels == 0
                     && self.groupOutputChannels > 0 && outputChannels % self.groupOutputChannels == 0,
                     "DynamicFusionParams: group sizes must divide K and O")
    }

    /// Fusion for a conv layer (OHWI, `K = kh·kw·I/groups`).
    @inlinable
    public init(kernelCount: Int, conv: Conv2DParams, coefficients: FusionCoefficientMode) {
        self.init(kernelCount: kernelCount, outputChannels: conv.outputChannels,
                  elementsPerChannel: conv.weightsPerOutputChannel, layout: .outputMajor, coefficients: coefficients,
                  groupInputChannels: conv.groupInputChannels, groupOutputChannels: conv.groupOutputChannels)
    }
    /// Fusion for a depthwise layer (`[kh][kw][C]`, `K = kh·kw`).
    @inlinable
    public init(kernelCount: Int, depthwise: DepthwiseConv2DParams, coefficients: FusionCoefficientMode) {
        self.init(kernelCount: kernelCount, outputChannels: depthwise.channels,
                  elementsPerChannel: depthwise.taps, layout: .channelsLast, coefficients: coefficients,
                  groupInputChannels: 1, groupOutputChannels: 1)
    }
    /// Fusion for a linear layer (`[O][F]`).
    @inlinable
    public init(kernelCount: Int, linear: LinearParams, coefficients: FusionCoefficientMode) {
        self.init(kernelCount: kernelCount, outputChannels: linear.outputFeatures,
                  elementsPerChannel: linear.inputFeatures, layout: .outputMajor, coefficients: coefficients)
    }

    /// Elements of one kernel (and of the fused kernel), `O · K`.
    @inlinable public var kernelElements: Int { outputChannels * elementsPerChannel }
    /// Number of `η_q` values: `O·g` per channel, `g` per layer.
    @inlinable public var coefficientCount: Int {
        coefficients == .perChannel ? outputChannels * kernelCount : kernelCount
    }
    /// Multiply-adds of one fusion (`g · O · K`).
    @inlinable public var macs: Int { kernelCount * kernelElements }
}

/// A 2-D pooling window over NHWC int8 `[H][W][C]`. Pooling keeps the input scale and zero point;
/// the output is clamped to `[activationMin, activationMax]`. Padding must be smaller than the window, so every
/// window holds at least one in-image element. maxpool ignores padded positions; avgpool treats them as the
/// zero point (real 0) and divides by the full window (`countIncludePad`) or by the in-image count.
@frozen
public struct Pool2DParams: Equatable, Sendable {
    public var inputHeight: Int
    public var inputWidth: Int
    public var channels: Int
    /// Kernel size, stride and padding (dilation 1): the shared `Window`.
    public var window: Window
    /// avgpool only: divide by the full window (`true`, PyTorch's default) or by the in-image taps.
    public var countIncludePad: Bool
    /// The tensor's zero point (input and output share it), in `[−128, 127]`; avgpool uses it.
    public var zeroPoint: Int32
    public var activationMin: Int32
    public var activationMax: Int32

    @inlinable
    public init(inputHeight: Int, inputWidth: Int, channels: Int, kernelHeight: Int, kernelWidth: Int,
                strideY: Int, strideX: Int, padding: ConvPadding = .zero, countIncludePad: Bool = true,
                zeroPoint: Int32, activationMin: Int32 = -128, activationMax: Int32 = 127) {
        precondition(zeroPoint >= -128 && zeroPoint <= 127, "Pool2DParams: zero point")
        precondition(inputHeight > 0 && inputWidth > 0 && channels > 0, "Pool2DParams: empty tensor")
        precondition(kernelHeight > 0 && kernelWidth > 0 && strideY > 0 && strideX > 0, "Pool2DParams: window")
        precondition(padding.top >= 0 && padding.left >= 0 && padding.bottom >= 0 && padding.right >= 0
                     && padding.top < kernelHeight && padding.bottom < kernelHeight
                     && padding.left < kernelWidth && padding.right < kernelWidth,
                     "Pool2DParams: padding must be in [0, kernel)")
        precondition(-128 <= activationMin && activationMin <= activationMax && activationMax <= 127,
                     "Pool2DParams: activation range")
        self.inputHeight = inputHeight; self.inputWidth = inputWidth; self.channels = channels
        self.window = Window(kernel: Pair(kernelHeight, kernelWidth), stride: Pair(strideY, strideX),
                             padding: padding)
        self.countIncludePad = countIncludePad; self.zeroPoint = zeroPoint
        self.activationMin = activationMin; self.activationMax = activationMax
    }

    @inlinable public var outputHeight: Int {
        windowOutputExtent(input: inputHeight, kernel: kernelHeight, stride: strideY, dilation: 1,
                           padBefore: padding.top, padAfter: padding.bottom)
    }
    @inlinable public var outputWidth: Int {
        windowOutputExtent(input: inputWidth, kernel: kernelWidth, stride: strideX, dilation: 1,
                           padBefore: padding.left, padAfter: padding.right)
    }
    @inlinable public var outputCount: Int { outputHeight * outputWidth * channels }
}

/// Global average pooling `[H][W][C] → [C]`: `clamp(apply(Σ_hw (q − z_in)) + z_out)` with
/// `multiplier ≈ s_in / (H·W · s_out)`. The int32 sum needs `H·W · 255 < 2^31`.
@frozen
public struct GlobalAveragePoolParams: Equatable, Sendable {
    public var height: Int
    public var width: Int
    public var channels: Int
    public var inputZeroPoint: Int32
    public var multiplier: QuantizedMultiplier
    public var output: OutputQuantization

    @inlinable
    public init(height: Int, width: Int, channels: Int, inputZeroPoint: Int32,
                multiplier: QuantizedMultiplier, output: OutputQuantization) {
        precondition(height > 0 && width > 0 && channels > 0, "GlobalAveragePoolParams: empty tensor")
        precondition(height * width <= 8_388_607, "GlobalAveragePoolParams: H·W too large for an int32 sum")
        precondition(inputZeroPoint >= -128 && inputZeroPoint <= 127, "GlobalAveragePoolParams: input zero point")
        self.height = height; self.width = width; self.channels = channels
        self.inputZeroPoint = inputZeroPoint; self.multiplier = multiplier; self.output = output
    }
}

/// Element-wise add, TFLite's scheme: each input `(q − z) << 20` requantized to a common scale, summed, the sum
/// requantized to the output. `|q − z| · 2^20 ≤ 255 · 2^20 < 2^28`, so the int32 sum of the two rescaled terms
/// (each at most that when the input multipliers are ≤ 1, as the quantizer chooses them) cannot overflow.
@frozen
public struct AddParams: Equatable, Sendable {
    public static let leftShift: Int32 = 20
    public var input1ZeroPoint: Int32
    public var input1Multiplier: QuantizedMultiplier
    public var input2ZeroPoint: Int32
    public var input2Multiplier: QuantizedMultiplier
    public var outputMultiplier: QuantizedMultiplier
    public var output: OutputQuantization

    @inlinable
    public init(input1ZeroPoint: Int32, input1Multiplier: QuantizedMultiplier,
                input2ZeroPoint: Int32, input2Multiplier: QuantizedMultiplier,
                outputMultiplier: QuantizedMultiplier, output: OutputQuantization) {
        precondition(input1ZeroPoint >= -128 && input1ZeroPoint <= 127 && input2ZeroPoint >= -128
                     && input2ZeroPoint <= 127, "AddParams: input zero point")
        self.input1ZeroPoint = input1ZeroPoint; self.input1Multiplier = input1Multiplier
        self.input2ZeroPoint = input2ZeroPoint; self.input2Multiplier = input2Multiplier
        self.outputMultiplier = outputMultiplier; self.output = output
    }
}

/// Requantization of one concat input to the output's scale:
/// `clamp(apply(q − inputZeroPoint) + output.zeroPoint)`.
@frozen
public struct Requantize: Equatable, Sendable {
    public var inputZeroPoint: Int32
    public var multiplier: QuantizedMultiplier
    public var output: OutputQuantization
    @inlinable
    public init(inputZeroPoint: Int32, multiplier: QuantizedMultiplier, output: OutputQuantization) {
        precondition(inputZeroPoint >= -128 && inputZeroPoint <= 127, "Requantize: input zero point")
        self.inputZeroPoint = inputZeroPoint; self.multiplier = multiplier; self.output = output
    }
}

/// The field-by-field view of a parameter struct's `window` (the names the kernels read).
public protocol WindowedParams {
    var window: Window { get set }
}

extension WindowedParams {
    @inlinable public var kernelHeight: Int { get { window.kernel.h } set { window.kernel.h = newValue } }
    @inlinable public var kernelWidth: Int { get { window.kernel.w } set { window.kernel.w = newValue } }
    @inlinable public var strideY: Int { get { window.stride.h } set { window.stride.h = newValue } }
    @inlinable public var strideX: Int { get { window.stride.w } set { window.stride.w = newValue } }
    @inlinable public var dilationY: Int { get { window.dilation.h } set { window.dilation.h = newValue } }
    @inlinable public var dilationX: Int { get { window.dilation.w } set { window.dilation.w = newValue } }
    @inlinable public var padding: Padding { get { window.padding } set { window.padding = newValue } }
}

extension Conv2DParams: WindowedParams {}
extension DepthwiseConv2DParams: WindowedParams {}
extension Pool2DParams: WindowedParams {}
