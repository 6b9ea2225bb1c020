import CSoxr

/// Sample-rate conversion with libsoxr, reproducing python-soxr's `soxr.resample(x, sr_in, sr_out, quality=...)`
/// sample for sample (and so librosa's default `res_type="soxr_hq"`).
///
/// python-soxr 1.x (`csoxr_split_ch` / `csoxr_divide_proc` in `soxr_ext.cpp`) does not call `soxr_oneshot`: it
/// creates a resampler with `soxr_quality_spec(quality, 0)` and Float32 I/O, allocates
/// `olen = size_t(len · out / in + 1)` output samples, feeds the input in pieces of
/// `max(1000, 48000 · in / out)` samples with `soxr_process`, then flushes once with a NULL input into what is
/// left of the `olen` buffer. The output length is therefore whatever soxr delivers up to that cap (for the
/// fixtures, exactly `len · out / in`). The same calls are made here, so the output length and values match.
/// Rates are the same on both sides: equal rates return the input unchanged (python-soxr would still filter).
public enum Resampler {
    public enum Quality: Sendable, CaseIterable {
        /// soxr "QQ": cubic interpolation.
        case quick
        /// soxr "LQ": 16-bit, larger roll-off.
        case low
        /// soxr "MQ": 16-bit, medium roll-off.
        case medium
        /// soxr "HQ" (20-bit): python-soxr's and librosa's default.
        case high
        /// soxr "VHQ" (28-bit).
        case veryHigh

        var recipe: UInt {
            switch self {
            case .quick: return 0  // SOXR_QQ
            case .low: return 1  // SOXR_LQ
            case .medium: return 2  // SOXR_MQ
            case .high: return UInt(shim_SOXR_HQ())
            case .veryHigh: return UInt(shim_SOXR_VHQ())
            }
        }
    }

    /// Converts mono `samples` from `inputRate` to `outputRate` Hz.
    public static func resample(_ samples: [Float], from inputRate: Int, to outputRate: Int, quality: Quality = .high)
        throws(ResamplingError) -> [Float]
    {
        try resample(samples, from: Double(inputRate), to: Double(outputRate), quality: quality)
    }

    /// Converts mono `samples` between arbitrary (fractional) rates.
    public static func resample(_ samples: [Float], from inputRate: Double, to outputRate: Double,
                                quality: Quality = .high) throws(ResamplingError) -> [Float]
    {
        guard inputRate.isFinite, inputRate > 0 else { throw .invalidRate(inputRate) }
        guard outputRate.isFinite, outputRate > 0 else { throw .invalidRate(outputRate) }
        if inputRate == outputRate { return samples }
        if samples.isEmpty { return [] }

        var ioSpec = soxr_io_spec(soxr_datatype_t(shim_SOXR_FLOAT32_I()), soxr_datatype_t(shim_SOXR_FLOAT32_I()))
        var qualitySpec = soxr_quality_spec(quality.recipe, 0)
        var createError: soxr_error_t? = nil
        guard let soxr = soxr_create(inputRate, outputRate, 1, &createError, &ioSpec, &qualitySpec, nil),
            createError == nil
        else {
            throw .soxr(createError.map { String(cString: $0) } ?? "soxr_create failed")
        }
        defer { soxr_delete(soxr) }

        // python-soxr's sizes, computed with the same double arithmetic and truncation.
        let capacity = Int(Double(samples.count) * outputRate / inputRate + 1)
        let pieceLength = Int(max(1000.0, 48000.0 * inputRate / outputRate))
        var output = [Float](repeating: 0, count: capacity)
        var produced = 0
        var processError: soxr_error_t? = nil

        samples.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { out in
                var done = 0
                var start = 0
                while start < input.count {
                    let length = min(pieceLength, input.count - start)
                    processError = soxr_process(soxr, input.baseAddress! + start, length, nil,
                                                out.baseAddress! + produced, capacity - produced, &done)
                    produced += done
                    if processError != nil { return }
                    start += pieceLength
                }
                processError = soxr_process(soxr, nil, 0, nil, out.baseAddress! + produced, capacity - produced, &done)
                produced += done
            }
        }
        if let processError { throw .soxr(String(cString: processError)) }
        output.removeLast(capacity - produced)
        return output
    }
}
