// Sans-I/O pieces of static file serving: path safety, ranges, caching, content types, ETags.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace palaver::web {

/// Checks a request path below a mount ("assets/app.js") and returns it normalised, or nullopt
/// when it could escape the root or names a hidden file: "..", ".", empty segments are folded,
/// and any segment starting with '.', containing '\\' or NUL, is refused.
std::optional<std::string> SafeRelativePath(std::string_view relative);

/// A satisfiable byte range [first, last].
struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t Length() const { return last - first + 1; }
};

enum class RangeResult { kNone, kSatisfiable, kUnsatisfiable };

/// Parses a single-range `Range` header against a representation of `size` bytes.
/// Multiple ranges and malformed headers give kNone (serve the whole file, as RFC 9110 allows).
RangeResult ParseRange(std::string_view header, uint64_t size, ByteRange& out);

/// Content-Type for a file name by extension.
std::string ContentTypeFor(std::string_view file_name);
/// Whether a type is worth serving precompressed.
bool IsCompressible(std::string_view content_type);

/// Cache-Control for a file below the Meet mount: immutable for fingerprinted assets
/// (`name-<hash>.ext`, `name.<hash>.ext`, files under `assets/` or `static/`), `no-cache` for
/// everything else (index.html, the service worker, manifests).
std::string CacheControlFor(std::string_view relative_path);

/// Whether an `If-None-Match` header matches `etag` (weak comparison, `*` matches).
bool EtagMatches(std::string_view if_none_match, std::string_view etag);

/// Encodings acceptable per `Accept-Encoding` (q=0 excludes; `*` counts).
bool AcceptsEncoding(std::string_view accept_encoding, std::string_view coding);

}  // namespace palaver::web
