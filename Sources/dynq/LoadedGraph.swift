import DynQGraph

/// A float graph with its weights, loaded from the files a command names (`--graph`, `--weights`). Validation errors
/// name the graph file. (Not the quantizer's `FloatModel`, an in-memory graph + weights.)
struct LoadedGraph {
    var graph: Graph
    var weights: [String: Tensor]
    var graphPath: String

    init(graph graphPath: String, weights weightsPath: String) throws {
        graph = try loadGraph(graphPath)
        weights = try readSafetensors(weightsPath).tensors
        self.graphPath = graphPath
    }

    func engine() throws -> FloatEngine {
        do { return try FloatEngine(graph: graph, weights: weights) } catch let e as DynQError { throw e.inFile(graphPath) }
    }

    func counts() throws -> [NodeCounts] {
        try countNodes(graph: graph, weights: weights, file: graphPath)
    }
}
