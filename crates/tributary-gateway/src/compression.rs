//! Response compression for every API of the process (read API, operator API, docs): gzip,
//! Brotli or zstd, whichever the client's `Accept-Encoding` prefers; none without it.

use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};

/// Bodies of fewer bytes stay plain: a list page of a few records, `check-api-key` or an error
/// envelope gains less from compression than the encoder's framing and CPU cost.
pub const MIN_COMPRESSED_BYTES: u16 = 1024;

/// The layer. Server-sent events and other streams are never compressed: an encoder buffers,
/// and an event must reach the client when it is sent. Images (the tool logos are tiny SVGs
/// anyway) are left alone as tower-http's default does.
pub fn layer() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .gzip(true)
        .br(true)
        .zstd(true)
        .no_deflate()
        // The default levels favour ratio (Brotli's is slow on the 5 MB docs renderer); a
        // list page is compressed once per request, so speed matters more.
        .quality(CompressionLevel::Fastest)
        .compress_when(
            SizeAbove::new(MIN_COMPRESSED_BYTES)
                .and(NotForContentType::GRPC)
                .and(NotForContentType::IMAGES)
                .and(NotForContentType::SSE)
                .and(NotForContentType::const_new("application/x-ndjson")),
        )
}
