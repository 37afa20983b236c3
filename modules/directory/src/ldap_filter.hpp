// LDAP search filters (RFC 4515) and identifier encodings for the LDAP backend. Pure: no I/O,
// no libldap; unit-tested without a server.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "palaver/sdk/status.hpp"

namespace palaver::directory {

/// `value` as an RFC 4515 assertion value: `*`, `(`, `)`, `\`, NUL, every other control byte and
/// every byte >= 0x80 become `\xx` (lowercase hex). What comes out can only ever match `value`
/// literally (konnect spliced usernames in unescaped; a `*` signed in as whoever matched first).
std::string EscapeFilterValue(std::string_view value);

/// Every byte as `\xx`: for binary assertion values (AD's objectGUID).
std::string EscapeFilterBytes(std::string_view bytes);

/// Whether `filter` is one parenthesised RFC 4515 filter: starts with `(`, parentheses balanced
/// (outside `\xx` escapes), nothing after the last `)`, no NUL or line break. A check of the
/// operator's config, not a full parser: the server reports anything finer.
Status ValidateFilter(std::string_view filter);

/// `(&<a><b>...)`, dropping empty parts; a single part is returned as it is.
std::string AndFilter(const std::vector<std::string>& parts);
/// `(|(<attr>=<escaped value>)...)` over `attrs` (one attribute: no `|`).
std::string AnyEquals(const std::vector<std::string>& attrs, std::string_view value);
/// `(|(<attr>=*<escaped text>*)...)` over `attrs`; empty text gives "".
std::string AnyContains(const std::vector<std::string>& attrs, std::string_view text);

/// Whether `name` is an attribute description we accept in config: a letter, then letters,
/// digits and `-` (RFC 4512 descr), or a numeric OID; optional `;options` are not accepted.
bool IsAttributeName(std::string_view name);

/// AD's objectGUID (16 bytes, the first three fields little-endian) as the RFC 4122 text form
/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (what AD tools show). Empty for a wrong length.
std::string GuidToString(std::string_view bytes);
/// The inverse of GuidToString; kNotFound-worthy input (not a UUID) gives an error.
Result<std::string> GuidFromString(std::string_view text);

/// Whether `id` may be a user id of the LDAP backend: 1-64 characters of letters, digits and
/// `-` `_` `.` `=` (ids appear in URL paths). Checked before any filter is built.
bool IsPlausibleId(std::string_view id);

/// A DN in a form to compare DNs by: lowercase ASCII, spaces around `,` and `=` removed. Not a
/// full RFC 4514 normalisation; enough for DNs as the same server hands them out.
std::string NormalizeDn(std::string_view dn);

}  // namespace palaver::directory
