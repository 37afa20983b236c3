// Records of the key-value store in palaver.db.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "palaver/sdk/store.hpp"

namespace palaver::kvs {

/// Whose records: the user and the OAuth client (a different client sees different data).
struct Scope {
  std::string owner;
  std::string client;
  std::string realm = "user";
};

struct Record {
  std::string key;           // the full key path
  std::string value;         // bytes as stored
  std::string content_type;
};

inline constexpr size_t kMaxValueBytes = 16 * 1024;
inline constexpr size_t kMaxBatchItems = 500;
inline constexpr size_t kMaxRecurse = 500;

/// The collection of a key: its first segment when it has more than one, else empty.
std::string CollectionOf(const std::string& key);

/// Thread-safe; blocking (workers only).
class KvStore {
 public:
  explicit KvStore(sdk::Store& store) : store_(store) {}
  static std::vector<sdk::Migration> Migrations();

  /// Replaces the record (it moves to the end of the storage order, as kapi's REPLACE does).
  Status Put(const Scope& scope, const Record& record);
  /// All or nothing.
  Status PutBatch(const Scope& scope, const std::vector<Record>& records);
  Result<std::optional<Record>> Get(const Scope& scope, const std::string& key);
  /// Records of the key's collection (first segment), filtered by the key as a prefix when it has
  /// more than one segment; storage order; at most kMaxRecurse.
  Result<std::vector<Record>> List(const Scope& scope, const std::string& key);
  /// True when a record was removed.
  Result<bool> Delete(const Scope& scope, const std::string& key);

 private:
  sdk::Store& store_;
};

}  // namespace palaver::kvs
