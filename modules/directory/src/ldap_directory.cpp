#include "ldap_directory.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>

#include "ldap_filter.hpp"
#include "password.hpp"

namespace palaver::directory {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

size_t UserCost(const MappedUser& u) {
  const auto& d = u.user;
  size_t n = 128 + u.dn.size() + d.id.size() + d.username.size() + d.display_name.size() + d.given_name.size() +
             d.surname.size() + d.mail.size() + d.job_title.size() + d.mobile_phone.size() + d.office_location.size();
  for (const auto& p : d.business_phones) n += p.size() + 32;
  return n;
}

size_t UsersCost(const std::vector<MappedUser>& users) {
  size_t n = 32;
  for (const auto& u : users) n += UserCost(u);
  return n;
}

Error Refused() {
  return Error{ErrorCode::kUnauthenticated, "invalid username or password", "invalid username or password"};
}

Error NoUser() { return Error{ErrorCode::kNotFound, "no such user", "no such user"}; }

}  // namespace

LdapClock LdapClock::System() {
  return LdapClock{
      [] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
            .count();
      },
      [] {
        return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
      }};
}

LdapDirectory::LdapDirectory(LdapConfig config, std::shared_ptr<LdapClient> client, LdapClock clock,
                             std::function<void(bool, const std::string&)> on_state)
    : config_(std::move(config)),
      client_(std::move(client)),
      clock_(std::move(clock)),
      on_state_(std::move(on_state)),
      user_attrs_(UserAttributes(config_.attributes, config_.account_policy, false)),
      search_attrs_(SearchAttributes(config_.attributes)),
      users_(static_cast<size_t>(config_.cache_size / 4), config_.cache_ttl.count(), config_.cache_max_stale.count(),
             UserCost),
      searches_(static_cast<size_t>(config_.cache_size / 2), config_.cache_ttl.count(), config_.cache_max_stale.count(),
                UsersCost),
      photos_(static_cast<size_t>(config_.cache_size / 4), config_.cache_ttl.count(), config_.cache_max_stale.count(),
              [](const std::string& p) { return p.size(); }),
      groups_(static_cast<size_t>(config_.cache_size / 4), config_.cache_ttl.count(), config_.cache_max_stale.count(),
              [](const GroupSets& g) {
                size_t n = 0;
                for (const auto* s : {&g.access, &g.admin}) {
                  for (const auto& dn : *s) n += dn.size() + 48;
                }
                return n;
              }) {}

void LdapDirectory::Note(const Error* error) {
  bool up = error == nullptr || error->code != ErrorCode::kUnavailable;
  bool was = up_.exchange(up);
  if (was != up && on_state_) on_state_(up, up ? std::string("answering again") : error->message);
}

Result<std::vector<LdapEntry>> LdapDirectory::Query(const LdapSearch& search) {
  auto result = client_->Search(search);
  Note(result ? nullptr : &result.error());
  return result;
}

std::string LdapDirectory::UserFilter(const std::string& condition) const {
  return AndFilter({config_.user_filter, condition});
}

Result<std::set<std::string>> LdapDirectory::GroupMembers(const std::string& group_dn) {
  std::set<std::string> members;
  if (config_.group_mode == GroupMode::kAdInChain) {
    // AD evaluates nested membership itself (LDAP_MATCHING_RULE_IN_CHAIN).
    LdapSearch s{.base = config_.base_dn,
                 .subtree = config_.scope == "sub",
                 .filter = UserFilter("(memberOf:1.2.840.113556.1.4.1941:=" + EscapeFilterValue(group_dn) + ")")};
    PALAVER_ASSIGN_OR_RETURN(auto entries, Query(s));
    for (const auto& e : entries) members.insert(NormalizeDn(e.dn));
    return members;
  }
  const std::string& attr = config_.group_member_attribute;
  if (config_.nested_groups) {
    // Every entry with the member attribute below the group base is a group: read them all
    // (paged, one search), then walk from `group_dn` through member groups (each once, so
    // cycles end).
    LdapSearch s{.base = config_.group_base_dn.empty() ? config_.base_dn : config_.group_base_dn,
                 .filter = "(" + attr + "=*)",
                 .attrs = {attr}};
    PALAVER_ASSIGN_OR_RETURN(auto entries, Query(s));
    std::map<std::string, const std::vector<std::string>*> groups;
    for (const auto& e : entries) {
      if (const auto* values = e.All(attr)) groups[NormalizeDn(e.dn)] = values;
    }
    std::set<std::string> visited;
    std::vector<std::string> todo = {NormalizeDn(group_dn)};
    while (!todo.empty()) {
      std::string g = std::move(todo.back());
      todo.pop_back();
      if (!visited.insert(g).second) continue;
      auto it = groups.find(g);
      if (it == groups.end()) continue;
      for (const auto& dn : *it->second) {
        std::string member = NormalizeDn(dn);
        if (groups.count(member) != 0)
          todo.push_back(member);
        else
          members.insert(member);
      }
    }
    return members;
  }
  LdapSearch s{.base = group_dn, .base_object = true, .filter = "(objectClass=*)", .attrs = {attr}, .paged = false};
  PALAVER_ASSIGN_OR_RETURN(auto entries, Query(s));
  for (const auto& e : entries) {
    if (const auto* values = e.All(attr)) {
      for (const auto& dn : *values) members.insert(NormalizeDn(dn));
    }
  }
  return members;
}

Result<bool> LdapDirectory::IsMember(const std::string& group_dn, const std::string& user_dn) {
  LdapSearch s{.base_object = true, .paged = false};
  if (config_.group_mode == GroupMode::kAdInChain) {
    s.base = user_dn;
    s.filter = "(memberOf:1.2.840.113556.1.4.1941:=" + EscapeFilterValue(group_dn) + ")";
  } else {
    // The server compares DNs by its own rules (distinguishedNameMatch).
    s.base = group_dn;
    s.filter = "(" + config_.group_member_attribute + "=" + EscapeFilterValue(user_dn) + ")";
  }
  PALAVER_ASSIGN_OR_RETURN(auto entries, Query(s));
  return !entries.empty();
}

Result<LdapDirectory::GroupSets> LdapDirectory::GroupsOf(const std::string& user_dn) {
  if (config_.nested_groups) return Groups(false);
  GroupSets sets;
  std::string dn = NormalizeDn(user_dn);
  if (!config_.access_group.empty()) {
    PALAVER_ASSIGN_OR_RETURN(bool member, IsMember(config_.access_group, user_dn));
    if (member) sets.access.insert(dn);
  }
  if (!config_.admin_group.empty()) {
    PALAVER_ASSIGN_OR_RETURN(bool member, IsMember(config_.admin_group, user_dn));
    if (member) sets.admin.insert(dn);
  }
  return sets;
}

Result<LdapDirectory::GroupSets> LdapDirectory::Groups(bool fresh) {
  if (config_.access_group.empty() && config_.admin_group.empty()) return GroupSets{};
  int64_t now = clock_.monotonic_ms();
  std::optional<TtlCache<GroupSets>::Hit> cached;
  {
    std::lock_guard lock(mu_);
    cached = groups_.Get("groups", now, true);
  }
  if (cached && cached->fresh && !fresh) return cached->value;
  GroupSets sets;
  Status st = OkStatus();
  if (!config_.access_group.empty()) {
    auto access = GroupMembers(config_.access_group);
    if (access)
      sets.access = std::move(*access);
    else
      st = Fail(access.error());
  }
  if (st && !config_.admin_group.empty()) {
    auto admin = GroupMembers(config_.admin_group);
    if (admin)
      sets.admin = std::move(*admin);
    else
      st = Fail(admin.error());
  }
  if (!st) {
    if (cached && st.error().code == ErrorCode::kUnavailable) return cached->value;
    return Fail(st.error());
  }
  std::lock_guard lock(mu_);
  groups_.Put("groups", sets, clock_.monotonic_ms());
  return sets;
}

Result<MappedUser> LdapDirectory::Resolve(const LdapEntry& entry, const GroupSets& groups) {
  PALAVER_ASSIGN_OR_RETURN(MappedUser u,
                           MapEntry(entry, config_.attributes, config_.account_policy, clock_.unix_seconds()));
  std::string dn = NormalizeDn(u.dn);
  bool allowed = config_.access_group.empty() || groups.access.count(dn) != 0;
  u.user.enabled = !u.account_disabled && allowed;
  u.user.is_admin = !config_.admin_group.empty() && groups.admin.count(dn) != 0;
  return u;
}

Result<MappedUser> LdapDirectory::FetchOne(const std::string& filter) {
  LdapSearch s{.base = config_.base_dn,
               .subtree = config_.scope == "sub",
               .filter = UserFilter(filter),
               .attrs = user_attrs_,
               .limit = 2,
               .paged = false};
  PALAVER_ASSIGN_OR_RETURN(auto entries, Query(s));
  if (entries.size() != 1) return Fail(NoUser());
  PALAVER_ASSIGN_OR_RETURN(auto groups, Groups());
  auto user = Resolve(entries.front(), groups);
  if (!user) return Fail(ErrorCode::kNotFound, user.error().message, "no such user");
  return user;
}

void LdapDirectory::Remember(const MappedUser& u) {
  int64_t now = clock_.monotonic_ms();
  std::lock_guard lock(mu_);
  users_.Put("i:" + u.user.id, u, now);
  users_.Put("n:" + Lower(u.user.username), u, now);
}

Result<MappedUser> LdapDirectory::LookupCached(const std::string& key, const std::string& filter) {
  std::optional<TtlCache<MappedUser>::Hit> cached;
  {
    std::lock_guard lock(mu_);
    cached = users_.Get(key, clock_.monotonic_ms(), true);
  }
  if (cached && cached->fresh) return cached->value;
  auto user = FetchOne(filter);
  if (user) {
    Remember(*user);
    return user;
  }
  if (user.error().code == ErrorCode::kUnavailable && cached) return cached->value;  // stale, while LDAP is down
  if (user.error().code == ErrorCode::kNotFound) {
    std::lock_guard lock(mu_);
    users_.Erase(key);
  }
  return Fail(user.error());
}

Result<sdk::DirectoryUser> LdapDirectory::Authenticate(std::string_view username, std::string_view password) {
  // An empty password would be an unauthenticated bind, which servers accept for any DN.
  if (password.empty() || password.size() > kMaxPasswordBytes || password.find('\0') != std::string_view::npos) {
    return Fail(Refused());
  }
  if (username.empty() || username.size() > 256) return Fail(Refused());
  LdapSearch s{.base = config_.base_dn,
               .subtree = config_.scope == "sub",
               .filter = UserFilter(AnyEquals(config_.attributes.login, username)),
               .attrs = user_attrs_,
               .limit = 2,
               .paged = false};
  PALAVER_ASSIGN_OR_RETURN(auto entries, Query(s));
  if (entries.size() != 1) {  // none, or ambiguous
    // A bind as a DN that does not exist costs the server about what a real one does, so the
    // answer time does not tell unknown names from known ones.
    (void)client_->CheckPassword("cn=palaver-no-such-user," + config_.base_dn, password);
    return Fail(Refused());
  }
  const LdapEntry& entry = entries.front();
  // The filter matched by the attributes' equality rules; insist on the name itself (any case).
  bool same = false;
  for (const auto& attr : config_.attributes.login) {
    if (const auto* values = entry.All(attr)) {
      for (const auto& v : *values) same = same || Lower(v) == Lower(username);
    }
  }
  if (!same) return Fail(Refused());
  Status bound = client_->CheckPassword(entry.dn, password);
  Note(bound ? nullptr : &bound.error());
  if (!bound) return Fail(bound.error());
  // Group changes count at once at sign-in (the cache may be up to ldap_cache_ttl old): one
  // small membership query per group for this user (nested groups: the cached walk).
  PALAVER_ASSIGN_OR_RETURN(auto groups, GroupsOf(entry.dn));
  auto user = Resolve(entry, groups);
  if (!user) return Fail(ErrorCode::kUnauthenticated, user.error().message, "invalid username or password");
  Remember(*user);
  if (!user->user.enabled) return Fail(Refused());  // disabled, locked, expired or not in the access group
  return user->user;
}

Result<sdk::DirectoryUser> LdapDirectory::GetById(std::string_view id) {
  PALAVER_ASSIGN_OR_RETURN(std::string assertion, IdAssertion(id, config_.attributes));
  PALAVER_ASSIGN_OR_RETURN(auto user,
                           LookupCached("i:" + std::string(id), "(" + config_.attributes.uuid + "=" + assertion + ")"));
  return user.user;
}

Result<sdk::DirectoryUser> LdapDirectory::GetByUsername(std::string_view username) {
  if (username.empty() || username.size() > 256) return Fail(NoUser());
  PALAVER_ASSIGN_OR_RETURN(auto user,
                           LookupCached("n:" + Lower(username), AnyEquals(config_.attributes.login, username)));
  return user.user;
}

Result<sdk::UserPage> LdapDirectory::Search(std::string_view text, size_t skip, size_t top) {
  std::string key = Lower(text);
  std::optional<TtlCache<std::vector<MappedUser>>::Hit> cached;
  {
    std::lock_guard lock(mu_);
    cached = searches_.Get(key, clock_.monotonic_ms(), true);
  }
  std::vector<MappedUser> all;
  if (cached && cached->fresh) {
    all = std::move(cached->value);
  } else {
    LdapSearch s{.base = config_.base_dn,
                 .subtree = config_.scope == "sub",
                 .filter = UserFilter(AnyContains(search_attrs_, text)),
                 .attrs = user_attrs_};
    auto entries = Query(s);
    Result<GroupSets> groups = entries ? Groups() : Result<GroupSets>(GroupSets{});
    if (!entries || !groups) {
      const Error& e = !entries ? entries.error() : groups.error();
      if (e.code == ErrorCode::kUnavailable && cached) {
        all = std::move(cached->value);  // stale, while LDAP is down
      } else {
        return Fail(e);
      }
    } else {
      for (const auto& entry : *entries) {
        auto user = Resolve(entry, *groups);
        if (user && user->user.enabled) all.push_back(std::move(*user));
      }
      std::sort(all.begin(), all.end(), [](const MappedUser& a, const MappedUser& b) {
        auto ka = Lower(a.user.display_name);
        auto kb = Lower(b.user.display_name);
        return ka != kb ? ka < kb : Lower(a.user.username) < Lower(b.user.username);
      });
      int64_t now = clock_.monotonic_ms();
      std::lock_guard lock(mu_);
      searches_.Put(key, all, now);
      for (const auto& u : all) users_.Put("i:" + u.user.id, u, now);
    }
  }
  sdk::UserPage page;
  for (size_t i = skip; i < all.size() && page.users.size() < top; ++i) page.users.push_back(all[i].user);
  page.more = skip < all.size() && all.size() - skip > top;
  return page;
}

Result<std::string> LdapDirectory::Photo(std::string_view id) {
  if (config_.attributes.photo.empty()) return Fail(ErrorCode::kNotFound, "no photo attribute", "no photo");
  std::string key(id);
  std::optional<TtlCache<std::string>::Hit> cached;
  {
    std::lock_guard lock(mu_);
    cached = photos_.Get(key, clock_.monotonic_ms(), true);
  }
  auto answer = [](const std::string& photo) -> Result<std::string> {
    if (photo.empty()) return Fail(ErrorCode::kNotFound, "no photo", "no photo");
    return photo;
  };
  if (cached && cached->fresh) return answer(cached->value);
  auto user = GetById(id);
  if (!user) return Fail(user.error());
  MappedUser known;
  {
    std::lock_guard lock(mu_);
    auto hit = users_.Get("i:" + key, clock_.monotonic_ms(), true);
    if (hit) known = hit->value;
  }
  if (known.dn.empty()) return Fail(NoUser());
  LdapSearch s{.base = known.dn,
               .base_object = true,
               .filter = UserFilter(""),
               .attrs = {config_.attributes.photo},
               .paged = false};
  auto entries = Query(s);
  if (!entries) {
    if (entries.error().code == ErrorCode::kUnavailable && cached) return answer(cached->value);
    return Fail(entries.error());
  }
  std::string photo;
  if (entries->size() == 1) photo = entries->front().First(config_.attributes.photo);
  if (photo.size() > kMaxPhotoBytes) photo.clear();
  {
    std::lock_guard lock(mu_);
    photos_.Put(key, photo, clock_.monotonic_ms());
  }
  return answer(photo);
}

Result<sdk::UserStanding> LdapDirectory::Standing(std::string_view id) {
  PALAVER_ASSIGN_OR_RETURN(auto user, GetById(id));
  return sdk::UserStanding{user.enabled, 0};
}

Status LdapDirectory::Probe() {
  LdapSearch s{.base = config_.base_dn, .base_object = true, .filter = "(objectClass=*)", .paged = false};
  auto r = Query(s);
  if (!r) return Fail(r.error());
  return OkStatus();
}

}  // namespace palaver::directory
