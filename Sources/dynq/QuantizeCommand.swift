import DynQCore
import DynQGraph
import DynQQuantizer
import Foundation

let quantizeCommand = Command(
    name: "quantize",
    summary: "quantize a float graph to an int8 .dynq model",
    usage: """
        usage: dynq quantize --graph G.json --weights W.safetensors --calib CALIB -o MODEL.dynq
                             [--samples N] [--method minmax|percentile|mse] [--percentile P] [--per-tensor]
                             [--equalize] [--rounding adaptive|nearest] [--bias-correction] [--refit] [--search]
                             [--int8-logits] [--fused-dc]
                             [--compare] [--json]

        Folds every batchnorm into the convolution in front of it, fuses ReLU/ReLU6 into the clamps, quantizes
        the weights (symmetric int8, per output channel; the g kernels of a dynamic channel share one scale),
        runs the float engine over the calibration images to choose every activation range and to measure the
        per-sample fused kernels, fills every integer parameter of docs/numerics.md, proves each int32
        accumulator safe, and writes the .dynq file. Prints one line per layer: weight-scale range, weight SQNR,
        activation range (and the observed one when clipped), and for dynamic layers the fused-kernel range,
        the range of A = max|F| and of the per-sample multiplier. Progress goes to stderr.

        CALIB: .npy (uint8 pixels [N,C,H,W] / [N,H,W], or float32 already preprocessed), binary PGM/PPM or a
        raw IDX image file; uint8 pixels go through the graph's preprocess. float32 values must be finite and
        not far outside what pixels 0…255 give through the preprocess (the int8 model's input is uint8 pixels;
        values just outside are warned about).

        Options:
          --graph G.json            the float graph (docs/graph-format.md)
          --weights W.safetensors   its weights
          --calib CALIB             calibration images
          -o, --output MODEL.dynq   the int8 model to write
          --samples N               use the first N calibration images (default: all)
          --method M                minmax, percentile (default) or mse
          --percentile P            the percentile of --method percentile (default 99.99)
          --per-tensor              one weight scale per layer (comparison; the default is per channel)
          --search                  then choose each activation range among the methods' by the int8 model's
                                    top-1 risk on the calibration images (docs/calibration.md; uint8 CALIB
                                    only; one int8 run of CALIB per candidate: about a minute for 500 images)
          --equalize                equalize the channel ranges of conv → ReLU outputs read only by convs and
                                    CPMs (per-channel factors moved into the next layer's weights; the float
                                    model is unchanged; docs/calibration.md), then calibrate again (default)
          --rounding R              how weights are rounded to int8: adaptive (default: each weight up or down
                                    so that its layer's output error on CALIB is smallest; static convs,
                                    linears and CPM layers, docs/calibration.md) or nearest
          --bias-correction         subtract each conv / linear layer's mean int8 − float output error, measured
                                    on CALIB layer by layer, from its bias (uint8 CALIB; one int8 run of CALIB
                                    per layer)
          --int8-logits             the classifier writes int8 logits (default: int16 "wide" logits, which
                                    keep the order of near-equal classes; docs/numerics.md)
          --refit                   refit the classifier (the linear layer computing the output) by ridge least
                                    squares so that it maps the int8 model's own features to the float logits
                                    on CALIB (λ by 5-fold cross-validation on CALIB; uint8 CALIB; one int8 run
                                    of CALIB; default)
          --fused-dc                each sample's fused dynamic kernels get the DC correction: the bias absorbs
                                    the fused kernel's int8 rounding residual applied to the input's channel
                                    means (docs/numerics.md, "Fused DC correction"; default)
          --no-equalize, --no-bias-correction, --no-refit, --no-fused-dc
                                    do not (when the default does)
          --compare                 also print the table of every method (one calibration run)
          --jobs N                  calibrate on N threads (default: every core; the model is the same for any N)
          --json                    print the report as JSON instead of the table
          --help                    show this help
        """,
    run: { args in
        let args = args.map { $0 == "-o" ? "--output" : $0 }
        let a = try Arguments(args, flags: ["per-tensor", "json", "compare", "search", "bias-correction", "equalize", "no-equalize",
                                               "no-bias-correction", "refit", "no-refit", "int8-logits",
                                               "fused-dc", "no-fused-dc"],
                              options: ["graph", "weights", "calib", "output", "samples", "method", "percentile", "jobs",
                                        "rounding"])
        _ = try a.positionals(0, "")
        let graphPath = try a.required("graph"), weightsPath = try a.required("weights")
        let calibPath = try a.required("calib"), output = try a.required("output")
        var method: CalibrationMethod
        switch a.value("method") ?? QuantizationOptions().method.name {
        case "minmax": method = .minmax
        case "mse": method = .mse
        case "percentile":
            let text = a.value("percentile") ?? "\(CalibrationMethod.defaultPercentile)"
            guard let p = Double(text), p > 50, p <= 100 else {
                throw UsageError("--percentile must be a number in (50, 100], not '\(text)'")
            }
            method = .percentile(p)
        case let m: throw UsageError("--method must be minmax, percentile or mse, not '\(m)'")
        }
        if a.value("percentile") != nil, case .percentile = method {} else if a.value("percentile") != nil {
            throw UsageError("--percentile only applies to --method percentile")
        }
        let jobs = try a.int("jobs", default: defaultWorkerCount, in: 1...1024)
        var options = QuantizationOptions(method: method, granularity: a.has("per-tensor") ? .perTensor : .perChannel)
        if let r = a.value("rounding") {
            guard let rounding = WeightRounding(rawValue: r) else {
                throw UsageError("--rounding must be adaptive or nearest, not '\(r)'")
            }
            options.weightRounding = rounding
        }

        try FileIO.checkWritable(output)
        let loaded = try LoadedGraph(graph: graphPath, weights: weightsPath)
        try loaded.validate()   // errors name the graph file, or the weights file for weight values
        let graph = loaded.graph, weights = loaded.weights
        let batch = try loadImages(calibPath, channels: graph.input.shape[1])
        let samples = try a.int("samples", default: batch.count, in: 1...max(batch.count, 1))
        guard batch.count > 0 else { throw DynQError(file: calibPath, "has no images") }
        var warned = 0
        let inputs: [Tensor] = try (0..<samples).map { i in
            let x: Tensor
            do { x = try batch.input(i, for: graph) } catch let e as DynQError { throw e.inFile(calibPath) }
            // Calibration chooses the int8 ranges from these values, but the int8 model only ever sees pixels
            // 0…255 through the preprocess: a value a whole pixel range away from those is corrupt data that would
            // stretch every range for nothing (refused); one just outside is warned about.
            if let bad = batch.valuesOutsidePixelRange(image: i, for: graph, slack: 255) {
                throw DynQError(file: calibPath, "calibration image \(i): value \(bad.value) at index \(bad.index) is far "
                                + "outside [\(bad.range.lowerBound), \(bad.range.upperBound)], what pixels 0…255 give "
                                + "through the graph's preprocess; the int8 model could never see it")
            }
            if let out = batch.valuesOutsidePixelRange(image: i, for: graph, slack: 0.5) {
                warned += 1
                if warned <= 5 {
                    Console.err("dynq: warning: \(calibPath): calibration image \(i): \(out.count) "
                                + "\(out.count == 1 ? "value lies" : "values lie") outside [\(out.range.lowerBound), "
                                + "\(out.range.upperBound)], what pixels 0…255 give through the preprocess (first: "
                                + "\(out.value) at index \(out.index)); the int8 model sees them clamped")
                }
            }
            return x
        }

        var prepared: PreparedModel
        do { prepared = try prepare(graph: graph, weights: weights) } catch let e as DynQError { throw e.inFile(weightsPath) }
        let started = Date(), stderrIsTerminal = isatty(STDERR_FILENO) != 0
        // The graph and its weights are valid (above). Calibration errors name the calibration image (NaN or
        // huge values); what fails after it comes from the weight values (folded batchnorms, biases or
        // multipliers out of range), so those errors name the weights file.
        var stats: CalibrationStats
        do {
            stats = try calibrate(prepared.model, inputs: inputs, runner: try floatEngineRunner(prepared.model),
                                  histogramBins: options.histogramBins, coefficientBits: options.coefficientBits,
                                  workers: jobs) { done, total in
                // Every 10 % on a terminal; a log file gets the last line only.
                if done == total || (stderrIsTerminal && done % max(1, total / 10) == 0) {
                    Console.err("calibrating: \(done)/\(total) samples (\(String(format: "%.1f", Date().timeIntervalSince(started))) s)")
                }
            }
        } catch let e as DynQError { throw e.inFile(calibPath) }
        let model: ModelDescription, report: QuantReport
        do {
            if a.has("bias-correction") && a.has("no-bias-correction") {
                throw UsageError("--bias-correction and --no-bias-correction exclude each other")
            }
            if a.has("equalize") && a.has("no-equalize") {
                throw UsageError("--equalize and --no-equalize exclude each other")
            }
            if a.has("equalize") { options.equalize = true }
            if a.has("no-equalize") { options.equalize = false }
            if a.has("refit") && a.has("no-refit") {
                throw UsageError("--refit and --no-refit exclude each other")
            }
            if a.has("refit") { options.classifierRefit = true }
            if a.has("no-refit") { options.classifierRefit = false }
            if a.has("bias-correction") { options.biasCorrection = true }
            if a.has("int8-logits") { options.wideLogits = false }
            if a.has("fused-dc") && a.has("no-fused-dc") {
                throw UsageError("--fused-dc and --no-fused-dc exclude each other")
            }
            if a.has("fused-dc") { options.fusedDCCorrection = true }
            if a.has("no-fused-dc") { options.fusedDCCorrection = false }
            if a.has("no-bias-correction") { options.biasCorrection = false }
            if a.has("bias-correction"), case .float32 = batch.pixels {
                throw DynQError(file: calibPath, "--bias-correction needs uint8 images (the int8 model's input)")
            }
            var images = batch
            images.count = samples
            let (refined, refinedStats, done) = try refine(prepared, stats: stats, inputs: inputs, images: images,
                                                           options: options, workers: jobs)
            prepared = refined
            stats = refinedStats
            if options.equalize {
                Console.err("equalization: " + (done.equalized.isEmpty ? "no conv → ReLU → conv/CPM pair" : done.equalized.map {
                    "\($0.tensor) channel spread \(String(format: "%.1f", $0.spreadBefore)) -> "
                        + String(format: "%.1f", $0.spreadAfter)
                }.joined(separator: ", ")) + " (\(String(format: "%.1f", Date().timeIntervalSince(started))) s)")
            }
            if !done.corrected.isEmpty {
                Console.err("bias correction: \(done.corrected.count) layers, mean |int8 − float| per channel before "
                            + "correction: " + done.corrected.map { "\($0.node) \(String(format: "%.4f", $0.meanAbsError))" }
                                .joined(separator: ", ")
                            + " (\(String(format: "%.1f", Date().timeIntervalSince(started))) s)")
            }
            if let why = done.biasCorrectionSkipped {
                Console.err("dynq: warning: \(calibPath): no bias correction: \(why)")
            }
            if let r = done.refit {
                Console.err("classifier refit: \(r.node) on \(r.images) images, λ \(r.lambda) (5-fold cross-validation), "
                            + "mean squared logit error on CALIB (int8 features, float classifier) "
                            + String(format: "%.4f -> %.4f", r.mseBefore, r.mseAfter)
                            + " (\(String(format: "%.1f", Date().timeIntervalSince(started))) s)")
            }
            if let why = done.refitSkipped {
                if a.has("refit") { Console.err("dynq: warning: \(calibPath): no classifier refit: \(why)") }
                else { Console.err("classifier refit: skipped: \(why)") }
            }
            if a.has("search") {
                guard case .uint8 = batch.pixels else { throw DynQError(file: calibPath, "--search needs uint8 images") }
                let engine = try FloatEngine(graph: prepared.model.graph, weights: prepared.model.weights)
                let floatOutputs = try concurrentChunks(count: samples, workers: jobs) { range in
                    try range.map { try engine.run(inputs[$0])[0].data }
                }
                var images = batch
                images.count = samples
                let s = try searchRanges(prepared, stats: stats, options: options, images: images,
                                         floatOutputs: floatOutputs, workers: jobs)
                options.rangeOverrides = s.overrides
                Console.err("range search: \(s.evaluations) int8 runs of \(samples) images, output error "
                            + "\(s.lossBefore) -> \(s.lossAfter), agreement \(s.agreeBefore) -> \(s.agreeAfter); "
                            + s.chosen.map { "\($0.tensor)=\($0.method)" }.joined(separator: " ")
                            + " (\(String(format: "%.1f", Date().timeIntervalSince(started))) s)")
            }
            (model, report) = try quantize(prepared, stats: stats, options: options)
            let rounded = report.layers.compactMap { l in l.rounding?.change.map { "\(l.name) \($0)" } }
            if !rounded.isEmpty {
                Console.err("adaptive rounding: each layer's output error on CALIB against nearest rounding: "
                            + rounded.joined(separator: ", ")
                            + " (\(String(format: "%.1f", Date().timeIntervalSince(started))) s)")
            }
        } catch let e as DynQError {
            throw e.inFile(weightsPath)
        }
        let bytes: [UInt8]
        do { bytes = try model.serialized() } catch { throw DynQError(file: output, "the model does not serialize: \(error)") }
        try FileIO.write(bytes, to: output)

        if a.has("json") {
            var json = report.json()
            if a.has("compare"), case .object(var o) = json {
                var others: [JSON] = []
                for m in [CalibrationMethod.minmax, .percentile(CalibrationMethod.defaultPercentile), .mse] where m != method {
                    var opts = options
                    opts.method = m
                    do { others.append(try quantize(prepared, stats: stats, options: opts).1.json()) }
                    catch let e as DynQError { throw e.inFile(weightsPath) }
                }
                o["other_methods"] = .array(others)
                json = .object(o)
            }
            Console.out(json.serialized(pretty: true))
        } else {
            Console.out(report.table())
            if a.has("compare") {
                for m in [CalibrationMethod.minmax, .percentile(CalibrationMethod.defaultPercentile), .mse] where m != method {
                    var opts = options
                    opts.method = m
                    Console.out("")
                    do { Console.out(try quantize(prepared, stats: stats, options: opts).1.table()) }
                    catch let e as DynQError { throw e.inFile(weightsPath) }
                }
            }
            Console.out("wrote \(output) (\(bytes.count) bytes, \(model.operations.count) ops)")
        }
        return 0
    })
