#include "json_text.hpp"

#include <cstdint>

namespace palaver::kvs {
namespace {

Error Bad(const std::string& why, size_t pos) {
  std::string text = "invalid JSON: " + why + " at byte " + std::to_string(pos);
  return Error{ErrorCode::kInvalidArgument, text, text};
}

// A recursive-descent reader over the text; every Read* advances `pos_` past what it read.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  size_t pos() const { return pos_; }
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }

  void SkipSpace() {
    while (!AtEnd() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) ++pos_;
  }

  Status Expect(char c) {
    if (Peek() != c) return Fail(Bad(std::string("expected '") + c + "'", pos_));
    ++pos_;
    return OkStatus();
  }

  Status ReadValue(int depth) {
    if (depth > kMaxJsonDepth) return Fail(Bad("nested too deeply", pos_));
    switch (Peek()) {
      case '{': return ReadObject(depth + 1, nullptr);
      case '[': return ReadArray(depth + 1);
      case '"': return ReadString(nullptr);
      case 't': return ReadWord("true");
      case 'f': return ReadWord("false");
      case 'n': return ReadWord("null");
      default: return ReadNumber();
    }
  }

  // `members` (optional) receives each member's decoded name and raw value text.
  Status ReadObject(int depth, std::vector<JsonMember>* members) {
    PALAVER_RETURN_IF_ERROR(Expect('{'));
    SkipSpace();
    if (Peek() == '}') {
      ++pos_;
      return OkStatus();
    }
    for (;;) {
      SkipSpace();
      if (Peek() != '"') return Fail(Bad("expected a member name", pos_));
      std::string name;
      PALAVER_RETURN_IF_ERROR(ReadString(&name));
      SkipSpace();
      PALAVER_RETURN_IF_ERROR(Expect(':'));
      SkipSpace();
      size_t start = pos_;
      PALAVER_RETURN_IF_ERROR(ReadValue(depth));
      if (members != nullptr) {
        for (const auto& m : *members) {
          if (m.name == name) return Fail(Bad("member \"" + name + "\" given twice", start));
        }
        members->push_back({std::move(name), text_.substr(start, pos_ - start)});
      }
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      return Expect('}');
    }
  }

  Status ReadArray(int depth) {
    PALAVER_RETURN_IF_ERROR(Expect('['));
    SkipSpace();
    if (Peek() == ']') {
      ++pos_;
      return OkStatus();
    }
    for (;;) {
      SkipSpace();
      PALAVER_RETURN_IF_ERROR(ReadValue(depth));
      SkipSpace();
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      return Expect(']');
    }
  }

  // A string literal; `out` (optional) receives it decoded to UTF-8.
  Status ReadString(std::string* out) {
    PALAVER_RETURN_IF_ERROR(Expect('"'));
    for (;;) {
      if (AtEnd()) return Fail(Bad("unterminated string", pos_));
      unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return OkStatus();
      }
      if (c < 0x20) return Fail(Bad("control character in a string", pos_));
      if (c == '\\') {
        PALAVER_RETURN_IF_ERROR(ReadEscape(out));
        continue;
      }
      size_t len = Utf8Length(pos_);
      if (len == 0) return Fail(Bad("invalid UTF-8", pos_));
      if (out != nullptr) out->append(text_.substr(pos_, len));
      pos_ += len;
    }
  }

 private:
  Status ReadWord(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return Fail(Bad("unexpected character", pos_));
    pos_ += word.size();
    return OkStatus();
  }

  static bool Digit(char c) { return c >= '0' && c <= '9'; }

  // RFC 8259 §6: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? — kept as text, any magnitude.
  Status ReadNumber() {
    size_t start = pos_;
    if (Peek() == '-') ++pos_;
    if (Peek() == '0') {
      ++pos_;
    } else if (Digit(Peek())) {
      while (Digit(Peek())) ++pos_;
    } else {
      return Fail(Bad(pos_ == start ? "unexpected character" : "a digit must follow '-'", pos_));
    }
    if (Peek() == '.') {
      ++pos_;
      if (!Digit(Peek())) return Fail(Bad("a digit must follow '.'", pos_));
      while (Digit(Peek())) ++pos_;
    }
    if (Peek() == 'e' || Peek() == 'E') {
      ++pos_;
      if (Peek() == '+' || Peek() == '-') ++pos_;
      if (!Digit(Peek())) return Fail(Bad("a digit must follow the exponent", pos_));
      while (Digit(Peek())) ++pos_;
    }
    return OkStatus();
  }

  Result<uint32_t> ReadHex4() {
    if (pos_ + 4 > text_.size()) return Fail(Bad("short \\u escape", pos_));
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<uint32_t>(c - 'A' + 10);
      else return Fail(Bad("bad \\u escape", pos_ - 1));
    }
    return v;
  }

  Status ReadEscape(std::string* out) {
    ++pos_;  // the backslash
    if (AtEnd()) return Fail(Bad("unterminated escape", pos_));
    char e = text_[pos_++];
    char plain = 0;
    switch (e) {
      case '"': plain = '"'; break;
      case '\\': plain = '\\'; break;
      case '/': plain = '/'; break;
      case 'b': plain = '\b'; break;
      case 'f': plain = '\f'; break;
      case 'n': plain = '\n'; break;
      case 'r': plain = '\r'; break;
      case 't': plain = '\t'; break;
      case 'u': break;
      default: return Fail(Bad("unknown escape", pos_ - 1));
    }
    if (e != 'u') {
      if (out != nullptr) out->push_back(plain);
      return OkStatus();
    }
    PALAVER_ASSIGN_OR_RETURN(uint32_t cp, ReadHex4());
    if (cp >= 0xDC00 && cp <= 0xDFFF) return Fail(Bad("lone low surrogate", pos_));
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (text_.substr(pos_, 2) != "\\u") return Fail(Bad("lone high surrogate", pos_));
      pos_ += 2;
      PALAVER_ASSIGN_OR_RETURN(uint32_t low, ReadHex4());
      if (low < 0xDC00 || low > 0xDFFF) return Fail(Bad("bad surrogate pair", pos_));
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    if (out != nullptr) AppendUtf8(*out, cp);
    return OkStatus();
  }

  static void AppendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // Length of the well-formed UTF-8 sequence at `at` (no overlongs, surrogates or > U+10FFFF),
  // 0 when it is not one.
  size_t Utf8Length(size_t at) const {
    auto byte = [&](size_t i) { return at + i < text_.size() ? static_cast<unsigned char>(text_[at + i]) : 0u; };
    unsigned c = byte(0);
    auto cont = [&](size_t i) { return (byte(i) & 0xC0) == 0x80; };
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
      unsigned c1 = byte(1);
      if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F)) return 0;
      return cont(1) && cont(2) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4) {
      unsigned c1 = byte(1);
      if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F)) return 0;
      return cont(1) && cont(2) && cont(3) ? 4 : 0;
    }
    return 0;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

Status ValidateJsonText(std::string_view text) {
  Reader r(text);
  r.SkipSpace();
  if (r.AtEnd()) return Fail(Bad("no value", r.pos()));
  PALAVER_RETURN_IF_ERROR(r.ReadValue(0));
  r.SkipSpace();
  if (!r.AtEnd()) return Fail(Bad("text after the value", r.pos()));
  return OkStatus();
}

Result<std::vector<std::vector<JsonMember>>> ParseArrayOfObjects(std::string_view text, size_t max_items) {
  std::vector<std::vector<JsonMember>> items;
  Reader r(text);
  r.SkipSpace();
  if (r.Peek() != '[') return Fail(Bad("expected an array", r.pos()));
  PALAVER_RETURN_IF_ERROR(r.Expect('['));
  r.SkipSpace();
  if (r.Peek() != ']') {
    for (;;) {
      r.SkipSpace();
      if (r.Peek() != '{') return Fail(Bad("expected an object", r.pos()));
      if (items.size() == max_items) return Fail(Bad("more than " + std::to_string(max_items) + " items", r.pos()));
      items.emplace_back();
      PALAVER_RETURN_IF_ERROR(r.ReadObject(1, &items.back()));
      r.SkipSpace();
      if (r.Peek() == ',') {
        PALAVER_RETURN_IF_ERROR(r.Expect(','));
        continue;
      }
      break;
    }
  }
  PALAVER_RETURN_IF_ERROR(r.Expect(']'));
  r.SkipSpace();
  if (!r.AtEnd()) return Fail(Bad("text after the array", r.pos()));
  return items;
}

Result<std::string> DecodeJsonString(std::string_view raw) {
  Reader r(raw);
  if (r.Peek() != '"') return Fail(Bad("expected a string", 0));
  std::string out;
  PALAVER_RETURN_IF_ERROR(r.ReadString(&out));
  if (!r.AtEnd()) return Fail(Bad("text after the string", r.pos()));
  return out;
}

}  // namespace palaver::kvs
