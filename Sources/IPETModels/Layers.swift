import IPETTensor
import IPETFormats

typealias IPETFormatsJSON = JSONValue

/// `y = x·Wᵀ + b` with PyTorch's `[out, in]` weight layout.
public struct Linear: Sendable {
    public let weight: Tensor
    public let bias: Tensor?
    public var inFeatures: Int { weight.shape[1] }
    public var outFeatures: Int { weight.shape[0] }

    public init(weight: Tensor, bias: Tensor?) {
        self.weight = weight
        self.bias = bias
    }

    /// Loads `<scope>.weight` `[out, in]` and, when `bias`, `<scope>.bias` `[out]`.
    public init(_ scope: WeightScope, in inFeatures: Int, out outFeatures: Int, bias: Bool = true) throws(ModelError) {
        weight = try scope.tensor("weight", shape: [outFeatures, inFeatures])
        self.bias = bias ? try scope.tensor("bias", shape: [outFeatures]) : nil
    }

    /// Applies the layer to `rows` rows; `parallel` splits the GEMM over threads (off inside parallel loops).
    public func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, parallel: Bool = true) {
        Gemm.linear(x, rows: rows, inFeatures: inFeatures, weight: weight, bias: bias, into: y, parallel: parallel)
    }
}

/// `nn.LayerNorm` over the last axis (biased variance, eps inside the square root).
public struct LayerNorm: Sendable {
    public let weight: Tensor
    public let bias: Tensor
    public let eps: Float

    public init(weight: Tensor, bias: Tensor, eps: Float) {
        self.weight = weight
        self.bias = bias
        self.eps = eps
    }

    public init(_ scope: WeightScope, size: Int, eps: Float) throws(ModelError) {
        weight = try scope.tensor("weight", shape: [size])
        bias = try scope.tensor("bias", shape: [size])
        self.eps = eps
    }

    public var size: Int { weight.count }

    public func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>) {
        Kernels.layerNorm(x, rows: rows, cols: size, weight: weight.data, bias: bias.data, eps: eps, into: y)
    }
}

/// Multi-head scaled dot-product self-attention, eager form (`softmax(q·kᵀ/√d)·v` then the output projection),
/// as both AST (ViT) and wav2vec 2.0 compute it. Heads are columns `head·d ..< (head+1)·d` of q, k, v.
public struct SelfAttention: Sendable {
    public let query: Linear
    public let key: Linear
    public let value: Linear
    public let output: Linear
    public let heads: Int

    public init(query: Linear, key: Linear, value: Linear, output: Linear, heads: Int) throws(ModelError) {
        self.query = query
        self.key = key
        self.value = value
        self.output = output
        self.heads = heads
    }

    public var hidden: Int { query.outFeatures }
    public var headDim: Int { hidden / heads }

    /// Attends within each of `batch` sequences of `tokens` rows of `x` (`[batch·tokens, hidden]`), writing the
    /// projected result to `out`. Keys at positions ≥ `keyLengths[b]` are masked (padding), when given.
    public func callAsFunction(
        _ x: UnsafePointer<Float>, batch: Int, tokens: Int, keyLengths: [Int]? = nil,
        into out: UnsafeMutablePointer<Float>, workspace: Workspace
    ) {
        let rows = batch * tokens
        let d = hidden, dh = headDim
        let q = workspace.buffer("attn.q", count: rows * d)
        let k = workspace.buffer("attn.k", count: rows * d)
        let v = workspace.buffer("attn.v", count: rows * d)
        let ctx = workspace.buffer("attn.ctx", count: rows * d)
        query(x, rows: rows, into: q)
        key(x, rows: rows, into: k)
        value(x, rows: rows, into: v)
        let workers = ComputeThreads.workers(batch * heads)
        let scores = workspace.buffer("attn.scores", count: workers * tokens * tokens)
        let (pq, pk, pv, pc, ps) = (SendablePointer(q), SendablePointer(k), SendablePointer(v), SendablePointer(ctx), SendablePointer(scores))
        let scale = 1 / Float(dh).squareRoot()
        ComputeThreads.parallelForWorkers(batch * heads) { worker, job in
            let b = job / heads, h = job % heads
            let base = b * tokens * d + h * dh
            let s = ps.pointer + worker * tokens * tokens
            let valid = keyLengths.map { min(max($0[b], 0), tokens) } ?? tokens
            // S = q_h · k_hᵀ · scale over valid keys only; padded keys get probability 0 (additive -inf mask).
            Gemm.gemmSerial(transB: true, m: tokens, n: valid, k: dh, alpha: scale, a: pq.pointer + base, lda: d,
                            b: pk.pointer + base, ldb: d, c: s, ldc: valid)
            Kernels.softmaxRows(s, rows: tokens, cols: valid)
            Gemm.gemmSerial(m: tokens, n: dh, k: valid, a: s, lda: valid, b: pv.pointer + base, ldb: d,
                            c: pc.pointer + base, ldc: d)
        }
        output(ctx, rows: rows, into: out)
    }
}

/// The transformer MLP: `fc2(GELU(fc1(x)))`.
public struct FeedForward: Sendable {
    public let up: Linear
    public let down: Linear

    public init(up: Linear, down: Linear) {
        self.up = up
        self.down = down
    }

    public func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>, workspace: Workspace) {
        let mid = workspace.buffer("ffn.mid", count: rows * up.outFeatures)
        up(x, rows: rows, into: mid)
        Kernels.gelu(mid, count: rows * up.outFeatures)
        down(mid, rows: rows, into: out)
    }
}

/// Statistics pooling over time: `out[0..<c]` = mean, `out[c..<2c]` = unbiased std (divide by n − 1) of the
/// first `frames` rows of a `[frames, c]` matrix, in double precision (NaN std for one frame, as PyTorch).
public func meanAndStandardDeviation(_ x: UnsafePointer<Float>, frames n: Int, channels c: Int, into out: UnsafeMutablePointer<Float>) {
    for j in 0..<c {
        var sum = 0.0
        for f in 0..<n { sum += Double(x[f * c + j]) }
        let mean = sum / Double(n)
        var ss = 0.0
        for f in 0..<n {
            let v = Double(x[f * c + j]) - mean
            ss += v * v
        }
        out[j] = Float(mean)
        out[c + j] = n > 1 ? Float((ss / Double(n - 1)).squareRoot()) : .nan
    }
}

/// Reads a config number, falling back to `default` when the key is absent; rejects wrong types.
func configInt(_ config: IPETFormatsJSON, _ key: String, default value: Int? = nil, source: String) throws(ModelError) -> Int {
    guard let v = config[key], v != .null else {
        if let value { return value }
        throw ModelError(source, "config.json lacks \"\(key)\"")
    }
    guard let i = v.int else { throw ModelError(source, "config.json \"\(key)\" must be an integer") }
    return i
}

func configDouble(_ config: IPETFormatsJSON, _ key: String, default value: Double? = nil, source: String) throws(ModelError) -> Double {
    guard let v = config[key], v != .null else {
        if let value { return value }
        throw ModelError(source, "config.json lacks \"\(key)\"")
    }
    guard let d = v.double else { throw ModelError(source, "config.json \"\(key)\" must be a number") }
    return d
}

func configBool(_ config: IPETFormatsJSON, _ key: String, default value: Bool, source: String) throws(ModelError) -> Bool {
    guard let v = config[key], v != .null else { return value }
    guard let b = v.bool else { throw ModelError(source, "config.json \"\(key)\" must be true or false") }
    return b
}

func configIntList(_ config: IPETFormatsJSON, _ key: String, default value: [Int], source: String) throws(ModelError) -> [Int] {
    guard let v = config[key], v != .null else { return value }
    guard let a = v.array else { throw ModelError(source, "config.json \"\(key)\" must be a list of integers") }
    var out: [Int] = []
    for e in a {
        guard let i = e.int else { throw ModelError(source, "config.json \"\(key)\" must be a list of integers") }
        out.append(i)
    }
    return out
}

/// Label names from `id2label` ordered by id; "LABEL_i" for gaps; `count` entries.
func labelNames(_ config: IPETFormatsJSON, count: Int) -> [String] {
    var names = (0..<count).map { "LABEL_\($0)" }
    for (key, value) in config["id2label"]?.object ?? [] {
        if let i = Int(key), i >= 0, i < count, let name = value.string { names[i] = name }
    }
    return names
}
