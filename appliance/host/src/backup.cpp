#include "backup.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <vector>

#include "palaver/sdk/files.hpp"

namespace palaver::host {
namespace {

namespace fs = std::filesystem;

constexpr const char* kLockFile = "palaverd.lock";
constexpr const char* kFormat = "palaver-backup-1";
constexpr int64_t kMaxFileBytes = 64 << 20;

using Db = std::unique_ptr<sqlite3, int (*)(sqlite3*)>;

Result<Db> OpenDb(const fs::path& path, int flags) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Db db(raw, sqlite3_close_v2);
  if (rc != SQLITE_OK) {
    return Fail(ErrorCode::kUnavailable, "cannot open " + path.string() + ": " +
                                             (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

Status Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err != nullptr ? err : sqlite3_errmsg(db);
    sqlite3_free(err);
    return Fail(ErrorCode::kInternal, "sqlite: " + msg);
  }
  return OkStatus();
}

using Stmt = std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)>;

Result<Stmt> Prepare(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
    return Fail(ErrorCode::kInternal, std::string("sqlite prepare: ") + sqlite3_errmsg(db));
  }
  return Stmt(raw, sqlite3_finalize);
}

// Copies all of `from` into `to` in one step: one read transaction on the source, so the copy is
// a consistent snapshot, and (WAL) writers are not blocked meanwhile. A stepwise copy would
// restart on every write of another connection and might never finish on a busy server.
Status CopyDatabase(sqlite3* from, sqlite3* to, const std::string& what) {
  sqlite3_backup* b = sqlite3_backup_init(to, "main", from, "main");
  if (b == nullptr) return Fail(ErrorCode::kInternal, what + ": " + sqlite3_errmsg(to));
  int rc = SQLITE_OK;
  for (int attempt = 0; attempt < 100; ++attempt) {
    rc = sqlite3_backup_step(b, -1);
    if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) break;
    sqlite3_sleep(50);
  }
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) return Fail(ErrorCode::kUnavailable, what + ": " + sqlite3_errstr(rc));
  return OkStatus();
}

// Files of the state dir that are not part of the state: the database (copied through SQLite),
// what a running process writes about itself, locks and temporary files, and the admin console's
// command-line token (made again at every start).
bool SkippedStateFile(const fs::path& rel) {
  std::string name = rel.filename().string();
  if (name.empty() || name[0] == '.') return true;
  if (rel.has_parent_path()) return false;
  static const std::set<std::string> kSkipped = {"runtime.json", "runtime.json.tmp", kLockFile, "admin-cli-token"};
  return name.starts_with("palaver.db") || kSkipped.count(name) != 0;
}

bool SafeRelativePath(const std::string& p) {
  if (p.empty() || p[0] == '/') return false;
  for (const auto& part : fs::path(p)) {
    if (part == ".." || part == ".") return false;
  }
  return true;
}

Result<std::string> ReadWhole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ErrorCode::kUnavailable, "cannot read " + path.string());
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Fail(ErrorCode::kUnavailable, "cannot read " + path.string());
  return data;
}

std::string RunningPid(const fs::path& state_dir) {
  auto text = ReadWhole(state_dir / "runtime.json");
  if (!text || !text->starts_with("{\"pid\":")) return "";
  auto end = text->find(',');
  return end == std::string::npos ? "" : text->substr(7, end - 7);
}

// A temporary file next to `target`, created with mode 0600 before anything is written.
Result<fs::path> MakeTemp(const fs::path& target) {
  fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string tmpl = (dir / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) {
    return Fail(ErrorCode::kUnavailable, "cannot create a file in " + dir.string() + ": " + std::strerror(errno));
  }
  // mkstemp makes it 0600 already; a umask or file system that says otherwise is an error, since a
  // backup holds secrets.
  if (::fchmod(fd, 0600) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmpl.c_str());
    return Fail(ErrorCode::kUnavailable, "cannot make " + tmpl + " private (0600): " + std::strerror(err));
  }
  ::close(fd);
  return fs::path(tmpl);
}

void SyncPath(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

Result<StateDirLock> StateDirLock::Acquire(const fs::path& state_dir) {
  fs::path path = state_dir / kLockFile;
  // Read-only and world-readable (it is empty): a lock file root made during a restore must not keep
  // the service's own user from opening it later.
  int fd = ::open(path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Fail(ErrorCode::kUnavailable, "cannot open " + path.string() + ": " + std::strerror(errno));
  // Only its owner may change the mode; a lock file another user made (root, during a restore) is
  // usable as it is, so only that failure is fine.
  if (::fchmod(fd, 0644) != 0 && errno != EPERM) {
    int err = errno;
    ::close(fd);
    return Fail(ErrorCode::kUnavailable, "cannot set the mode of " + path.string() + ": " + std::strerror(err));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err != EWOULDBLOCK) return Fail(ErrorCode::kUnavailable, "cannot lock " + path.string() + ": " + std::strerror(err));
    std::string pid = RunningPid(state_dir);
    return Fail(ErrorCode::kUnavailable, "palaverd is running on the state dir " + state_dir.string() +
                                             (pid.empty() ? "" : " (pid " + pid + ")"));
  }
  return StateDirLock(fd);
}

StateDirLock& StateDirLock::operator=(StateDirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

StateDirLock::~StateDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

Status GiveRootOwnedFilesToStateDirOwner(const fs::path& state_dir) {
  struct stat dir_stat {};
  if (::geteuid() != 0 || ::stat(state_dir.c_str(), &dir_stat) != 0 || dir_stat.st_uid == 0) return OkStatus();
  std::error_code ec;
  int failed = 0;
  std::string first;
  for (auto it = fs::recursive_directory_iterator(state_dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    struct stat sb {};
    if (::lstat(it->path().c_str(), &sb) == 0 && sb.st_uid == 0 &&
        ::lchown(it->path().c_str(), dir_stat.st_uid, dir_stat.st_gid) != 0) {
      if (failed++ == 0) first = it->path().string() + ": " + std::strerror(errno);
    }
  }
  if (ec) {
    return Fail(ErrorCode::kUnavailable, "cannot list " + state_dir.string() + ": " + ec.message());
  }
  if (failed > 0) {
    return Fail(ErrorCode::kUnavailable, "cannot give " + std::to_string(failed) + " root-owned file(s) to uid " +
                                             std::to_string(dir_stat.st_uid) + " (first: " + first + ")");
  }
  return OkStatus();
}

Result<BackupReport> BackupStateDir(const fs::path& state_dir, const fs::path& out,
                                    std::chrono::milliseconds busy_timeout, const std::string& version) {
  fs::path db_path = state_dir / "palaver.db";
  std::error_code ec;
  if (!fs::is_regular_file(db_path, ec)) {
    return Fail(ErrorCode::kNotFound, "no database at " + db_path.string() + " (has palaverd ever started with this config?)");
  }
  if (fs::is_directory(out, ec)) return Fail(ErrorCode::kInvalidArgument, out.string() + " is a directory; name a file");
  PALAVER_ASSIGN_OR_RETURN(fs::path tmp, MakeTemp(out));
  auto cleanup = [&] { fs::remove(tmp, ec); fs::remove(tmp.string() + "-journal", ec); };
  BackupReport report;
  Status st = [&]() -> Status {
    // Read-write without create: a WAL database needs its -shm; never create palaver.db here.
    PALAVER_ASSIGN_OR_RETURN(Db src, OpenDb(db_path, SQLITE_OPEN_READWRITE));
    sqlite3_busy_timeout(src.get(), static_cast<int>(busy_timeout.count()));
    PALAVER_ASSIGN_OR_RETURN(Db dst, OpenDb(tmp, SQLITE_OPEN_READWRITE));
    PALAVER_RETURN_IF_ERROR(CopyDatabase(src.get(), dst.get(), "cannot copy " + db_path.string()));
    src.reset();
    // A self-contained file: a rollback journal, not WAL (the snapshot's header says WAL).
    PALAVER_RETURN_IF_ERROR(Exec(dst.get(), "PRAGMA journal_mode=DELETE"));
    PALAVER_RETURN_IF_ERROR(Exec(dst.get(),
        "BEGIN;"
        "CREATE TABLE palaver_backup_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TABLE palaver_backup_files (path TEXT PRIMARY KEY, mode INTEGER NOT NULL, content BLOB NOT NULL);"));
    PALAVER_ASSIGN_OR_RETURN(Stmt meta, Prepare(dst.get(), "INSERT INTO palaver_backup_meta VALUES (?, ?)"));
    std::vector<std::pair<std::string, std::string>> meta_rows = {
        {"format", kFormat}, {"created", std::to_string(std::time(nullptr))}, {"version", version}};
    for (const auto& [k, v] : meta_rows) {
      sqlite3_bind_text(meta.get(), 1, k.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(meta.get(), 2, v.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(meta.get()) != SQLITE_DONE) return Fail(ErrorCode::kInternal, sqlite3_errmsg(dst.get()));
      sqlite3_reset(meta.get());
    }
    PALAVER_ASSIGN_OR_RETURN(Stmt ins, Prepare(dst.get(), "INSERT INTO palaver_backup_files VALUES (?, ?, ?)"));
    for (auto it = fs::recursive_directory_iterator(state_dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      fs::path rel = fs::relative(it->path(), state_dir);
      if (it->is_directory() && rel.filename().string().starts_with(".")) it.disable_recursion_pending();
      if (!it->is_regular_file() || it->is_symlink() || SkippedStateFile(rel)) continue;
      if (static_cast<int64_t>(it->file_size()) > kMaxFileBytes) {
        return Fail(ErrorCode::kResourceExhausted, it->path().string() + " is larger than 64 MiB; not a state file");
      }
      PALAVER_ASSIGN_OR_RETURN(std::string data, ReadWhole(it->path()));
      struct stat sb {};
      int64_t mode = ::stat(it->path().c_str(), &sb) == 0 ? (sb.st_mode & 07777) : 0600;
      sqlite3_bind_text(ins.get(), 1, rel.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(ins.get(), 2, mode);
      sqlite3_bind_blob(ins.get(), 3, data.data(), static_cast<int>(data.size()), SQLITE_TRANSIENT);
      if (sqlite3_step(ins.get()) != SQLITE_DONE) return Fail(ErrorCode::kInternal, sqlite3_errmsg(dst.get()));
      sqlite3_reset(ins.get());
      ++report.files;
    }
    if (ec) return Fail(ErrorCode::kUnavailable, "cannot list " + state_dir.string() + ": " + ec.message());
    PALAVER_RETURN_IF_ERROR(Exec(dst.get(), "COMMIT"));
    return OkStatus();
  }();
  if (!st) {
    cleanup();
    return Fail(st.error());
  }
  SyncPath(tmp);
  report.database_bytes = static_cast<int64_t>(fs::file_size(tmp, ec));
  fs::rename(tmp, out, ec);
  if (ec) {
    cleanup();
    return Fail(ErrorCode::kUnavailable, "cannot write " + out.string() + ": " + ec.message());
  }
  SyncPath(out.has_parent_path() ? out.parent_path() : fs::path("."));
  return report;
}

Result<BackupReport> RestoreStateDir(const fs::path& state_dir, const fs::path& in) {
  std::error_code ec;
  if (!fs::is_regular_file(in, ec)) return Fail(ErrorCode::kNotFound, "no backup file " + in.string());
  PALAVER_ASSIGN_OR_RETURN(Db src, OpenDb(in, SQLITE_OPEN_READONLY));
  // Check the whole file before touching anything.
  {
    auto check = Prepare(src.get(), "PRAGMA integrity_check");
    if (!check || sqlite3_step(check->get()) != SQLITE_ROW ||
        std::string(reinterpret_cast<const char*>(sqlite3_column_text(check->get(), 0))) != "ok") {
      return Fail(ErrorCode::kDataLoss, in.string() + " is not a readable palaverd backup (damaged or not SQLite)");
    }
    auto format = Prepare(src.get(), "SELECT value FROM palaver_backup_meta WHERE key = 'format'");
    if (!format || sqlite3_step(format->get()) != SQLITE_ROW ||
        std::string(reinterpret_cast<const char*>(sqlite3_column_text(format->get(), 0))) != kFormat) {
      return Fail(ErrorCode::kInvalidArgument, in.string() + " is not a palaverd backup (made by `palaverd backup`)");
    }
  }
  PALAVER_ASSIGN_OR_RETURN(StateDirLock lock, StateDirLock::Acquire(state_dir));

  struct stat dir_stat {};
  bool give_to_owner = ::geteuid() == 0 && ::stat(state_dir.c_str(), &dir_stat) == 0 && dir_stat.st_uid != 0;
  auto own = [&](const fs::path& p) -> Status {
    if (give_to_owner && ::lchown(p.c_str(), dir_stat.st_uid, dir_stat.st_gid) != 0) {
      return Fail(ErrorCode::kUnavailable, "cannot give " + p.string() + " to uid " + std::to_string(dir_stat.st_uid) +
                                               ": " + std::strerror(errno));
    }
    return OkStatus();
  };

  fs::path db_path = state_dir / "palaver.db";
  PALAVER_ASSIGN_OR_RETURN(fs::path tmp, MakeTemp(db_path));
  BackupReport report;
  Status st = [&]() -> Status {
    PALAVER_ASSIGN_OR_RETURN(Db dst, OpenDb(tmp, SQLITE_OPEN_READWRITE));
    PALAVER_RETURN_IF_ERROR(CopyDatabase(src.get(), dst.get(), "cannot copy " + in.string()));
    PALAVER_RETURN_IF_ERROR(Exec(dst.get(), "PRAGMA journal_mode=DELETE; DROP TABLE palaver_backup_meta; "
                                            "DROP TABLE palaver_backup_files; VACUUM;"));
    dst.reset();
    SyncPath(tmp);
    PALAVER_ASSIGN_OR_RETURN(Stmt files, Prepare(src.get(), "SELECT path, mode, content FROM palaver_backup_files"));
    for (int rc = sqlite3_step(files.get()); rc != SQLITE_DONE; rc = sqlite3_step(files.get())) {
      if (rc != SQLITE_ROW) return Fail(ErrorCode::kDataLoss, "cannot read the files of " + in.string());
      std::string rel(reinterpret_cast<const char*>(sqlite3_column_text(files.get(), 0)));
      auto mode = static_cast<mode_t>(sqlite3_column_int64(files.get(), 1) & 0777);
      const auto* blob = static_cast<const char*>(sqlite3_column_blob(files.get(), 2));
      std::string data(blob != nullptr ? blob : "", static_cast<size_t>(sqlite3_column_bytes(files.get(), 2)));
      if (!SafeRelativePath(rel) || SkippedStateFile(rel)) {
        return Fail(ErrorCode::kInvalidArgument, in.string() + " names a file outside the state dir: " + rel);
      }
      fs::path target = state_dir / rel;
      std::vector<fs::path> missing;  // directories to make, innermost first
      for (fs::path d = target.parent_path(); d != state_dir && !fs::exists(d, ec); d = d.parent_path()) {
        missing.push_back(d);
      }
      for (auto d = missing.rbegin(); d != missing.rend(); ++d) {
        if (::mkdir(d->c_str(), 0700) != 0 && errno != EEXIST) {
          return Fail(ErrorCode::kUnavailable, "cannot create " + d->string() + ": " + std::strerror(errno));
        }
        PALAVER_RETURN_IF_ERROR(own(*d));
      }
      PALAVER_RETURN_IF_ERROR(sdk::WriteFileAtomically(target, data, mode));
      PALAVER_RETURN_IF_ERROR(own(target));
      ++report.files;
    }
    return OkStatus();
  }();
  if (!st) {
    fs::remove(tmp, ec);
    fs::remove(tmp.string() + "-journal", ec);
    return Fail(st.error());
  }
  // The previous database stays as palaver.db.pre-restore (until the next restore).
  fs::path previous = state_dir / "palaver.db.pre-restore";
  if (fs::exists(db_path, ec)) {
    // Fold its WAL into it first, so the kept copy is whole.
    if (auto old = OpenDb(db_path, SQLITE_OPEN_READWRITE)) (void)Exec(old->get(), "PRAGMA wal_checkpoint(TRUNCATE)");
    fs::rename(db_path, previous, ec);
    if (ec) {
      fs::remove(tmp, ec);
      return Fail(ErrorCode::kUnavailable, "cannot move the old database aside: " + ec.message());
    }
  }
  for (const char* suffix : {"-wal", "-shm", "-journal"}) fs::remove(db_path.string() + suffix, ec);
  fs::rename(tmp, db_path, ec);
  if (ec) return Fail(ErrorCode::kUnavailable, "cannot put the restored database in place: " + ec.message());
  Status owned = own(db_path);
  SyncPath(state_dir);
  if (!owned) return Fail(ErrorCode::kUnavailable, "restored, but " + owned.error().message);
  report.database_bytes = static_cast<int64_t>(fs::file_size(db_path, ec));
  return report;
}

}  // namespace palaver::host
