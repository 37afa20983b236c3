// The public `sub` of konnect (spec §1.9): base64url(keyed BLAKE2b-512 over
// "<raw user id> <manager>", key "konnect-IDToken-v1") + "@konnect". Keeping konnect's derivation
// keeps subjects stable for users moving from a Kopano installation. Sans-I/O.
#pragma once

#include <string>
#include <string_view>

namespace palaver::oidc {

/// Identity manager names: konnect's "identifier-ldap" for LDAP users, "guest" for guests, and
/// "identifier-palaver" for the local user store.
inline constexpr const char* kManagerLocal = "identifier-palaver";
inline constexpr const char* kManagerGuest = "guest";

std::string PublicSubject(std::string_view raw_user_id, std::string_view manager);

}  // namespace palaver::oidc
