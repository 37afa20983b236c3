#include "gc_api.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace palaver::directory {
namespace {

const std::vector<std::string> kFields = {"id", "displayName", "givenName", "surname", "mail", "userPrincipalName",
                                          "jobTitle", "mobilePhone", "officeLocation", "businessPhones"};

Result<size_t> ParseCount(const sdk::Request& r, const char* name, size_t fallback, size_t min, size_t max) {
  auto v = r.QueryParam(name);
  if (!v) return fallback;
  size_t n = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (v->empty() || ec != std::errc() || ptr != v->data() + v->size() || n < min || n > max) {
    return Fail(ErrorCode::kInvalidArgument, "bad " + std::string(name),
                std::string(name) + " must be a number from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return n;
}

std::string Escape(std::string_view s) { return "\"" + sdk::JsonEscape(s) + "\""; }

// Whether the raw query names `name` at all (QueryParam skips values it cannot decode).
bool Names(const sdk::Request& r, std::string_view name) {
  std::string_view q = r.query;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    auto key = sdk::PercentDecode(pair.substr(0, pair.find('=')), true);
    if (key && *key == name) return true;
  }
  return false;
}

}  // namespace

Result<ListQuery> ParseListQuery(const sdk::Request& r) {
  ListQuery q;
  PALAVER_ASSIGN_OR_RETURN(q.top, ParseCount(r, "$top", 10, 1, 1000));
  PALAVER_ASSIGN_OR_RETURN(q.skip, ParseCount(r, "$skip", 0, 0, 1000000));
  auto search = r.QueryParam("$search");
  auto bad_search = [] { return Fail(ErrorCode::kInvalidArgument, "bad $search", "$search must be text without control characters"); };
  if (!search && Names(r, "$search")) return bad_search();  // e.g. %00
  q.search = search.value_or("");
  for (char c : q.search) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return bad_search();
  }
  // OData clients may quote the search term.
  if (q.search.size() >= 2 && q.search.front() == '"' && q.search.back() == '"') q.search = q.search.substr(1, q.search.size() - 2);
  if (q.search.size() > 256) return Fail(ErrorCode::kInvalidArgument, "search too long", "$search is too long");
  if (auto select = r.QueryParam("$select")) {
    std::string field;
    for (char c : *select + ",") {
      if (c != ',') {
        field.push_back(c);
        continue;
      }
      if (field.empty()) continue;
      if (std::find(kFields.begin(), kFields.end(), field) == kFields.end()) {
        return Fail(ErrorCode::kInvalidArgument, "unknown $select field", "unknown $select field " + field);
      }
      q.select.insert(field);
      field.clear();
    }
  }
  return q;
}

std::string UserJson(const sdk::DirectoryUser& u, const std::set<std::string>& select) {
  auto want = [&](const char* f) { return select.empty() || select.count(f) != 0 || std::string_view(f) == "id"; };
  std::string o = "{";
  auto add = [&](const char* key, const std::string& json) {
    if (!want(key)) return;
    if (o.size() > 1) o += ",";
    o += "\"" + std::string(key) + "\":" + json;
  };
  add("id", Escape(u.id));
  add("displayName", Escape(u.display_name));
  add("givenName", Escape(u.given_name));
  add("surname", Escape(u.surname));
  add("mail", Escape(u.mail));
  add("userPrincipalName", Escape(u.username));
  add("jobTitle", Escape(u.job_title));
  add("mobilePhone", Escape(u.mobile_phone));
  add("officeLocation", Escape(u.office_location));
  std::string phones = "[";
  for (size_t i = 0; i < u.business_phones.size(); ++i) phones += (i ? "," : "") + Escape(u.business_phones[i]);
  add("businessPhones", phones + "]");
  return o + "}";
}

std::string UserListJson(const sdk::UserPage& page, const ListQuery& q) {
  std::string o = "{\"@odata.context\":\"/api/gc/v1/users\",\"value\":[";
  for (size_t i = 0; i < page.users.size(); ++i) o += (i ? "," : "") + UserJson(page.users[i], q.select);
  o += "]";
  if (page.more) {
    std::string next = "/api/gc/v1/users?$top=" + std::to_string(q.top) + "&$skip=" + std::to_string(q.skip + q.top);
    if (!q.search.empty()) next += "&$search=" + sdk::PercentEncode(q.search);
    o += ",\"@odata.nextLink\":" + Escape(next);
  }
  return o + "}";
}

GcTarget ParseGcPath(const std::string& path) {
  GcTarget t;
  std::string rest = path.substr(std::string_view(kGcPrefix).size());
  if (rest == "me") {
    t.kind = GcTarget::Kind::kMe;
  } else if (rest == "users") {
    t.kind = GcTarget::Kind::kUsers;
  } else if (rest.rfind("users/", 0) == 0) {
    std::string tail = rest.substr(6);
    static const std::string kPhoto = "/photo/$value";
    if (tail.size() > kPhoto.size() && tail.compare(tail.size() - kPhoto.size(), kPhoto.size(), kPhoto) == 0) {
      t.kind = GcTarget::Kind::kUserPhoto;
      t.id = tail.substr(0, tail.size() - kPhoto.size());
    } else {
      t.kind = GcTarget::Kind::kUser;
      t.id = tail;
    }
    if (t.id.empty() || t.id.find('/') != std::string::npos) t = GcTarget{};
  }
  return t;
}

}  // namespace palaver::directory
