import Testing
import DynQCore
import DynQGraph
import DynQSim

@Suite("Model zoo: graphs")
struct ZooGraphTests {
    @Test("every zoo graph validates against its weight shapes", arguments: ZooModel.allCases)
    func validates(model: ZooModel) throws {
        let net = model.build()
        let shapes = try inferShapes(graph: net.graph,
                                     weightShapes: Dictionary(uniqueKeysWithValues: net.weights.map { ($0.name, $0.shape) }))
        #expect(shapes[net.graph.outputs[0]] == [1, 1000])
        #expect(net.graph.input.shape == [1, 3, 224, 224])
        // Every weight spec is used by exactly one node attribute.
        let used = net.graph.nodes.flatMap(\.op.weightNames)
        #expect(used.sorted() == net.weights.map(\.name).sorted())
    }

    @Test("the graph survives a JSON round trip", arguments: [ZooModel.dyShuffle, .dyResnet18])
    func roundTrip(model: ZooModel) throws {
        let g = model.build().graph
        #expect(try decodeGraph(encodeGraph(g)) == g)
    }

    @Test("dynamic models use only per-channel dynamic convs with g = 6 and one CPM per block",
          arguments: ZooModel.allCases.filter(\.isDynamic))
    func dynamicStructure(model: ZooModel) throws {
        let net = model.build()
        let specs = Dictionary(uniqueKeysWithValues: net.weights.map { ($0.name, $0.shape) })
        var cpmOutputs: [String: Int] = [:]     // CPM output → coefficients
        var consumed: [String: Int] = [:]       // CPM output → coefficients read by its dynamic convs
        for node in net.graph.nodes {
            switch node.op {
            case .cpm(let a):
                #expect(a.gate == .sigmoid)
                let fc1 = try #require(specs[a.fc1Weight])
                #expect(fc1[0] == max(1, fc1[1] / 4), "\(node.name): hidden = C_in/4")
                let fc2Name = try #require(a.fc2Weight)
                cpmOutputs[node.outputs[0]] = try #require(specs[fc2Name])[0]
            case .dynamicConv2d(let a):
                #expect(a.mode == .perChannel)
                let w = try #require(specs[a.weight])
                #expect(w[0] == 6)
                #expect(a.coeffOffset == consumed[node.inputs[1], default: 0], "\(node.name): slices are consecutive")
                consumed[node.inputs[1], default: 0] += w[0] * w[1]
            case .conv2d:
                break
            default:
                break
            }
        }
        #expect(!cpmOutputs.isEmpty)
        #expect(cpmOutputs == consumed, "each CPM output is read exactly, in consecutive slices")
    }

    @Test("static models have no dynamic ops", arguments: ZooModel.allCases.filter { !$0.isDynamic })
    func staticStructure(model: ZooModel) {
        for node in model.build().graph.nodes {
            switch node.op {
            case .cpm, .dynamicConv2d: Issue.record("\(node.name) is dynamic")
            default: break
            }
        }
    }

    @Test("Dy-mobile: 3×3 convs are grouped with 6 channels per group")
    func dyMobileGroups() {
        let net = ZooModel.dyMobile.build()
        var grouped = 0
        for node in net.graph.nodes {
            if case .dynamicConv2d(let a) = node.op, a.groups > 1 {
                let w = net.weights.first { $0.name == a.weight }!.shape
                #expect(w[2] == 6 && w[3] == 3, "\(node.name): \(w)")
                grouped += 1
            }
        }
        #expect(grouped == 17)
    }

    @Test("a smaller resolution and class count give the same architecture")
    func smallVariant() throws {
        let net = ZooModel.dyMobile.build(resolution: 64, classes: 10)
        let shapes = try inferShapes(graph: net.graph,
                                     weightShapes: Dictionary(uniqueKeysWithValues: net.weights.map { ($0.name, $0.shape) }))
        #expect(shapes[net.graph.outputs[0]] == [1, 10])
        #expect(net.graph.nodes.count == ZooModel.dyMobile.build().graph.nodes.count)
    }
}

@Suite("Model zoo: weights")
struct ZooWeightTests {
    @Test("weights are deterministic per seed and name, and differ between seeds")
    func deterministic() {
        let spec = WeightSpec(name: "layer1.0.conv1.weight", shape: [6, 8, 4, 3, 3], initializer: .normal(std: 0.5))
        let a = spec.materialize(seed: 7), b = spec.materialize(seed: 7), c = spec.materialize(seed: 8)
        #expect(a == b)
        #expect(a != c)
        var renamed = spec
        renamed.name = "layer1.0.conv2.weight"
        #expect(renamed.materialize(seed: 7) != a)
    }

    @Test("SplitMix64 matches the reference sequence for seed 0")
    func splitMixReference() {
        // First outputs of the reference C implementation (Vigna, splitmix64.c) with x = 0.
        var r = SplitMix64(seed: 0)
        #expect(r.next() == 0xE220_A839_7B1D_CDAF)
        #expect(r.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(r.next() == 0x06C4_5D18_8009_454F)
    }

    @Test("He-normal weights have the requested spread; batchnorm statistics lie in range")
    func statistics() {
        let w = WeightSpec(name: "w", shape: [64, 64, 3, 3], initializer: .normal(std: 0.0589)).materialize(seed: 1)
        let n = Float(w.count)
        let mean = w.data.reduce(0, +) / n
        let std = (w.data.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n).squareRoot()
        #expect(abs(mean) < 0.002)
        #expect(abs(std / 0.0589 - 1) < 0.02)
        let v = WeightSpec(name: "v", shape: [1000], initializer: .uniform(lo: 0.5, hi: 1.5)).materialize(seed: 1)
        #expect(v.data.allSatisfy { $0 >= 0.5 && $0 < 1.5 })
    }

    @Test("a small zoo model validates with its materialised weights")
    func materialisedValidates() throws {
        let net = ZooModel.dyShuffle.build(resolution: 32, classes: 10)
        let weights = Dictionary(uniqueKeysWithValues: net.materializeWeights(seed: 3))
        _ = try inferShapes(graph: net.graph, weights: weights)
    }
}
