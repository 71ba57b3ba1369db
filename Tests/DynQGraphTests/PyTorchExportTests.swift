import Foundation
import Testing
@testable import DynQGraph

// tools/export.py on ordinary PyTorch networks (tools/example_nets.py): the exported graph must load, validate and
// reproduce PyTorch's output in the float engine within 1e-4. The networks are exported once per test run by
// `python3 tools/check_export.py DIR`; every test here is skipped, with a message, when torch is not installed.

/// Runs `python3 ARGS` in the repository root; returns the exit status and stderr.
func runPython(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3"] + arguments
    p.currentDirectoryURL = URL(fileURLWithPath: repositoryRoot)
    let err = Pipe()
    p.standardError = err
    p.standardOutput = FileHandle.nullDevice
    try p.run()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: e, as: UTF8.self))
}

/// Whether `python3 -c "import torch"` works (CI installs the CPU wheel; a developer machine may not have it).
let torchAvailable: Bool = (try? runPython(["-c", "import torch, numpy"]).status) == 0

let torchMissing: Comment = "torch is not installed (pip install 'torch==2.13.0+cpu' numpy): PyTorch export not tested"

/// The directory `tools/check_export.py` wrote every example network into (once per test process).
let exportedNetworks: Result<String, DynQError> = {
    do {
        let dir = try temporaryDirectory()
        let r = try runPython(["tools/check_export.py", dir])
        guard r.status == 0 else {
            return .failure(DynQError("tools/check_export.py failed (\(r.status)): \(r.stderr)"))
        }
        return .success(dir)
    } catch {
        return .failure(DynQError("cannot run python3: \(error)"))
    }
}()

/// Loads network `name` exported by tools/export.py, runs it on its input and returns (graph, max |diff|).
func runExported(_ name: String) throws -> (Graph, Float) {
    let dir = try exportedNetworks.get()
    let graph = try loadGraph("\(dir)/\(name).graph.json")
    let engine = try FloatEngine(graph: graph, weights: try readSafetensors("\(dir)/\(name).safetensors").tensors)
    let x = try readNpy("\(dir)/\(name).input.npy").tensor
    let expected = try readNpy("\(dir)/\(name).expected.npy").tensor
    let y = try engine.run(x)[0]
    #expect(y.shape == expected.shape)
    return (graph, zip(y.data, expected.data).map { abs($0 - $1) }.max() ?? .infinity)
}

/// The JSON op names of a graph's nodes.
func opKinds(_ g: Graph) -> Set<String> { Set(g.nodes.map { "\($0.op.kind)" }) }

@Suite("tools/export.py on ordinary PyTorch networks", .enabled(if: torchAvailable, torchMissing))
struct PyTorchExportTests {
    @Test("a plain nn.Sequential CNN exports without any wrapper and matches PyTorch within 1e-4")
    func plainSequential() throws {
        let (graph, worst) = try runExported("plain")
        #expect(worst <= 1e-4, "max |output - PyTorch| = \(worst)")
        #expect(opKinds(graph).isSuperset(of: ["conv2d", "batchnorm", "relu6", "hardswish", "avgpool", "linear"]))
        // Dropout is an identity at export: no node for it.
        #expect(graph.nodes.count == 17)
    }

    @Test("a torchvision-style residual network written with forward() matches PyTorch within 1e-4")
    func residualNetwork() throws {
        let (graph, worst) = try runExported("resnet")
        #expect(worst <= 1e-4, "max |output - PyTorch| = \(worst)")
        #expect(opKinds(graph).isSuperset(of: ["add", "channel_split", "concat", "channel_shuffle"]))
        #expect(graph.nodes.filter { $0.op == .add }.count == 3)
        // The ReLU module called twice in a block gets two nodes with distinct names.
        #expect(graph.nodes.contains { $0.name == "layer1.0.relu.1" })
    }

    @Test("the DyNet, CondConv and DY-CNN modules export as cpm + dynamic_conv2d and match PyTorch within 1e-4")
    func dynamicModules() throws {
        let (graph, worst) = try runExported("dynet")
        #expect(worst <= 1e-4, "max |output - PyTorch| = \(worst)")
        var modes: [CoefficientMode] = []
        var gates: [Gate] = []
        for node in graph.nodes {
            if case .dynamicConv2d(let a) = node.op { modes.append(a.mode) }
            if case .cpm(let a) = node.op { gates.append(a.gate) }
        }
        #expect(modes == [.perChannel, .perChannel, .perLayer, .perLayer, .perLayer])
        #expect(gates == [.sigmoid, .sigmoid, .softmax(temperature: 0.7, group: 4)])
    }

    @Test("LeakyReLU, SiLU, Sigmoid, GELU, padding='same'/'valid' and ceil-mode max pooling match PyTorch within 1e-4",
          .enabled(if: ["leaky_relu", "silu", "sigmoid", "gelu"].allSatisfy(graphOpNames.contains),
                   "the graph ops leaky_relu / silu / sigmoid / gelu are not in DynQGraph yet (the 'graph' helper adds them)"))
    func newActivations() throws {
        let (graph, worst) = try runExported("activations")
        #expect(worst <= 1e-4, "max |output - PyTorch| = \(worst)")
        #expect(opKinds(graph).isSuperset(of: ["leaky_relu", "silu", "sigmoid", "gelu"]))
    }

    @Test("a softmax CPM is exported with the temperature the module holds unless cpm_temperature overrides it")
    func temperature() throws {
        let r = try runPython(["tools/check_export.py", try temporaryDirectory(), "temperature"])
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test("unsupported modules and functions are refused with one line naming the module and its type")
    func refusals() throws {
        let r = try runPython(["tools/check_export.py", try temporaryDirectory(), "refusals"])
        #expect(r.status == 0, "\(r.stderr)")
    }
}
