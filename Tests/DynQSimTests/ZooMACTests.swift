import Testing
import DynQGraph
import DynQSim

/// The zoo against the DyNet paper's FLOPs table (multiply-adds at 224×224). docs/zoo.md explains every gap.
@Suite("Model zoo: MACs vs the paper")
struct ZooMACTests {
    @Test("static baselines are within 2 % of the paper", arguments: ZooModel.allCases.filter { !$0.isDynamic })
    func staticBaselines(model: ZooModel) throws {
        let m = try model.build().macs()
        #expect(m.cpm == 0 && m.fusion == 0)
        let ratio = Double(m.conv) / (model.paperMMACs * 1e6)
        #expect(abs(ratio - 1) < 0.02, "\(model.paperName): \(m.conv) MACs vs \(model.paperMMACs) M (ratio \(ratio))")
    }

    @Test("dynamic models: conv MACs alone within 10 % of the paper", arguments: ZooModel.allCases.filter(\.isDynamic))
    func dynamicModels(model: ZooModel) throws {
        let m = try model.build().macs()
        #expect(m.cpm > 0 && m.fusion > 0)
        let ratio = Double(m.conv) / (model.paperMMACs * 1e6)
        #expect(abs(ratio - 1) < 0.10, "\(model.paperName): \(m.conv) conv MACs vs \(model.paperMMACs) M (ratio \(ratio))")
        // DyNet's overhead stays small: CPM + fusion under 5 % of the conv work.
        #expect(Double(m.cpm + m.fusion) < 0.05 * Double(m.conv))
    }

    /// Pinned values: a change to any zoo architecture shows up here (and must be reflected in docs/zoo.md).
    /// The static models' trainable parameter counts equal torchvision's (mobilenet_v2, shufflenet_v2_x1_0,
    /// resnet18, resnet50), which pins their architectures independently of the MAC formula.
    @Test("pinned MAC and parameter counts", arguments: [
        (ZooModel.mobilenetV2, MACBreakdown(conv: 300_774_272), 3_504_872),
        (.shufflenetV2, MACBreakdown(conv: 144_907_992), 2_278_604),
        (.resnet18, MACBreakdown(conv: 1_814_073_344), 11_689_512),
        (.resnet50, MACBreakdown(conv: 4_089_184_256), 25_557_032),
        (.dyMobile, MACBreakdown(conv: 130_542_392, cpm: 769_480, fusion: 2_897_208), 5_403_067),
        (.dyShuffle, MACBreakdown(conv: 91_995_636, cpm: 1_787_646, fusion: 1_700_502), 5_095_466),
        (.dyResnet18, MACBreakdown(conv: 577_480_704, cpm: 424_448, fusion: 16_533_504), 17_286_056),
        (.dyResnet50, MACBreakdown(conv: 1_127_374_848, cpm: 10_746_880, fusion: 31_021_056), 43_594_904),
    ])
    func pinned(model: ZooModel, expected: MACBreakdown, parameters: Int) throws {
        let net = model.build()
        #expect(try net.macs() == expected)
        #expect(net.trainableParameterCount == parameters)
    }

    @Test("print the zoo MAC table (docs/zoo.md)")
    func table() throws {
        for model in ZooModel.allCases {
            let m = try model.build().macs()
            let params = model.build().trainableParameterCount
            print("ZOO \(model.rawValue) conv=\(m.conv) cpm=\(m.cpm) fusion=\(m.fusion) total=\(m.total) params=\(params) paper=\(model.paperMMACs)")
        }
    }
}
