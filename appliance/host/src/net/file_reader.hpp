// Static-file reads off the net loop. A response with an sdk::FileBody is opened, and its bytes
// read in chunks of kChunk, by a small pool of file threads ("net-file-N", started through the
// host's ThreadRegistry); the loop only copies finished chunks into TLS records. One chunk is
// read ahead per response, so that a fast client never waits for the disk between chunks.
// The pool is separate from the worker pool so that static files do not queue behind sign-in
// hashing or LDAP (and a bounded worker queue never refuses them).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <vector>

#include "palaver/sdk/check.hpp"
#include "palaver/sdk/status.hpp"
#include "palaver/sdk/threads.hpp"

namespace palaver::host::net {

/// An open file shared by an exchange and the file thread reading it; closed with the last owner.
struct OpenFile {
  int fd = -1;
  ~OpenFile();
};

/// What a file thread read: `data` from `offset` of the response body, or an error.
struct FileChunk {
  std::shared_ptr<OpenFile> file;
  std::string data;
  std::string error;  // empty: ok
};

/// Thread-safe.
class FileReaders {
 public:
  static constexpr size_t kChunk = 256 * 1024;

  FileReaders() = default;
  ~FileReaders() { Stop(); }
  /// Starts `count` threads. Without Start (or after Stop) Read runs its task inline.
  Status Start(sdk::ThreadHost& threads, int count);
  /// Stops and joins the threads; tasks not yet run are dropped.
  void Stop();

  /// Opens `path` unless `file` is set, reads `length` bytes at `offset`, and hands the chunk to
  /// `done` (on the file thread: `done` posts to the loop itself).
  void Read(std::shared_ptr<OpenFile> file, std::string path, uint64_t offset, size_t length,
            std::function<void(FileChunk)> done);
  /// Runs other housekeeping of the net layer that must not run on the loop (malloc_trim).
  void Submit(std::function<void()> task);

 private:
  void Run(std::stop_token stop);

  std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<std::function<void()>> queue_ PALAVER_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<sdk::Thread>> threads_ PALAVER_GUARDED_BY(mu_);
};

/// Opens (if needed) and reads; the work one task does. Blocking.
FileChunk ReadFileChunk(std::shared_ptr<OpenFile> file, const std::string& path, uint64_t offset, size_t length);

}  // namespace palaver::host::net
