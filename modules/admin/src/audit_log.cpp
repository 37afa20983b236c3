#include "audit_log.hpp"

namespace palaver::admin {

std::vector<sdk::Migration> AuditLog::Migrations() {
  return {{1,
           "CREATE TABLE admin_audit ("
           " id INTEGER PRIMARY KEY AUTOINCREMENT,"
           " at_ms INTEGER NOT NULL, actor TEXT NOT NULL, source TEXT NOT NULL, action TEXT NOT NULL,"
           " target TEXT NOT NULL, old_value TEXT NOT NULL, new_value TEXT NOT NULL);"
           "CREATE INDEX admin_audit_at ON admin_audit(at_ms);"}};
}

Status AuditLog::Record(const AuditEntry& e) {
  return store_.With([&](sdk::Db& db) {
    return db.Exec(
        "INSERT INTO admin_audit(at_ms, actor, source, action, target, old_value, new_value)"
        " VALUES(?, ?, ?, ?, ?, ?, ?)",
        {e.at_ms, e.actor, e.source, e.action, e.target, e.old_value, e.new_value});
  });
}

Result<std::vector<AuditEntry>> AuditLog::Search(std::string_view text, size_t limit) {
  std::vector<AuditEntry> out;
  // LIKE with an escaped pattern: the text is data, never syntax.
  std::string pattern = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') pattern += '\\';
    pattern += c;
  }
  pattern += "%";
  PALAVER_RETURN_IF_ERROR(store_.With([&](sdk::Db& db) -> Status {
    PALAVER_ASSIGN_OR_RETURN(
        auto rows,
        db.Query("SELECT id, at_ms, actor, source, action, target, old_value, new_value FROM admin_audit"
                 " WHERE ? = '' OR actor LIKE ?1 ESCAPE '\\' OR source LIKE ?1 ESCAPE '\\'"
                 " OR action LIKE ?1 ESCAPE '\\' OR target LIKE ?1 ESCAPE '\\'"
                 " OR old_value LIKE ?1 ESCAPE '\\' OR new_value LIKE ?1 ESCAPE '\\'"
                 " ORDER BY id DESC LIMIT ?",
                 {text.empty() ? std::string() : pattern, static_cast<int64_t>(limit)}));
    for (const auto& r : rows) {
      out.push_back(AuditEntry{.id = sdk::SqlInt(r[0]), .at_ms = sdk::SqlInt(r[1]), .actor = sdk::SqlText(r[2]),
                               .source = sdk::SqlText(r[3]), .action = sdk::SqlText(r[4]),
                               .target = sdk::SqlText(r[5]), .old_value = sdk::SqlText(r[6]),
                               .new_value = sdk::SqlText(r[7])});
    }
    return OkStatus();
  }));
  return out;
}

namespace {

std::string CsvCell(const std::string& v) {
  std::string cell = v;
  if (!cell.empty() && (cell[0] == '=' || cell[0] == '+' || cell[0] == '-' || cell[0] == '@' || cell[0] == '\t' ||
                        cell[0] == '\r')) {
    cell = "'" + cell;
  }
  std::string out = "\"";
  for (char c : cell) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string AuditCsv(const std::vector<AuditEntry>& entries) {
  std::string out = "id,at_ms,actor,source,action,target,old_value,new_value\r\n";
  for (const auto& e : entries) {
    out += std::to_string(e.id) + "," + std::to_string(e.at_ms) + "," + CsvCell(e.actor) + "," + CsvCell(e.source) +
           "," + CsvCell(e.action) + "," + CsvCell(e.target) + "," + CsvCell(e.old_value) + "," +
           CsvCell(e.new_value) + "\r\n";
  }
  return out;
}

}  // namespace palaver::admin
