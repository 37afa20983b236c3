#include "palaver/sdk/files.hpp"

#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace palaver::sdk {

Status WriteFileAtomically(const std::filesystem::path& path, const std::string& data, mode_t mode) {
  std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::string temp = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) {
    return Fail(ErrorCode::kUnavailable, "cannot write " + path.string() + ": cannot create a temporary file: " +
                                             std::strerror(errno));
  }
  auto fail = [&](const char* step) {
    int err = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return Fail(ErrorCode::kUnavailable, "cannot write " + path.string() + ": " + step + ": " + std::strerror(err));
  };
  // Set the mode before any data is written, so a key is never readable by others.
  if (::fchmod(fd, mode) != 0) return fail("fchmod");
  size_t written = 0;
  while (written < data.size()) {
    ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("write");
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("fsync");
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return Fail(ErrorCode::kUnavailable, "cannot write " + path.string() + ": close: " + std::strerror(err));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return Fail(ErrorCode::kUnavailable, "cannot write " + path.string() + ": rename: " + std::strerror(err));
  }
  // Make the rename itself durable; a failure here leaves a correct file, so it is not an error.
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    (void)::fsync(dir_fd);
    ::close(dir_fd);
  }
  return OkStatus();
}

Result<std::string> ReadFileText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ErrorCode::kFailedPrecondition, "cannot read " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace palaver::sdk
