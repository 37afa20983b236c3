// A small in-memory cache of file metadata and contents for the static file handler.
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

namespace palaver::web {

/// Caches stat() results (including "missing") and the contents of small files, revalidating an
/// entry with one stat() once it is older than `revalidate`. Large files are not held in memory
/// (`data` is null) and stream from disk. Bounded in entries and bytes: when either bound is
/// passed the cache starts over. Thread: net loop only.
class FileCache {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  struct Entry {
    bool is_file = false;   // false: missing, a directory or unreadable
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    uint64_t inode = 0;
    std::shared_ptr<const std::string> data;  // whole contents when small enough
    std::chrono::steady_clock::time_point checked;
  };

  struct Limits {
    uint64_t max_file_bytes = 256 * 1024;
    uint64_t max_total_bytes = 64 * 1024 * 1024;
    size_t max_entries = 4096;
    std::chrono::milliseconds revalidate{1000};
  };

  FileCache(Limits limits, Clock clock);
  /// The entry for an absolute path (valid until the next Lookup).
  const Entry& Lookup(const std::string& path);
  size_t Entries() const { return entries_.size(); }
  uint64_t Bytes() const { return bytes_; }

 private:
  void Load(const std::string& path, Entry& e);

  Limits limits_;
  Clock clock_;
  std::unordered_map<std::string, Entry> entries_;
  uint64_t bytes_ = 0;
};

}  // namespace palaver::web
