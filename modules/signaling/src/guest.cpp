#include "guest.hpp"

#include <regex>

#include "palaver/sdk/encoding.hpp"

namespace palaver::signaling {
namespace {

std::string Trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return {};
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

}  // namespace

Result<std::string> CheckGuestLogon(const GuestLogon& logon, const std::string& public_regexp) {
  auto bad = [](const std::string& text) { return Fail(ErrorCode::kInvalidArgument, text, text); };
  if (logon.client_id.empty()) return bad("missing client_id");
  if (logon.guest != "1") return bad("unknown guest type");
  if (!logon.token.empty()) {
    return Fail(ErrorCode::kUnimplemented, "guest tokens", "token validation not implemented");
  }
  std::string path = Trim(logon.path);
  if (path.empty()) return bad("empty path");
  if (path.size() > 512) return bad("path too long");
  bool allowed = false;
  try {
    allowed = !public_regexp.empty() && std::regex_search(path, std::regex(public_regexp));
  } catch (const std::regex_error&) {
    allowed = false;
  }
  if (!allowed) return Fail(ErrorCode::kPermissionDenied, "path not public: " + path, "guest access denied");
  return path;
}

std::string NewGuestId() {
  std::string raw = sdk::RandomToken(32);  // 43 characters, unpadded
  return raw + "=@1.kwmguest";
}

std::optional<GuestNameStyle> ParseGuestNameStyle(std::string_view text) {
  if (text == "prefixed") return GuestNameStyle::kPrefixed;
  if (text == "plain") return GuestNameStyle::kPlain;
  if (text == "random") return GuestNameStyle::kRandom;
  return std::nullopt;
}

std::string GuestDisplayName(const std::string& wanted, const std::function<std::string(size_t)>& random,
                             GuestNameStyle style) {
  std::string clean;
  bool in_tag = false;
  for (unsigned char c : wanted) {
    if (c == '<') in_tag = true;
    if (!in_tag && c >= 0x20 && c != 0x7f) clean.push_back(static_cast<char>(c));
    if (c == '>') in_tag = false;
  }
  clean = Trim(clean);
  if (style == GuestNameStyle::kRandom) clean.clear();
  if (clean.size() > 64) {
    size_t cut = 64;
    while (cut > 0 && (static_cast<unsigned char>(clean[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 sequence
    clean = Trim(clean.substr(0, cut));
  }
  if (clean.empty()) {
    static const char* kAdjectives[] = {"Amber", "Brave", "Calm", "Deft", "Eager", "Fair", "Gentle", "Happy",
                                        "Jolly", "Keen", "Lively", "Merry", "Noble", "Quick", "Sunny", "Witty"};
    static const char* kAnimals[] = {"Badger", "Crane", "Dolphin", "Falcon", "Heron", "Koala", "Lynx", "Otter",
                                     "Panda", "Puffin", "Robin", "Seal", "Swift", "Tiger", "Wren", "Zebra"};
    std::string r = random(4);
    unsigned a = static_cast<unsigned char>(r.empty() ? 0 : r[0]) % 16;
    unsigned b = static_cast<unsigned char>(r.size() < 2 ? 0 : r[1]) % 16;
    clean = std::string(kAdjectives[a]) + " " + kAnimals[b];
  }
  return style == GuestNameStyle::kPrefixed ? "(Guest)" + clean : clean;
}

}  // namespace palaver::signaling
