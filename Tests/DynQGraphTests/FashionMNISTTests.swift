import Foundation
import Testing
@testable import DynQGraph

/// The trained DyNet of fixtures/fmnist (tools/train_fmnist.py): the float engine must reproduce PyTorch's
/// logits on all 1,000 test images within 1e-4 and reach the same top-1 accuracy.
@Suite struct FashionMNISTTests {
    static let dir = repositoryRoot + "/fixtures/fmnist"
    @Test func logitsMatchPyTorchOnAllTestImages() throws {
        let graph = try loadGraph(Self.dir + "/model.graph.json")
        let engine = try FloatEngine(graph: graph, weights: try readSafetensors(Self.dir + "/model.safetensors").tensors)
        let images = try loadImages(Self.dir + "/test_images.npy", channels: 1, labels: Self.dir + "/test_labels.npy")
        let torch = try readNpy(Self.dir + "/torch_logits.npy").tensor
        #expect(images.count == 1000)
        #expect(torch.shape == [images.count, 10])
        let labels = try #require(images.labels)

        var worst: Float = 0
        var ours = 0, theirs = 0
        for i in 0..<images.count {
            let logits = try engine.run(try images.input(i, for: graph))[0].data
            let reference = Array(torch.data[i * 10..<(i + 1) * 10])
            worst = max(worst, zip(logits, reference).map { abs($0 - $1) }.max()!)
            if argmax(logits) == labels[i] { ours += 1 }
            if argmax(reference) == labels[i] { theirs += 1 }
        }
        #expect(worst <= 1e-4, "max |logit error| \(worst)")
        #expect(ours == theirs, "top-1: DynQ \(ours)/1000, PyTorch \(theirs)/1000")
    }

    @Test func samplePGMIsTheFirstTestImage() throws {
        let pgm = try loadImages(Self.dir + "/sample0.pgm")
        let npy = try loadImages(Self.dir + "/test_images.npy", channels: 1)
        guard case .uint8(let a) = pgm.pixels, case .uint8(let b) = npy.pixels else {
            Issue.record("expected uint8 pixels")
            return
        }
        #expect((pgm.count, pgm.channels, pgm.height, pgm.width) == (1, 1, 28, 28))
        #expect(a == Array(b.prefix(784)))
    }

    @Test func inspectCountsTheModel() throws {
        let graph = try loadGraph(Self.dir + "/model.graph.json")
        let counts = try countNodes(graph: graph, weightShapes: try readSafetensorsHeader(Self.dir + "/model.safetensors")
            .entries.reduce(into: [:]) { $0[$1.name] = $1.shape })
        #expect(counts.count == graph.nodes.count)
        #expect(counts.total.convMACs > 0 && counts.total.cpmMACs > 0 && counts.total.fusionMACs > 0)
    }
}

func argmax(_ v: [Float]) -> Int { v.indices.max { v[$0] < v[$1] }! }
