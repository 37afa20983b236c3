#include "file_cache.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace palaver::web {

FileCache::FileCache(Limits limits, Clock clock) : limits_(limits), clock_(std::move(clock)) {}

const FileCache::Entry& FileCache::Lookup(const std::string& path) {
  auto now = clock_();
  auto it = entries_.find(path);
  if (it != entries_.end() && now - it->second.checked < limits_.revalidate) return it->second;
  if (it == entries_.end()) {
    if (entries_.size() >= limits_.max_entries) {
      entries_.clear();
      bytes_ = 0;
    }
    it = entries_.emplace(path, Entry{}).first;
  }
  Entry& e = it->second;
  e.checked = now;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    if (e.data) bytes_ -= e.data->size();
    e = Entry{};
    e.checked = now;
    return e;
  }
  int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  bool unchanged = e.is_file && e.size == static_cast<uint64_t>(st.st_size) && e.mtime_ns == mtime_ns &&
                   e.inode == static_cast<uint64_t>(st.st_ino);
  if (unchanged) return e;
  if (e.data) bytes_ -= e.data->size();
  e.data.reset();
  e.is_file = true;
  e.size = static_cast<uint64_t>(st.st_size);
  e.mtime_ns = mtime_ns;
  e.inode = static_cast<uint64_t>(st.st_ino);
  if (e.size <= limits_.max_file_bytes) Load(path, e);
  return e;
}

void FileCache::Load(const std::string& path, Entry& e) {
  if (bytes_ + e.size > limits_.max_total_bytes) {
    // Start over rather than track recency: a web app's working set is small.
    for (auto& [p, other] : entries_) {
      if (other.data) other.data.reset();
    }
    bytes_ = 0;
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;  // served from disk (and failing there with a clear error) instead
  auto data = std::make_shared<std::string>(e.size, '\0');
  size_t got = 0;
  while (got < e.size) {
    ssize_t n = ::read(fd, data->data() + got, e.size - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  if (got != e.size) return;  // changed while reading: next revalidation picks it up
  bytes_ += got;
  e.data = std::move(data);
}

}  // namespace palaver::web
