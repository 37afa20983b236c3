// `palaverd backup FILE` and `palaverd restore FILE`: the whole state of an installation in one
// file, taken from a running server without stopping it.
//
// A backup is an SQLite database: a consistent snapshot of palaver.db made with SQLite's online
// backup API (one read transaction; in WAL mode writers go on meanwhile), plus two tables of its
// own: `palaver_backup_meta` (format, palaverd version, time) and `palaver_backup_files` (every
// other file of the state dir that a start needs: the local CA and its keys, the TURN secret,
// the initial admin password). It holds signing keys and password hashes, so it is created with
// mode 0600 and should be kept like a private key.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "palaver/sdk/status.hpp"

namespace palaver::host {

/// An exclusive advisory lock (flock) on <state_dir>/palaverd.lock, held by a running server and by
/// a restore, so that a restore never replaces the database under a running server. Released when
/// destroyed (or when the process ends, however it ends). Thread-compatible.
class StateDirLock {
 public:
  /// kUnavailable, naming the pid of the holder if runtime.json knows it, when already held.
  static Result<StateDirLock> Acquire(const std::filesystem::path& state_dir);
  StateDirLock(StateDirLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  StateDirLock& operator=(StateDirLock&& other) noexcept;
  StateDirLock(const StateDirLock&) = delete;
  StateDirLock& operator=(const StateDirLock&) = delete;
  ~StateDirLock();

 private:
  explicit StateDirLock(int fd) : fd_(fd) {}
  int fd_ = -1;
};

struct BackupReport {
  int64_t database_bytes = 0;
  int files = 0;
};

/// Writes a backup of `state_dir` to `out` (replacing it atomically; mode 0600). Works while a
/// server runs. Blocking.
Result<BackupReport> BackupStateDir(const std::filesystem::path& state_dir, const std::filesystem::path& out,
                                    std::chrono::milliseconds busy_timeout, const std::string& version);

/// Run as root on a state dir that belongs to another user (the service's): gives everything below
/// it that root owns to that user, so that a command run as root (e.g. `palaverd user add` before
/// the service ever started, which creates palaver.db) cannot lock the service out. Blocking.
/// An error names how many files stayed root's (and the first one's path and errno): the service
/// may then be unable to open them, so the command that called it reports it and fails.
Status GiveRootOwnedFilesToStateDirOwner(const std::filesystem::path& state_dir);

/// Replaces the state in `state_dir` by the backup `in`: checks the file first, refuses while a
/// server holds the state dir's lock, keeps the previous database as palaver.db.pre-restore, and
/// (run as root) gives restored files to the state dir's owner. Blocking.
Result<BackupReport> RestoreStateDir(const std::filesystem::path& state_dir, const std::filesystem::path& in);

}  // namespace palaver::host
