import DynQGraph

let inspectCommand = Command(
    name: "inspect",
    summary: "per-node shapes, parameters and MACs of a model",
    usage: """
        usage: dynq inspect --graph G.json --weights W.safetensors
               dynq inspect MODEL            (model formats that register an inspector, e.g. .dynq)

        Validates the float graph against its weights and prints one row per node: name, op, output shape,
        parameters, convolution MACs (conv2d, the fused dynamic conv, linear), CPM MACs (its fully connected
        layers) and fusion MACs (mixing g kernels per sample, plus a mixed bias); then totals.

        Options:
          --graph G.json            the graph (docs/graph-format.md)
          --weights W.safetensors   its weights
          --help                    show this help
        """,
    run: { args in
        if let status = try dispatchToModelHandler(allInspectors, args,
                                                   floatHint: "float graphs: --graph G.json --weights W.safetensors") {
            return status
        }
        let a = try Arguments(args, options: ["graph", "weights"])
        _ = try a.positionals(0, "")
        let model = try LoadedGraph(graph: try a.required("graph"), weights: try a.required("weights"))
        let counts = try model.counts()
        let g = model.graph
        Console.out("graph \(g.name.isEmpty ? "(unnamed)" : "'\(g.name)'"): input '\(g.input.name)' \(shapeText(g.input.shape)), "
                    + "\(g.nodes.count) nodes, outputs \(g.outputs.joined(separator: ", "))"
                    + (g.classes.isEmpty ? "" : ", \(g.classes.count) classes"))
        var rows = counts.map { c in
            [c.name, c.op, c.outputShapes.map(shapeText).joined(separator: " "), grouped(c.params),
             grouped(c.convMACs), grouped(c.cpmMACs), grouped(c.fusionMACs)]
        }
        let t = counts.total
        // Parameters: each weight tensor once, even if several nodes read it.
        let uniqueParams = Set(g.nodes.flatMap(\.op.weightNames)).reduce(0) { $0 + model.weights[$1]!.count }
        rows.append(["total", "", "", grouped(uniqueParams), grouped(t.convMACs), grouped(t.cpmMACs), grouped(t.fusionMACs)])
        let table = renderTable(["node", "op", "output", "params", "conv MACs", "CPM MACs", "fusion MACs"], rows,
                                rightAligned: [3, 4, 5, 6])
        for line in table.dropLast() { Console.out(line) }
        Console.out(String(repeating: "-", count: table[1].count))
        Console.out(table.last!)
        Console.out("MACs per image: \(grouped(t.totalMACs))")
        return 0
    })
