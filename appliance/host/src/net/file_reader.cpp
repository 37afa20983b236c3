#include "net/file_reader.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace palaver::host::net {

OpenFile::~OpenFile() {
  if (fd >= 0) ::close(fd);
}

FileChunk ReadFileChunk(std::shared_ptr<OpenFile> file, const std::string& path, uint64_t offset, size_t length) {
  FileChunk out;
  if (!file) {
    file = std::make_shared<OpenFile>();
    file->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (file->fd < 0) {
      out.error = std::string("open: ") + std::strerror(errno);
      return out;
    }
  }
  out.file = file;
  out.data.resize(length);
  size_t got = 0;
  while (got < length) {
    ssize_t n = ::pread(file->fd, out.data.data() + got, length - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      out.error = std::string("read: ") + std::strerror(errno);
      return out;
    }
    if (n == 0) {
      out.error = "file shorter than its response";  // truncated since it was looked up
      return out;
    }
    got += static_cast<size_t>(n);
  }
  return out;
}

Status FileReaders::Start(sdk::ThreadHost& threads, int count) {
  for (int i = 0; i < count; ++i) {
    PALAVER_ASSIGN_OR_RETURN(auto t, threads.StartThread("net-file-" + std::to_string(i),
                                                         [this](std::stop_token stop) { Run(stop); }));
    std::lock_guard lock(mu_);
    threads_.push_back(std::move(t));
  }
  return OkStatus();
}

void FileReaders::Stop() {
  std::vector<std::unique_ptr<sdk::Thread>> threads;
  {
    std::lock_guard lock(mu_);
    threads.swap(threads_);
  }
  for (auto& t : threads) t->RequestStop();
  threads.clear();  // joins
  std::lock_guard lock(mu_);
  queue_.clear();
}

void FileReaders::Read(std::shared_ptr<OpenFile> file, std::string path, uint64_t offset, size_t length,
                       std::function<void(FileChunk)> done) {
  Submit([file = std::move(file), path = std::move(path), offset, length, done = std::move(done)]() mutable {
    done(ReadFileChunk(std::move(file), path, offset, length));
  });
}

void FileReaders::Submit(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (!threads_.empty()) {
      queue_.push_back(std::move(task));
      cv_.notify_one();
      return;
    }
  }
  task();
}

void FileReaders::Run(std::stop_token stop) {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      if (!cv_.wait(lock, stop, [this] { return !queue_.empty(); })) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

}  // namespace palaver::host::net
