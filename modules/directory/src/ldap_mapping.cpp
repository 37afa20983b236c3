#include "ldap_mapping.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "ldap_filter.hpp"

namespace palaver::directory {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool ToInt(const std::string& s, int64_t& out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

void AddOnce(std::vector<std::string>& list, const std::string& name) {
  if (name.empty()) return;
  for (const auto& n : list) {
    if (Lower(n) == Lower(name)) return;
  }
  list.push_back(name);
}

}  // namespace

std::vector<std::string> UserAttributes(const AttributeMap& m, AccountPolicy policy, bool with_photo) {
  std::vector<std::string> a;
  for (const auto& l : m.login) AddOnce(a, l);
  for (const auto* n : {&m.uuid, &m.display_name, &m.given_name, &m.surname, &m.mail, &m.job_title, &m.mobile_phone,
                        &m.office_location, &m.business_phone}) {
    AddOnce(a, *n);
  }
  AddOnce(a, "cn");
  if (with_photo) AddOnce(a, m.photo);
  switch (policy) {
    case AccountPolicy::kOpenLdap:
      AddOnce(a, "pwdAccountLockedTime");
      break;
    case AccountPolicy::kUnivention:
      AddOnce(a, "shadowExpire");
      AddOnce(a, "sambaAcctFlags");
      AddOnce(a, "krb5KDCFlags");
      break;
    case AccountPolicy::kActiveDirectory:
      AddOnce(a, "userAccountControl");
      AddOnce(a, "accountExpires");
      break;
  }
  return a;
}

std::vector<std::string> SearchAttributes(const AttributeMap& m) {
  std::vector<std::string> a;
  for (const auto& l : m.login) AddOnce(a, l);
  for (const auto* n : {&m.display_name, &m.given_name, &m.surname, &m.mail}) AddOnce(a, *n);
  return a;
}

bool AccountDisabled(const LdapEntry& e, AccountPolicy policy, int64_t now) {
  int64_t v = 0;
  switch (policy) {
    case AccountPolicy::kOpenLdap:
      return !e.First("pwdAccountLockedTime").empty();
    case AccountPolicy::kUnivention: {
      // shadowExpire counts days since 1970-01-01; the account is expired from that day on.
      if (ToInt(e.First("shadowExpire"), v) && v * 86400 <= now) return true;
      const std::string& flags = e.First("sambaAcctFlags");
      auto open = flags.find('[');
      auto close = flags.find(']');
      if (open != std::string::npos && close != std::string::npos && close > open) {
        std::string_view f(flags.data() + open + 1, close - open - 1);
        if (f.find('D') != std::string_view::npos || f.find('L') != std::string_view::npos) return true;
      }
      if (ToInt(e.First("krb5KDCFlags"), v) && (v & 128) != 0) return true;
      return false;
    }
    case AccountPolicy::kActiveDirectory: {
      if (ToInt(e.First("userAccountControl"), v) && (v & (2 | 16)) != 0) return true;
      // accountExpires: 100 ns intervals since 1601-01-01; 0 and 2^63-1 mean never.
      if (ToInt(e.First("accountExpires"), v) && v != 0 && v != INT64_MAX) {
        constexpr int64_t kEpochDiff = 11644473600;  // seconds from 1601 to 1970
        if (v / 10000000 - kEpochDiff <= now) return true;
      }
      return false;
    }
  }
  return false;
}

Result<MappedUser> MapEntry(const LdapEntry& e, const AttributeMap& m, AccountPolicy policy, int64_t now) {
  MappedUser out;
  out.dn = e.dn;
  for (const auto& l : m.login) {
    out.user.username = e.First(l);
    if (!out.user.username.empty()) break;
  }
  if (out.user.username.empty()) return Fail(ErrorCode::kInvalidArgument, "entry without a login attribute");
  const std::string& raw = e.First(m.uuid);
  if (m.uuid_type == UuidType::kGuid) {
    out.user.id = GuidToString(raw);
  } else {
    out.user.id = raw;
  }
  if (out.user.id.empty()) return Fail(ErrorCode::kInvalidArgument, "entry without a usable " + m.uuid);
  if (!IsPlausibleId(out.user.id)) return Fail(ErrorCode::kInvalidArgument, "entry with an unusable " + m.uuid);
  out.user.given_name = e.First(m.given_name);
  out.user.surname = e.First(m.surname);
  out.user.mail = e.First(m.mail);
  out.user.job_title = e.First(m.job_title);
  out.user.mobile_phone = e.First(m.mobile_phone);
  out.user.office_location = e.First(m.office_location);
  if (const auto* phones = m.business_phone.empty() ? nullptr : e.All(m.business_phone)) {
    out.user.business_phones = *phones;
  }
  out.user.display_name = e.First(m.display_name);
  if (out.user.display_name.empty()) out.user.display_name = e.First("cn");
  if (out.user.display_name.empty()) out.user.display_name = out.user.username;
  if (!m.photo.empty()) {
    const auto* photo = e.All(m.photo);
    out.user.has_photo = photo != nullptr && !photo->empty() && !photo->front().empty();
  }
  out.account_disabled = AccountDisabled(e, policy, now);
  out.user.enabled = !out.account_disabled;
  return out;
}

Result<std::string> IdAssertion(std::string_view id, const AttributeMap& m) {
  if (!IsPlausibleId(id)) return Fail(ErrorCode::kNotFound, "not an id", "no such user");
  if (m.uuid_type == UuidType::kGuid) {
    PALAVER_ASSIGN_OR_RETURN(std::string bytes, GuidFromString(id));
    return EscapeFilterBytes(bytes);
  }
  return EscapeFilterValue(id);
}

}  // namespace palaver::directory
