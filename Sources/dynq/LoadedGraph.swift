import DynQGraph

/// A float graph with its weights, loaded from the files a command names (`--graph`, `--weights`). Validation errors
/// name the graph file. (Not the quantizer's `FloatModel`, an in-memory graph + weights.)
struct LoadedGraph {
    var graph: Graph
    var weights: [String: Tensor]
    var graphPath: String
    var weightsPath: String

    init(graph graphPath: String, weights weightsPath: String) throws {
        graph = try loadGraph(graphPath)
        weights = try readSafetensors(weightsPath).tensors
        self.graphPath = graphPath
        self.weightsPath = weightsPath
    }

    /// Validates the graph against the weights: structural errors name the graph file, weight values (NaN,
    /// infinities, negative variances) the weights file.
    func validate() throws {
        _ = try inferShapes(graph: graph, weights: weights, file: graphPath, weightsFile: weightsPath)
    }

    func engine() throws -> FloatEngine {
        try validate()
        do { return try FloatEngine(graph: graph, weights: weights) } catch let e as DynQError { throw e.inFile(graphPath) }
    }

    func counts() throws -> [NodeCounts] {
        try countNodes(graph: graph, weights: weights, file: graphPath)
    }
}
