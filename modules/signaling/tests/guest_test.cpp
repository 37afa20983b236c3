// Guest logon checks, ids and display names (spec kwm-protocol.md §2.6, §4.7).
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include "guest.hpp"
#include "palaver/sdk/encoding.hpp"

namespace palaver::signaling {
namespace {

constexpr const char* kPublic = "^group/public/.*";

GuestLogon Logon(std::string path) {
  return GuestLogon{.client_id = "meet", .scope = "openid kopano/kwm konnect/guestok", .guest = "1",
                    .path = std::move(path), .token = "", .name = "Eve"};
}

void ExpectError(const Result<std::string>& r, ErrorCode code, const std::string& public_message) {
  ASSERT_FALSE(r) << "accepted: " << *r;
  EXPECT_EQ(r.error().code, code);
  EXPECT_EQ(r.error().public_message, public_message);
}

// Checks that `s` is well-formed UTF-8 (no truncated or stray sequences).
bool ValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

std::string Repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

// A random source that must not be consulted.
std::string NoRandom(size_t) {
  ADD_FAILURE() << "random used for a non-empty name";
  return "xxxx";
}

// --- CheckGuestLogon --------------------------------------------------------------------

TEST(CheckGuestLogon, PublicPathIsAccepted) {
  auto r = CheckGuestLogon(Logon("group/public/team"), kPublic);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, "group/public/team");
}

TEST(CheckGuestLogon, MissingClientId) {
  GuestLogon l = Logon("group/public/team");
  l.client_id = "";
  ExpectError(CheckGuestLogon(l, kPublic), ErrorCode::kInvalidArgument, "missing client_id");
}

TEST(CheckGuestLogon, GuestTypeMustBeOne) {
  for (const char* type : {"", "0", "2", "01", "1 ", "true"}) {
    GuestLogon l = Logon("group/public/team");
    l.guest = type;
    ExpectError(CheckGuestLogon(l, kPublic), ErrorCode::kInvalidArgument, "unknown guest type");
  }
}

TEST(CheckGuestLogon, TokenIsUnimplemented) {
  GuestLogon l = Logon("group/public/team");
  l.token = "invite-token";
  ExpectError(CheckGuestLogon(l, kPublic), ErrorCode::kUnimplemented, "token validation not implemented");
}

TEST(CheckGuestLogon, EmptyOrBlankPath) {
  for (const char* path : {"", " ", "\t", " \r\n\t "}) {
    ExpectError(CheckGuestLogon(Logon(path), kPublic), ErrorCode::kInvalidArgument, "empty path");
  }
}

TEST(CheckGuestLogon, PathIsTrimmedBeforeMatching) {
  auto r = CheckGuestLogon(Logon("  \tgroup/public/team \r\n"), kPublic);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, "group/public/team");
}

TEST(CheckGuestLogon, RegexpMatchesAnywhereLikeGoMatchString) {
  // Unanchored: a match anywhere in the path is enough.
  auto middle = CheckGuestLogon(Logon("group/public/team"), "public");
  ASSERT_TRUE(middle);
  EXPECT_EQ(*middle, "group/public/team");
  EXPECT_TRUE(CheckGuestLogon(Logon("group/public/team"), "team$"));
  EXPECT_TRUE(CheckGuestLogon(Logon("conference/public/x"), "^(group|conference)/public/.*"));
  EXPECT_TRUE(CheckGuestLogon(Logon("group/public/"), kPublic));
  // Anchors still anchor.
  ExpectError(CheckGuestLogon(Logon("xgroup/public/team"), kPublic), ErrorCode::kPermissionDenied,
              "guest access denied");
  ExpectError(CheckGuestLogon(Logon("group/public/team"), "^public"), ErrorCode::kPermissionDenied,
              "guest access denied");
}

TEST(CheckGuestLogon, NonMatchIsDenied) {
  for (const char* path : {"group/private/team", "group/publi/x", "conference/public/x", "group/public"}) {
    ExpectError(CheckGuestLogon(Logon(path), kPublic), ErrorCode::kPermissionDenied, "guest access denied");
  }
}

TEST(CheckGuestLogon, DenialDoesNotLeakThePathToTheClient) {
  auto r = CheckGuestLogon(Logon("group/secret/x"), kPublic);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().public_message.find("secret"), std::string::npos);
}

TEST(CheckGuestLogon, EmptyRegexpMeansNothingIsPublic) {
  ExpectError(CheckGuestLogon(Logon("group/public/team"), ""), ErrorCode::kPermissionDenied, "guest access denied");
}

TEST(CheckGuestLogon, InvalidRegexpDenies) {
  for (const char* re : {"([", "*", "a{2,1}", "(?<"}) {
    ExpectError(CheckGuestLogon(Logon("group/public/team"), re), ErrorCode::kPermissionDenied,
                "guest access denied");
  }
}

TEST(CheckGuestLogon, OverlongPath) {
  std::string path = "group/public/" + std::string(512 - 13, 'a');
  ASSERT_EQ(path.size(), 512u);
  EXPECT_TRUE(CheckGuestLogon(Logon(path), kPublic));
  ExpectError(CheckGuestLogon(Logon(path + "a"), kPublic), ErrorCode::kInvalidArgument, "path too long");
}

TEST(CheckGuestLogon, CaretDoesNotMatchAfterANewline) {
  // Go's `^` (no (?m)) matches only at the start of the text; a path with an embedded line break
  // must not pass a `^group/public/` policy.
  ExpectError(CheckGuestLogon(Logon("group/private/x\ngroup/public/y"), kPublic), ErrorCode::kPermissionDenied,
              "guest access denied");
}

// --- NewGuestId ---------------------------------------------------------------------------

TEST(NewGuestId, Format) {
  static const std::regex kFormat("^[A-Za-z0-9_-]{43}=@1\\.kwmguest$");
  std::string id = NewGuestId();
  EXPECT_TRUE(std::regex_match(id, kFormat)) << id;
  EXPECT_EQ(id.size(), 44u + std::string("@1.kwmguest").size());
  // The 43 characters are the unpadded base64url of 32 bytes (the '=' completes the padding).
  auto raw = sdk::Base64UrlDecode(id.substr(0, 43));
  ASSERT_TRUE(raw) << id;
  EXPECT_EQ(raw->size(), 32u);
}

TEST(NewGuestId, DistinctEachCall) {
  std::set<std::string> ids;
  for (int i = 0; i < 200; ++i) ids.insert(NewGuestId());
  EXPECT_EQ(ids.size(), 200u);
}

// --- GuestDisplayName -------------------------------------------------------------------

TEST(GuestDisplayName, PrefixWithoutSpace) {
  EXPECT_EQ(GuestDisplayName("Eve", NoRandom), "(Guest)Eve");
  EXPECT_EQ(GuestDisplayName("Eve Smith", NoRandom), "(Guest)Eve Smith");
}

TEST(GuestDisplayName, Styles) {
  EXPECT_EQ(GuestDisplayName("Eve", NoRandom, GuestNameStyle::kPlain), "Eve");
  EXPECT_EQ(GuestDisplayName("<b>Eve</b>", NoRandom, GuestNameStyle::kPlain), "Eve");
  std::string random = GuestDisplayName("Eve", [](size_t n) { return std::string(n, 'x'); }, GuestNameStyle::kRandom);
  EXPECT_EQ(random.find("Eve"), std::string::npos);
  EXPECT_EQ(random.find("(Guest)"), std::string::npos);
  EXPECT_NE(random.find(' '), std::string::npos);  // "Adjective Animal"
  EXPECT_EQ(ParseGuestNameStyle("plain"), GuestNameStyle::kPlain);
  EXPECT_EQ(ParseGuestNameStyle("prefixed"), GuestNameStyle::kPrefixed);
  EXPECT_EQ(ParseGuestNameStyle("random"), GuestNameStyle::kRandom);
  EXPECT_FALSE(ParseGuestNameStyle("Plain"));
}

TEST(GuestDisplayName, Trimmed) {
  EXPECT_EQ(GuestDisplayName("   Eve \t\r\n", NoRandom), "(Guest)Eve");
}

TEST(GuestDisplayName, TagsStripped) {
  EXPECT_EQ(GuestDisplayName("<b>Eve</b>", NoRandom), "(Guest)Eve");
  EXPECT_EQ(GuestDisplayName("<b>Eve</b> <i class=\"x\">Smith</i>", NoRandom), "(Guest)Eve Smith");
  EXPECT_EQ(GuestDisplayName("<img src=x onerror=alert(1)>Mallory", NoRandom), "(Guest)Mallory");
  std::string out = GuestDisplayName("a<script>b</script>c<", NoRandom);
  EXPECT_EQ(out.find('<'), std::string::npos) << out;
  EXPECT_EQ(out.find('>'), std::string::npos) << out;
  EXPECT_EQ(out.rfind("(Guest)a", 0), 0u) << out;
}

TEST(GuestDisplayName, ControlCharactersRemoved) {
  EXPECT_EQ(GuestDisplayName("E\x01v\x7f" "e\n", NoRandom), "(Guest)Eve");
  EXPECT_EQ(GuestDisplayName("Eve\r\nSmith", NoRandom), "(Guest)EveSmith");
  EXPECT_EQ(GuestDisplayName(std::string("E\0ve", 4), NoRandom), "(Guest)Eve");
  EXPECT_EQ(GuestDisplayName("\x1b[31mred", NoRandom), "(Guest)[31mred");
}

TEST(GuestDisplayName, MultibyteKept) {
  EXPECT_EQ(GuestDisplayName("Zoë 😀 Müller", NoRandom), "(Guest)Zoë 😀 Müller");
}

TEST(GuestDisplayName, CutAt64Bytes) {
  EXPECT_EQ(GuestDisplayName(std::string(64, 'a'), NoRandom), "(Guest)" + std::string(64, 'a'));
  EXPECT_EQ(GuestDisplayName(std::string(65, 'a'), NoRandom), "(Guest)" + std::string(64, 'a'));
  EXPECT_EQ(GuestDisplayName(std::string(100, 'a'), NoRandom), "(Guest)" + std::string(64, 'a'));
  // The limit applies after markup is removed.
  EXPECT_EQ(GuestDisplayName("<b>" + std::string(64, 'x') + "</b>", NoRandom), "(Guest)" + std::string(64, 'x'));
  // A cut that leaves trailing blanks is trimmed again.
  EXPECT_EQ(GuestDisplayName(std::string(63, 'a') + " bbbb", NoRandom), "(Guest)" + std::string(63, 'a'));
}

TEST(GuestDisplayName, CutNeverSplitsAUtf8Character) {
  const std::string e = "é";        // 2 bytes
  const std::string euro = "€";     // 3 bytes
  const std::string smile = "😀";   // 4 bytes
  // Fits exactly.
  EXPECT_EQ(GuestDisplayName(Repeat(e, 40), NoRandom), "(Guest)" + Repeat(e, 32));
  EXPECT_EQ(GuestDisplayName(Repeat(smile, 20), NoRandom), "(Guest)" + Repeat(smile, 16));
  // Byte 64 falls inside a character: that character is dropped entirely.
  EXPECT_EQ(GuestDisplayName("a" + Repeat(e, 40), NoRandom), "(Guest)a" + Repeat(e, 31));
  EXPECT_EQ(GuestDisplayName("abc" + Repeat(smile, 20), NoRandom), "(Guest)abc" + Repeat(smile, 15));
  EXPECT_EQ(GuestDisplayName(Repeat(euro, 30), NoRandom), "(Guest)" + Repeat(euro, 21));  // 63 bytes
  EXPECT_EQ(GuestDisplayName("ab" + Repeat(euro, 30), NoRandom), "(Guest)ab" + Repeat(euro, 20) );  // 62 bytes
  // Whatever the prefix length, the result is valid UTF-8 of at most 64 bytes after "(Guest)".
  for (size_t lead = 0; lead < 8; ++lead) {
    for (const std::string& ch : {e, euro, smile}) {
      std::string out = GuestDisplayName(std::string(lead, 'z') + Repeat(ch, 40), NoRandom);
      ASSERT_EQ(out.rfind("(Guest)", 0), 0u);
      std::string name = out.substr(7);
      EXPECT_LE(name.size(), 64u) << lead;
      EXPECT_GT(name.size(), 60u) << lead;
      EXPECT_TRUE(ValidUtf8(name)) << lead << " " << ch;
    }
  }
}

TEST(GuestDisplayName, RandomAdjectiveAnimalWhenEmpty) {
  static const std::regex kFormat("^\\(Guest\\)[A-Z][a-z]+ [A-Z][a-z]+$");
  int calls = 0;
  auto random = [&calls](size_t n) {
    ++calls;
    return std::string(n, 'A');
  };
  for (const std::string& wanted : {std::string(), std::string("   "), std::string("<b></b>"),
                                    std::string("\x01\x02\t"), std::string("<only a tag>")}) {
    std::string out = GuestDisplayName(wanted, random);
    EXPECT_TRUE(std::regex_match(out, kFormat)) << "'" << wanted << "' -> " << out;
  }
  EXPECT_EQ(calls, 5);
  // The same randomness gives the same name; different randomness gives a variety of names.
  EXPECT_EQ(GuestDisplayName("", random), GuestDisplayName("", random));
  std::set<std::string> names;
  std::set<std::string> adjectives, animals;
  for (int i = 0; i < 64; ++i) {
    std::string r = {static_cast<char>('A' + i % 16), static_cast<char>('A' + i / 4), 'x', 'y'};
    std::string out = GuestDisplayName("", [r](size_t) { return r; });
    ASSERT_TRUE(std::regex_match(out, kFormat)) << out;
    names.insert(out);
    auto space = out.find(' ');
    adjectives.insert(out.substr(7, space - 7));
    animals.insert(out.substr(space + 1));
  }
  EXPECT_GT(names.size(), 16u);
  EXPECT_GT(adjectives.size(), 4u);
  EXPECT_GT(animals.size(), 4u);
}

}  // namespace
}  // namespace palaver::signaling
