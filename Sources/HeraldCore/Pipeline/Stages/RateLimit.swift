import Foundation

extension PipelineStage {
    /// **rate-limit**: preferences and suppressions (→ `suppressed`), quiet hours and
    /// per-recipient caps (→ `deferred` to the spool until allowed, or `suppressed` for a
    /// verification code that would arrive too late). Token buckets wait in the send stage,
    /// right before each slice goes out. Without a limiter it passes everything on.
    public static func rateLimit(_ limiter: RateLimiter? = nil) -> PipelineStage {
        PipelineStage(.rateLimit) { jobs in
            try await limiter?.apply(&jobs)
        }
    }
}
