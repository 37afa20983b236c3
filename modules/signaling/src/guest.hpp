// Guest logon (spec kwm-protocol.md §2.6): checks and names. Sans-I/O.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "palaver/sdk/status.hpp"

namespace palaver::signaling {

struct GuestLogon {
  std::string client_id;
  std::string scope;
  std::string guest;  // guest type; only "1"
  std::string path;   // the room, e.g. "group/public/team"
  std::string token;  // invite tokens: not implemented (501), as in kwmserver
  std::string name;
};

/// The room a guest may enter: `path` trimmed, matching `public_regexp` (ECMAScript, searched
/// anywhere like Go's MatchString). kInvalidArgument (400), kPermissionDenied (403) or
/// kUnimplemented (501, a token) with kwmserver's texts.
Result<std::string> CheckGuestLogon(const GuestLogon& logon, const std::string& public_regexp);

/// `<44 characters of URL-safe base64 of 32 random bytes, padded>@1.kwmguest`.
std::string NewGuestId();

/// "(Guest)" + the name with markup and control characters removed, trimmed and cut to 64
/// characters (UTF-8 safe); a random "Adjective Animal" when nothing is left.
/// How guests are named (setting `signaling.guest_name_style`).
enum class GuestNameStyle {
  kPrefixed,  // "(Guest)" + the wanted name (kwmserver's form; the default)
  kPlain,     // the wanted name as given
  kRandom,    // always a random "Adjective Animal", whatever was asked for
};
/// The setting's text ("prefixed", "plain", "random"); nullopt for anything else.
std::optional<GuestNameStyle> ParseGuestNameStyle(std::string_view text);

std::string GuestDisplayName(const std::string& wanted, const std::function<std::string(size_t)>& random,
                             GuestNameStyle style = GuestNameStyle::kPrefixed);

}  // namespace palaver::signaling
