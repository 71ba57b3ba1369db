import DynQGraph
import DynQSim

let zooCommand = Command(
    name: "zoo",
    summary: "write one of the DyNet paper's networks (random weights) as a graph",
    usage: """
        usage: dynq zoo NAME --graph G.json --weights W.safetensors [--seed S] [--resolution R] [--classes N]
               dynq zoo --list

        Writes one of the DyNet paper's ImageNet networks as a DynQ graph with random, seeded He-initialised
        weights (batchnorm parameters included), for measuring what the architecture costs (docs/zoo.md).

        Names: \(ZooModel.allCases.map(\.rawValue).joined(separator: ", "))

        Options:
          --graph G.json            where to write the graph
          --weights W.safetensors   where to write the weights
          --seed S                  weight seed (default 0); the same seed gives the same bytes
          --resolution R            input height = width (default 224)
          --classes N               classifier outputs (default 1000)
          --list                    list the models with their MACs against the paper
          --help                    show this help
        """,
    run: { args in
        let a = try Arguments(args, flags: ["list"], options: ["graph", "weights", "seed", "resolution", "classes"])
        if a.has("list") {
            _ = try a.positionals(0, "")
            var rows: [[String]] = []
            for m in ZooModel.allCases {
                let net = m.build()
                let macs = try net.macs()
                rows.append([m.rawValue, m.paperName, grouped(net.trainableParameterCount), grouped(macs.conv),
                             grouped(macs.cpm), grouped(macs.fusion), "\(Int(m.paperMMACs)) M"])
            }
            for line in renderTable(["name", "paper name", "params", "conv MACs", "CPM MACs", "fusion MACs", "paper"],
                                    rows, rightAligned: [2, 3, 4, 5, 6]) { Console.out(line) }
            return 0
        }
        let name = try a.positionals(1, "model name")[0]
        guard let model = ZooModel(rawValue: name) else {
            throw UsageError("unknown model '\(name)' (one of: \(ZooModel.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let graphPath = try a.required("graph"), weightsPath = try a.required("weights")
        let seed = try a.int("seed", default: 0, in: 0...Int.max)
        let resolution = try a.int("resolution", default: 224, in: 32...4096)
        let classes = try a.int("classes", default: 1000, in: 1...1_000_000)
        let net = model.build(resolution: resolution, classes: classes)
        let weights = net.materializeWeights(seed: UInt64(seed))
        try writeGraph(net.graph, to: graphPath)
        try writeSafetensors(weights, metadata: ["dynq_zoo": model.rawValue, "seed": String(seed)], to: weightsPath)
        let macs = try net.macs()
        Console.out("\(model.paperName): \(net.graph.nodes.count) nodes, \(grouped(net.trainableParameterCount)) parameters, "
                    + "\(grouped(macs.total)) MACs (conv \(grouped(macs.conv)), CPM \(grouped(macs.cpm)), fusion \(grouped(macs.fusion)))")
        Console.out("wrote \(graphPath) and \(weightsPath)")
        return 0
    })
