import DynQGraph
import Foundation

let importCommand = Command(
    name: "import",
    summary: "convert an ONNX model to a DynQ graph + weights",
    usage: """
        usage: dynq import MODEL.onnx -o NAME [--name GRAPH] [--scale S] [--mean M[,M...]] [--std S[,S...]]

        Converts a CNN exported to ONNX (torch.onnx.export or similar) into NAME.graph.json and
        NAME.safetensors (docs/graph-format.md), ready for `dynq quantize`. Dynamic convolutions (a coefficient
        predictor — global average pool, fc, ReLU, fc, sigmoid or softmax — whose output computes a Conv's weight
        from a kernel bank) become cpm + dynamic_conv2d nodes. A node DynQ cannot map is refused with its name
        and op type. Supported operators: see docs/bring-your-own-model.md.

        The preprocess options describe how a uint8 pixel p of channel c becomes the network input
        x = (p * scale - mean[c]) / std[c] (written into the graph; used by calibration and `run`). Without them
        the graph takes already-normalised float input.

        Options:
          -o, --output NAME   output prefix (NAME.graph.json, NAME.safetensors); required
          --name GRAPH        the graph's name (default: the ONNX graph's)
          --scale S           pixel scale (default 1/255 when --mean or --std is given, else 1)
          --mean M[,M...]     per-channel mean (1 or C values)
          --std S[,S...]      per-channel standard deviation (1 or C values)
          --help              show this help
        """,
    run: { args in
        let a = try Arguments(args.map { $0 == "-o" ? "--output" : $0 },
                              options: ["output", "name", "scale", "mean", "std"])
        let model = try a.positionals(1, "MODEL.onnx")[0]
        let prefix = try a.required("output")
        func floats(_ key: String) throws -> [Float]? {
            guard let text = a.value(key) else { return nil }
            let v = text.split(separator: ",").map { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard !v.isEmpty, v.allSatisfy({ $0 != nil && $0!.isFinite }) else {
                throw UsageError("--\(key) must be comma-separated numbers, not '\(text)'")
            }
            return v.map { $0! }
        }
        var preprocess: Preprocess?
        let mean = try floats("mean"), std = try floats("std"), scale = try floats("scale")
        if mean != nil || std != nil || scale != nil {
            guard scale.map({ $0.count == 1 }) ?? true else { throw UsageError("--scale takes one number") }
            guard std.map({ $0.allSatisfy { $0 != 0 } }) ?? true else { throw UsageError("--std values must be non-zero") }
            preprocess = Preprocess(scale: scale?[0] ?? ((mean != nil || std != nil) ? 1 / 255 : 1),
                                    mean: mean ?? [0], std: std ?? [1])
        }
        let result = try importONNX(path: model, name: a.value("name"), preprocess: preprocess)
        // Validate exactly as every other command will load it.
        let graph: Graph
        do {
            graph = try decodeGraph(result.graph, file: model)
            var weights: [String: Tensor] = [:]
            for (n, t) in result.weights { weights[n] = t }
            _ = try FloatEngine(graph: graph, weights: weights)
        } catch let e as DynQError {
            throw DynQError(file: model, "the imported graph does not validate: \(e.message)")
        }
        let graphPath = prefix + ".graph.json", weightsPath = prefix + ".safetensors"
        let dir = (graphPath as NSString).deletingLastPathComponent
        if !dir.isEmpty && !FileManager.default.fileExists(atPath: dir) {
            throw DynQError(file: dir, "output directory does not exist")
        }
        try FileIO.write(Array((result.graph.serialized(pretty: true) + "\n").utf8), to: graphPath)
        try writeSafetensors(result.weights, to: weightsPath)
        let dynamic = graph.nodes.filter { if case .dynamicConv2d = $0.op { return true }; return false }.count
        let cpms = graph.nodes.filter { if case .cpm = $0.op { return true }; return false }.count
        Console.out("\(graphPath): \(graph.nodes.count) nodes (\(dynamic) dynamic convolutions, \(cpms) coefficient predictors)")
        Console.out("\(weightsPath): \(result.weights.count) tensors")
        return 0
    })
