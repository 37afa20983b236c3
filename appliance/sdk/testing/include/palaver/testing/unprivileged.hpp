// Test support: run a permission-dependent check as an unprivileged user, so that it also runs
// (and can fail) when the tests run as root, as CI does, instead of being skipped there.
#pragma once

#include <grp.h>
#include <pwd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>

namespace palaver::testing {

/// Runs `check` in a forked child and returns its verdict: "" when it passed, otherwise the
/// message `check` returned or how the child failed. When the test process runs as root, the child
/// first drops every privilege (supplementary groups, gid, uid) to the `nobody` user (65534 if
/// there is none) and verifies that it cannot regain root. Files the check opens must be reachable
/// by that user (a TempDir under /tmp is; its files need the mode the check expects).
inline std::string RunUnprivileged(const std::function<std::string()>& check) {
  int fds[2];
  if (::pipe(fds) != 0) return std::string("pipe: ") + std::strerror(errno);
  uid_t uid = 65534;
  gid_t gid = 65534;
  if (const passwd* pw = ::getpwnam("nobody")) {
    uid = pw->pw_uid;
    gid = pw->pw_gid;
  }
  pid_t pid = ::fork();
  if (pid < 0) return std::string("fork: ") + std::strerror(errno);
  if (pid == 0) {
    ::close(fds[0]);
    std::string verdict;
    if (::geteuid() == 0) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) {
        verdict = std::string("cannot drop root: ") + std::strerror(errno);
      } else if (::setuid(0) == 0 || ::geteuid() == 0) {
        verdict = "still root after dropping privileges";
      }
    }
    if (verdict.empty()) {
      try {
        verdict = check();
      } catch (const std::exception& e) {
        verdict = std::string("exception: ") + e.what();
      }
    }
    const char* p = verdict.data();
    size_t left = verdict.size();
    while (left > 0) {
      ssize_t n = ::write(fds[1], p, left);
      if (n <= 0) break;
      p += n;
      left -= static_cast<size_t>(n);
    }
    ::_exit(verdict.empty() ? 0 : 1);
  }
  ::close(fds[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return std::string("waitpid: ") + std::strerror(errno);
  if (!WIFEXITED(status)) return "the unprivileged child died (status " + std::to_string(status) + "): " + out;
  if (WEXITSTATUS(status) != 0 && out.empty()) return "the unprivileged child exited with " + std::to_string(WEXITSTATUS(status));
  return out;
}

}  // namespace palaver::testing
