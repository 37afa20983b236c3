#include "local_store.hpp"

#include "palaver/sdk/encoding.hpp"

#include <cctype>

namespace palaver::directory {
namespace {

constexpr const char* kColumns =
    "id, username, display_name, given_name, surname, mail, is_admin, enabled, photo IS NOT NULL";

sdk::DirectoryUser FromRow(const sdk::SqlRow& r) {
  sdk::DirectoryUser u;
  u.id = sdk::SqlText(r[0]);
  u.username = sdk::SqlText(r[1]);
  u.display_name = sdk::SqlText(r[2]);
  u.given_name = sdk::SqlText(r[3]);
  u.surname = sdk::SqlText(r[4]);
  u.mail = sdk::SqlText(r[5]);
  u.is_admin = sdk::SqlInt(r[6]) != 0;
  u.enabled = sdk::SqlInt(r[7]) != 0;
  u.has_photo = sdk::SqlInt(r[8]) != 0;
  return u;
}

// 16 random bytes, base64url: a stable, opaque, URL-safe id (22 characters).
std::string NewId() { return sdk::RandomToken(16); }

// Escapes LIKE wildcards so that search text is matched literally.
std::string LikePattern(std::string_view text) {
  std::string out = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "%";
}

Status CheckField(std::string_view name, std::string_view value, size_t max) {
  if (value.size() > max) {
    return Fail(ErrorCode::kInvalidArgument, std::string(name) + " too long",
                std::string(name) + " must be at most " + std::to_string(max) + " bytes");
  }
  for (unsigned char c : value) {
    if (c < 0x20) {
      return Fail(ErrorCode::kInvalidArgument, std::string(name) + " has control characters",
                  std::string(name) + " must not contain control characters");
    }
  }
  return OkStatus();
}

Error NoSuchUser(std::string_view username) {
  return Error{ErrorCode::kNotFound, "no user " + std::string(username), "no such user"};
}

}  // namespace

Status ValidateUsername(std::string_view username) {
  bool ok = !username.empty() && username.size() <= 64 && std::isalnum(static_cast<unsigned char>(username[0]));
  for (unsigned char c : username) ok = ok && (std::isalnum(c) || c == '.' || c == '_' || c == '@' || c == '-');
  if (!ok) {
    return Fail(ErrorCode::kInvalidArgument, "invalid username",
                "usernames are 1-64 letters, digits or . _ @ -, starting with a letter or digit");
  }
  return OkStatus();
}

LocalUserStore::LocalUserStore(sdk::Store& store, HashCost cost) : store_(store), cost_(cost) {}

std::vector<sdk::Migration> LocalUserStore::Migrations() {
  return {{1,
           "CREATE TABLE directory_users ("
           " id TEXT PRIMARY KEY,"
           " username TEXT NOT NULL UNIQUE COLLATE NOCASE,"
           " display_name TEXT NOT NULL DEFAULT '',"
           " given_name TEXT NOT NULL DEFAULT '',"
           " surname TEXT NOT NULL DEFAULT '',"
           " mail TEXT NOT NULL DEFAULT '',"
           " password_hash TEXT NOT NULL,"
           " is_admin INTEGER NOT NULL DEFAULT 0,"
           " enabled INTEGER NOT NULL DEFAULT 1,"
           " photo BLOB,"
           " created_at INTEGER NOT NULL DEFAULT (strftime('%s','now')));"
           "CREATE INDEX directory_users_display ON directory_users(display_name COLLATE NOCASE);"}};
}

Result<sdk::DirectoryUser> LocalUserStore::Add(const NewUser& user, std::string_view password) {
  PALAVER_RETURN_IF_ERROR(ValidateUsername(user.username));
  PALAVER_RETURN_IF_ERROR(CheckField("display name", user.display_name, 256));
  PALAVER_RETURN_IF_ERROR(CheckField("given name", user.given_name, 256));
  PALAVER_RETURN_IF_ERROR(CheckField("surname", user.surname, 256));
  PALAVER_RETURN_IF_ERROR(CheckField("mail", user.mail, 256));
  PALAVER_ASSIGN_OR_RETURN(std::string hash, HashPassword(password, cost_));
  std::string id = NewId();
  std::string display = user.display_name.empty() ? user.username : user.display_name;
  Status st = store_.With([&](sdk::Db& db) {
    return db.Exec(
        "INSERT INTO directory_users(id, username, display_name, given_name, surname, mail, password_hash, is_admin)"
        " VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
        {id, user.username, display, user.given_name, user.surname, user.mail, hash,
         static_cast<int64_t>(user.is_admin ? 1 : 0)});
  });
  if (!st) {
    if (st.error().code == ErrorCode::kAlreadyExists) {
      return Fail(ErrorCode::kAlreadyExists, "user " + user.username + " exists", "a user with this name exists");
    }
    return Fail(st.error());
  }
  return GetById(id);
}

Result<std::vector<sdk::DirectoryUser>> LocalUserStore::List() {
  std::vector<sdk::DirectoryUser> out;
  PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) -> Status {
    PALAVER_ASSIGN_OR_RETURN(auto rows, db.Query(std::string("SELECT ") + kColumns +
                                                 " FROM directory_users ORDER BY username COLLATE NOCASE"));
    for (const auto& r : rows) out.push_back(FromRow(r));
    return OkStatus();
  }));
  return out;
}

Status LocalUserStore::SetPassword(std::string_view username, std::string_view password) {
  PALAVER_ASSIGN_OR_RETURN(std::string hash, HashPassword(password, cost_));
  int changed = 0;
  PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) -> Status {
    return db.Transaction([&](sdk::Db& tx) -> Status {
      PALAVER_RETURN_IF_ERROR(tx.Exec("UPDATE directory_users SET password_hash = ? WHERE username = ?",
                                      {hash, std::string(username)}));
      changed = tx.Changes();
      return changed > 0 ? EndSessions(tx, username) : OkStatus();
    });
  }));
  if (changed == 0) return Fail(NoSuchUser(username));
  return OkStatus();
}

Status LocalUserStore::SetEnabled(std::string_view username, bool enabled) {
  int changed = 0;
  PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) -> Status {
    return db.Transaction([&](sdk::Db& tx) -> Status {
      PALAVER_RETURN_IF_ERROR(tx.Exec("UPDATE directory_users SET enabled = ? WHERE username = ?",
                                      {static_cast<int64_t>(enabled ? 1 : 0), std::string(username)}));
      changed = tx.Changes();
      return changed > 0 && !enabled ? EndSessions(tx, username) : OkStatus();
    });
  }));
  if (changed == 0) return Fail(NoSuchUser(username));
  return OkStatus();
}

Status LocalUserStore::SetAdmin(std::string_view username, bool is_admin) {
  int changed = 0;
  PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) -> Status {
    PALAVER_RETURN_IF_ERROR(db.Exec("UPDATE directory_users SET is_admin = ? WHERE username = ?",
                                    {static_cast<int64_t>(is_admin ? 1 : 0), std::string(username)}));
    changed = db.Changes();
    return OkStatus();
  }));
  if (changed == 0) return Fail(NoSuchUser(username));
  return OkStatus();
}

Status LocalUserStore::SetProfile(std::string_view username, std::optional<std::string> display_name,
                                  std::optional<std::string> mail) {
  if (display_name && display_name->size() > 256) {
    return Fail(ErrorCode::kInvalidArgument, "display name too long", "the display name must be at most 256 bytes");
  }
  if (mail && (mail->size() > 254 || (!mail->empty() && mail->find('@') == std::string::npos))) {
    return Fail(ErrorCode::kInvalidArgument, "bad mail", "the mail address must look like name@example.org");
  }
  int changed = 0;
  PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) -> Status {
    return db.Transaction([&](sdk::Db& tx) -> Status {
      PALAVER_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT 1 FROM directory_users WHERE username = ?",
                                                   {std::string(username)}));
      changed = static_cast<int>(rows.size());
      if (display_name) {
        PALAVER_RETURN_IF_ERROR(tx.Exec("UPDATE directory_users SET display_name = ? WHERE username = ?",
                                        {*display_name, std::string(username)}));
      }
      if (mail) {
        PALAVER_RETURN_IF_ERROR(
            tx.Exec("UPDATE directory_users SET mail = ? WHERE username = ?", {*mail, std::string(username)}));
      }
      return OkStatus();
    });
  }));
  if (changed == 0) return Fail(NoSuchUser(username));
  return OkStatus();
}

Status LocalUserStore::Remove(std::string_view username) {
  int changed = 0;
  PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) -> Status {
    return db.Transaction([&](sdk::Db& tx) -> Status {
      PALAVER_RETURN_IF_ERROR(tx.Exec("DELETE FROM directory_session_epochs WHERE user_id IN"
                                      " (SELECT id FROM directory_users WHERE username = ?)", {std::string(username)}));
      PALAVER_RETURN_IF_ERROR(tx.Exec("DELETE FROM directory_users WHERE username = ?", {std::string(username)}));
      changed = tx.Changes();
      return OkStatus();
    });
  }));
  if (changed == 0) return Fail(NoSuchUser(username));
  return OkStatus();
}

Result<int64_t> LocalUserStore::CountAdmins() {
  int64_t n = 0;
  PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) -> Status {
    PALAVER_ASSIGN_OR_RETURN(auto rows,
                             db.Query("SELECT count(*) FROM directory_users WHERE is_admin = 1 AND enabled = 1"));
    n = sdk::SqlInt(rows.at(0).at(0));
    return OkStatus();
  }));
  return n;
}

Result<int64_t> LocalUserStore::Count() {
  int64_t n = 0;
  PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) -> Status {
    PALAVER_ASSIGN_OR_RETURN(auto rows, db.Query("SELECT count(*) FROM directory_users"));
    n = sdk::SqlInt(rows.at(0).at(0));
    return OkStatus();
  }));
  return n;
}

const std::string& LocalUserStore::DummyHash() {
  std::call_once(dummy_once_, [this] {
    auto h = HashPassword(RandomPassword(), cost_);
    if (h) dummy_hash_ = *h;
  });
  return dummy_hash_;
}

Result<sdk::DirectoryUser> LocalUserStore::Authenticate(std::string_view username, std::string_view password) {
  const Error denied{ErrorCode::kUnauthenticated, "authentication failed", "invalid username or password"};
  std::string hash;
  sdk::DirectoryUser user;
  bool found = false;
  if (ValidateUsername(username)) {
    PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) -> Status {
      PALAVER_ASSIGN_OR_RETURN(auto rows, db.Query(std::string("SELECT ") + kColumns +
                                                   ", password_hash FROM directory_users WHERE username = ?",
                                                   {std::string(username)}));
      if (rows.empty()) return OkStatus();
      found = true;
      user = FromRow(rows[0]);
      hash = sdk::SqlText(rows[0][9]);
      return OkStatus();
    }));
  }
  if (!found || !user.enabled) {
    // Same work as a real check, so timing does not tell which usernames exist.
    (void)VerifyPassword(DummyHash(), password);
    return Fail(denied);
  }
  if (!VerifyPassword(hash, password)) return Fail(denied);
  return user;
}

Result<sdk::DirectoryUser> LocalUserStore::GetOne(const std::string& where, const std::string& value) {
  std::optional<sdk::DirectoryUser> user;
  PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) -> Status {
    PALAVER_ASSIGN_OR_RETURN(auto rows, db.Query(std::string("SELECT ") + kColumns + " FROM directory_users WHERE " +
                                                 where + " = ?", {value}));
    if (!rows.empty()) user = FromRow(rows[0]);
    return OkStatus();
  }));
  if (!user) return Fail(ErrorCode::kNotFound, "no user " + where + "=" + value, "no such user");
  return *user;
}

Result<sdk::DirectoryUser> LocalUserStore::GetById(std::string_view id) { return GetOne("id", std::string(id)); }

Result<sdk::DirectoryUser> LocalUserStore::GetByUsername(std::string_view username) {
  return GetOne("username", std::string(username));
}

Result<sdk::UserPage> LocalUserStore::Search(std::string_view text, size_t skip, size_t top) {
  if (top == 0 || top > 1000) return Fail(ErrorCode::kInvalidArgument, "bad page size", "$top must be 1-1000");
  if (text.size() > 256) return Fail(ErrorCode::kInvalidArgument, "search text too long", "search text too long");
  sdk::UserPage page;
  std::string pattern = LikePattern(text);
  PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) -> Status {
    PALAVER_ASSIGN_OR_RETURN(
        auto rows,
        db.Query(std::string("SELECT ") + kColumns +
                     " FROM directory_users WHERE enabled = 1 AND (username LIKE ?1 ESCAPE '\\' OR"
                     " display_name LIKE ?1 ESCAPE '\\' OR mail LIKE ?1 ESCAPE '\\')"
                     " ORDER BY display_name COLLATE NOCASE, id LIMIT ?2 OFFSET ?3",
                 {pattern, static_cast<int64_t>(top + 1), static_cast<int64_t>(skip)}));
    for (const auto& r : rows) page.users.push_back(FromRow(r));
    return OkStatus();
  }));
  if (page.users.size() > top) {
    page.users.resize(top);
    page.more = true;
  }
  return page;
}

Result<std::string> LocalUserStore::Photo(std::string_view id) {
  std::optional<std::string> photo;
  PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) -> Status {
    PALAVER_ASSIGN_OR_RETURN(auto rows, db.Query("SELECT photo FROM directory_users WHERE id = ? AND photo IS NOT NULL",
                                                 {std::string(id)}));
    if (!rows.empty()) photo = sdk::SqlText(rows[0][0]);
    return OkStatus();
  }));
  if (!photo) return Fail(ErrorCode::kNotFound, "no photo for " + std::string(id), "no photo");
  return *photo;
}

// --- session epochs ---------------------------------------------------------------------
// Kept in their own table and schema, so the users table and its migrations stay as they are.

std::vector<sdk::Migration> LocalUserStore::SessionMigrations() {
  return {{1,
           "CREATE TABLE directory_session_epochs ("
           " user_id TEXT PRIMARY KEY,"
           " epoch INTEGER NOT NULL)"}};
}

Status LocalUserStore::MigrateAll(sdk::Store& store) {
  PALAVER_RETURN_IF_ERROR(store.Migrate("directory", Migrations()));
  return store.Migrate("directory_sessions", SessionMigrations());
}

Status LocalUserStore::EndSessions(sdk::Db& db, std::string_view username) {
  return db.Exec(
      "INSERT INTO directory_session_epochs(user_id, epoch) SELECT id, 1 FROM directory_users WHERE username = ?"
      " ON CONFLICT(user_id) DO UPDATE SET epoch = epoch + 1",
      {std::string(username)});
}

Result<sdk::UserStanding> LocalUserStore::Standing(std::string_view id) {
  std::optional<sdk::UserStanding> standing;
  PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) -> Status {
    PALAVER_ASSIGN_OR_RETURN(auto rows, db.Query("SELECT u.enabled, coalesce(e.epoch, 0) FROM directory_users u"
                                                 " LEFT JOIN directory_session_epochs e ON e.user_id = u.id"
                                                 " WHERE u.id = ?", {std::string(id)}));
    if (!rows.empty()) standing = sdk::UserStanding{sdk::SqlInt(rows[0][0]) != 0, sdk::SqlInt(rows[0][1])};
    return OkStatus();
  }));
  if (!standing) return Fail(ErrorCode::kNotFound, "no user id=" + std::string(id), "no such user");
  return *standing;
}

}  // namespace palaver::directory
