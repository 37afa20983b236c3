#include "palaver/sdk/i18n.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "palaver/sdk/check.hpp"

namespace palaver::sdk {
namespace {

std::string_view Trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// The q value of one Accept-Language item ("de-DE ; q=0.9"): 1 when absent, 0 when malformed.
double QualityOf(std::string_view item) {
  size_t semi = item.find(';');
  while (semi != std::string_view::npos) {
    std::string_view param = item.substr(semi + 1);
    size_t next = param.find(';');
    std::string_view p = Trim(param.substr(0, next));
    if (p.size() >= 2 && (p[0] == 'q' || p[0] == 'Q') && Trim(p.substr(1)).front() == '=') {
      std::string text(Trim(Trim(p.substr(1)).substr(1)));
      char* end = nullptr;
      double q = std::strtod(text.c_str(), &end);
      return (end != text.c_str() && *end == '\0' && q >= 0 && q <= 1) ? q : 0;
    }
    semi = next == std::string_view::npos ? next : semi + 1 + next;
  }
  return 1.0;
}

}  // namespace

Lang PickLanguage(std::string_view header) {
  double en = 0, de = 0;
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(',', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string_view item = Trim(header.substr(pos, end - pos));
    std::string tag;
    for (char c : Trim(item.substr(0, item.find_first_of(";-")))) {
      tag += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    double q = QualityOf(item);
    if (tag == "de") de = std::max(de, q);
    if (tag == "en" || tag == "*") en = std::max(en, q);
    pos = end + 1;
  }
  return de > en ? Lang::kDe : Lang::kEn;
}

const char* LangCode(Lang lang) { return lang == Lang::kDe ? "de" : "en"; }

TextTable::TextTable(std::span<const TextEntry> entries) {
  for (const auto& e : entries) {
    PALAVER_CHECK(texts_.emplace(e.key, std::make_pair(std::string(e.en), std::string(e.de))).second);
    keys_.emplace_back(e.key);
  }
}

const std::string& TextTable::Get(Lang lang, std::string_view key) const {
  auto it = texts_.find(key);
  PALAVER_CHECK(it != texts_.end());
  return lang == Lang::kDe ? it->second.second : it->second.first;
}

std::string TextTable::Format(Lang lang, std::string_view key, const std::vector<std::string>& args) const {
  const std::string& pattern = Get(lang, key);
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern.compare(i, 2, "{}") == 0 && next < args.size()) {
      out += args[next++];
      ++i;
    } else {
      out += pattern[i];
    }
  }
  return out;
}

}  // namespace palaver::sdk
