/// What one op of the graph format is, in one place: each op's `Ops/<Op>.swift` declares its attributes and
/// conforms them to `OpDefinition` (JSON decoding and encoding, validation and shape inference, the float
/// engine's step, counts). `Op.definition` and `GraphOpKind.definition` (Op.swift) map the enum to these types; the
/// graph-level code (GraphJSON.swift, GraphValidation.swift, FloatEngine.swift, Counts.swift) only forwards.
protocol OpDefinition: Sendable {
    /// The op's name (the JSON `op` field).
    static var kind: GraphOpKind { get }
    /// The attribute fields a node of this op may carry besides `name`, `op`, `inputs` and `outputs`.
    static var fields: [String] { get }
    /// How many inputs and outputs a node takes (default: one and one).
    static var inputArity: ClosedRange<Int> { get }
    static var outputArity: ClosedRange<Int> { get }

    /// Reads the attributes from `r` (whose keys are all in `fields`; the caller refuses leftovers afterwards).
    /// `outputCount` is the node's number of outputs. Errors go through `r.error`, which names the node.
    static func decode(_ r: inout FieldReader, outputCount: Int) throws -> Op

    /// Writes the attributes into the node object `o`, every field explicitly (the encoding is deterministic).
    func encode(into o: inout JSONObject)

    /// The tensor names of every weight the op reads, in attribute order.
    var weightNames: [String] { get }

    /// The output shapes for input shapes `ins` (one per input, already produced), or an error from `c.fail`.
    func inferShapes(_ ins: [[Int]], _ c: ShapeContext) throws -> [[Int]]

    /// Checks weight values beyond their shapes (every weight is already checked to be finite). Default: none.
    func checkWeightValues(_ weights: [String: Tensor], _ c: ShapeContext) throws

    /// The float engine's compiled step for this node (weights resolved; shapes validated).
    func floatStep(_ c: StepContext) -> any FloatStep

    /// Fills the MAC fields of `counts` (docs in Counts.swift). Default: none.
    func countMACs(_ counts: inout NodeCounts, weightShapes: [String: [Int]])
}

extension OpDefinition {
    static var fields: [String] { [] }
    static var inputArity: ClosedRange<Int> { 1...1 }
    static var outputArity: ClosedRange<Int> { 1...1 }
    func encode(into o: inout JSONObject) {}
    var weightNames: [String] { [] }
    func checkWeightValues(_ weights: [String: Tensor], _ c: ShapeContext) throws {}
    func countMACs(_ counts: inout NodeCounts, weightShapes: [String: [Int]]) {}
}
