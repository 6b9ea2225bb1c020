import IPETModels

/// Whether a pack belongs to a backbone (`Formats/ipet-pack.md`, "Verification").
public enum PackVerification: Sendable, Equatable {
    case match
    /// The pack was made for the weights this backbone was converted from (e.g. F32 → F16).
    case derived(warning: String)
    case mismatch(message: String, shapesFit: Bool)

    public static func check(_ pack: AdapterPack, against backbone: Backbone) -> PackVerification {
        let want = pack.backbone
        let (d, l, h) = backbone.sizes
        let shapesFit = want.architecture == backbone.architecture && want.hiddenSize == d && want.layers == l && want.heads == h
        let have = backbone.fingerprint
        if want.fingerprint == have, shapesFit { return .match }
        if shapesFit, backbone.derivedFrom.contains(want.fingerprint) {
            return .derived(warning: "\(pack.path): made for \(want.fingerprint); this backbone (\(have)) was converted from those weights, so results may differ slightly in precision")
        }
        var what: String
        if want.architecture != backbone.architecture {
            what = "architecture differs: the pack is for \(want.architecture.rawValue), the backbone is \(backbone.architecture.rawValue)"
        } else if !shapesFit {
            what = "sizes differ: the pack needs hidden \(want.hiddenSize), \(want.layers) layers, \(want.heads) heads; the backbone has hidden \(d), \(l) layers, \(h) heads"
        } else {
            what = "values only: same architecture and sizes, different weights"
        }
        what = "pack expects backbone \(want.fingerprint) but \(backbone.source) is \(have) (\(what))"
        return .mismatch(message: what, shapesFit: shapesFit)
    }
}
