// English and German for server-rendered pages (the sign-in pages, the admin console): the
// language an `Accept-Language` header prefers, and a table of texts kept in both languages.
// Sans-I/O.
#pragma once

#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace palaver::sdk {

enum class Lang { kEn, kDe };

/// The best of English and German for an `Accept-Language` header (RFC 9110 §12.5.4: q values,
/// case-insensitive tags, `*`): English when neither is acceptable, and on a tie.
Lang PickLanguage(std::string_view accept_language);
/// "en" or "de".
const char* LangCode(Lang lang);

/// One text in both languages.
struct TextEntry {
  const char* key;
  const char* en;
  const char* de;
};

/// A module's texts. Every key exists in both languages by construction; asking for a key that is
/// not in the table is a bug and aborts.
class TextTable {
 public:
  explicit TextTable(std::span<const TextEntry> entries);

  const std::string& Get(Lang lang, std::string_view key) const;
  /// The text with each `{}` replaced by the next of `args` (surplus `{}` stay as written).
  std::string Format(Lang lang, std::string_view key, const std::vector<std::string>& args) const;
  /// Every key, in table order (for completeness tests and for filling templates).
  const std::vector<std::string>& Keys() const { return keys_; }

 private:
  std::map<std::string, std::pair<std::string, std::string>, std::less<>> texts_;
  std::vector<std::string> keys_;
};

}  // namespace palaver::sdk
