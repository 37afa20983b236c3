#include "ldap_client.hpp"

#include <ldap.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>

namespace palaver::directory {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

// libldap's own text for `rc`, plus the server's or TLS layer's diagnostic message when there is
// one (e.g. "(unknown error code)" alone would not say that the certificate was refused).
std::string Describe(LDAP* ld, int rc) {
  std::string text = ldap_err2string(rc);
  char* diag = nullptr;
  if (ld != nullptr && ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag) == LDAP_OPT_SUCCESS && diag != nullptr) {
    if (*diag != '\0') text += std::string(": ") + diag;
    ldap_memfree(diag);
  }
  return text;
}

// Whether `rc` means the server (or the way to it) is gone, so the connection must be dropped.
bool ConnectionLost(int rc) {
  return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT || rc == LDAP_UNAVAILABLE ||
         rc == LDAP_BUSY || rc == LDAP_LOCAL_ERROR || rc == LDAP_ENCODING_ERROR || rc == LDAP_DECODING_ERROR ||
         rc == LDAP_TIMELIMIT_EXCEEDED || rc == LDAP_OTHER || rc == LDAP_PROTOCOL_ERROR;
}

// Whether a fresh connection may succeed where this one failed: the server closed an idle
// connection (restart, idle timeout). Not after a timeout: a hung server would double the wait.
bool WorthRetrying(int rc) { return rc == LDAP_SERVER_DOWN; }

Error Unavailable(const std::string& what) {
  return Error{ErrorCode::kUnavailable, "directory unavailable: " + what, "the user directory is unavailable"};
}

}  // namespace

const std::string& LdapEntry::First(std::string_view name) const {
  static const std::string empty;
  const auto* all = All(name);
  return all == nullptr || all->empty() ? empty : all->front();
}

const std::vector<std::string>* LdapEntry::All(std::string_view name) const {
  auto it = attrs.find(Lower(name));
  return it == attrs.end() ? nullptr : &it->second;
}

struct LibLdapClient::Conn {
  LDAP* ld = nullptr;
  std::string uri;
  ~Conn() {
    if (ld != nullptr) ldap_unbind_ext_s(ld, nullptr, nullptr);
  }
};

Result<std::string> ReadBindPassword(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(ErrorCode::kFailedPrecondition, "cannot read ldap_bind_password_file " + path);
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) return Fail(ErrorCode::kFailedPrecondition, "ldap_bind_password_file " + path + " is empty");
  return line;
}

LibLdapClient::LibLdapClient(LdapConfig config, std::string bind_password)
    : config_(std::move(config)), bind_password_(std::move(bind_password)) {}

LibLdapClient::~LibLdapClient() = default;

Result<std::unique_ptr<LibLdapClient::Conn>> LibLdapClient::ConnectTo(const std::string& uri) {
  auto conn = std::make_unique<Conn>();
  conn->uri = uri;
  int rc = ldap_initialize(&conn->ld, uri.c_str());
  if (rc != LDAP_SUCCESS) return Fail(Unavailable(uri + ": " + ldap_err2string(rc)));
  LDAP* ld = conn->ld;
  int version = LDAP_VERSION3;
  ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
  ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
  ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON);
  timeval connect_timeout = ToTimeval(config_.connect_timeout);
  timeval timeout = ToTimeval(config_.timeout);
  ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &connect_timeout);
  ldap_set_option(ld, LDAP_OPT_TIMEOUT, &timeout);
  // TLS: the server's certificate must chain to the CA file (or the system's CAs) and name the
  // host of the URI; at least TLS 1.2. The options go into this handle's own TLS context.
  int require = LDAP_OPT_X_TLS_DEMAND;
  ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &require);
  int min_protocol = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2;
  ldap_set_option(ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &min_protocol);
  if (!config_.ca_file.empty()) ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, config_.ca_file.c_str());
  int is_server = 0;
  rc = ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &is_server);
  if (rc != LDAP_OPT_SUCCESS) return Fail(Unavailable(uri + ": TLS set-up failed: " + Describe(ld, rc)));
  bool ldaps = uri.rfind("ldaps://", 0) == 0;
  if (!ldaps && config_.starttls) {
    rc = ldap_start_tls_s(ld, nullptr, nullptr);
    if (rc != LDAP_SUCCESS) {
      // libldap does not say why the handshake failed; the usual reasons do.
      std::string hint = rc == LDAP_CONNECT_ERROR
                             ? " (is the certificate from the CA in ldap_ca_file, valid, and for this host name?)"
                             : "";
      return Fail(Unavailable(uri + ": StartTLS failed: " + Describe(ld, rc) + hint));
    }
  }
  PALAVER_RETURN_IF_ERROR(BindService(*conn));
  return conn;
}

Status LibLdapClient::BindService(Conn& conn) {
  berval cred{};
  cred.bv_val = const_cast<char*>(bind_password_.data());
  cred.bv_len = bind_password_.size();
  const char* dn = config_.bind_dn.empty() ? "" : config_.bind_dn.c_str();
  int rc = ldap_sasl_bind_s(conn.ld, dn, LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr);
  if (rc == LDAP_SUCCESS) return OkStatus();
  if (rc == LDAP_INVALID_CREDENTIALS) {
    return Fail(Unavailable(conn.uri + ": the service bind as ldap_bind_dn was rejected (check the password file)"));
  }
  return Fail(Unavailable(conn.uri + ": service bind failed: " + Describe(conn.ld, rc)));
}

Result<std::unique_ptr<LibLdapClient::Conn>> LibLdapClient::Connect() {
  size_t first;
  {
    std::lock_guard lock(mu_);
    first = preferred_uri_;
  }
  std::string errors;
  for (size_t i = 0; i < config_.uris.size(); ++i) {
    size_t index = (first + i) % config_.uris.size();
    auto conn = ConnectTo(config_.uris[index]);
    if (conn) {
      std::lock_guard lock(mu_);
      preferred_uri_ = index;
      return conn;
    }
    if (!errors.empty()) errors += "; ";
    errors += conn.error().message;
  }
  return Fail(ErrorCode::kUnavailable, errors, "the user directory is unavailable");
}

Result<std::unique_ptr<LibLdapClient::Conn>> LibLdapClient::Acquire() {
  {
    std::unique_lock lock(mu_);
    auto deadline = std::chrono::steady_clock::now() + config_.timeout;
    while (idle_.empty() && open_ >= config_.pool_size) {
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() && open_ >= config_.pool_size) {
        return Fail(ErrorCode::kUnavailable, "directory unavailable: every LDAP connection busy",
                    "the user directory is unavailable");
      }
    }
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
    ++open_;  // a slot for the connection made below, outside the lock
  }
  auto conn = Connect();
  if (!conn) {
    std::lock_guard lock(mu_);
    --open_;
    cv_.notify_one();
  }
  return conn;
}

void LibLdapClient::Release(std::unique_ptr<Conn> conn, bool healthy) {
  std::lock_guard lock(mu_);
  if (healthy) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
    conn.reset();
  }
  cv_.notify_one();
}

Result<std::vector<LdapEntry>> LibLdapClient::Search(const LdapSearch& s) {
  // A connection dropped by the server while idle (restart, idle timeout) fails on first use:
  // one retry on a fresh connection.
  for (int attempt = 0;; ++attempt) {
    PALAVER_ASSIGN_OR_RETURN(auto conn, Acquire());
    LDAP* ld = conn->ld;
    std::vector<std::string> attr_names = s.attrs.empty() ? std::vector<std::string>{"1.1"} : s.attrs;
    std::vector<char*> attrs;
    attrs.reserve(attr_names.size() + 1);
    for (auto& a : attr_names) attrs.push_back(a.data());
    attrs.push_back(nullptr);
    int scope = s.base_object ? LDAP_SCOPE_BASE : s.subtree ? LDAP_SCOPE_SUBTREE : LDAP_SCOPE_ONELEVEL;
    size_t limit = s.limit != 0 ? s.limit : static_cast<size_t>(config_.max_entries);
    std::vector<LdapEntry> entries;
    berval* cookie = nullptr;
    int failure = LDAP_SUCCESS;
    do {
      LDAPControl* page = nullptr;
      LDAPControl* server_controls[2] = {nullptr, nullptr};
      if (s.paged && !s.base_object) {
        int page_size =
            static_cast<int>(std::min<size_t>(static_cast<size_t>(config_.page_size), limit - entries.size()));
        if (ldap_create_page_control(ld, page_size, cookie, 0, &page) != LDAP_SUCCESS) {
          failure = LDAP_NO_MEMORY;
          break;
        }
        server_controls[0] = page;
      }
      ber_bvfree(cookie);
      cookie = nullptr;
      timeval tv = ToTimeval(config_.timeout);
      LDAPMessage* res = nullptr;
      int size_limit = s.paged ? 0 : static_cast<int>(limit);
      int rc = ldap_search_ext_s(ld, s.base.c_str(), scope, s.filter.c_str(), attrs.data(), 0,
                                 page != nullptr ? server_controls : nullptr, nullptr, &tv, size_limit, &res);
      if (page != nullptr) ldap_control_free(page);
      if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED && res == nullptr) {
        failure = rc;
        break;
      }
      for (LDAPMessage* e = ldap_first_entry(ld, res); e != nullptr && entries.size() < limit;
           e = ldap_next_entry(ld, e)) {
        LdapEntry entry;
        if (char* dn = ldap_get_dn(ld, e)) {
          entry.dn = dn;
          ldap_memfree(dn);
        }
        BerElement* ber = nullptr;
        for (char* a = ldap_first_attribute(ld, e, &ber); a != nullptr; a = ldap_next_attribute(ld, e, ber)) {
          auto& values = entry.attrs[Lower(a)];
          if (berval** vals = ldap_get_values_len(ld, e, a)) {
            for (int i = 0; vals[i] != nullptr; ++i) values.emplace_back(vals[i]->bv_val, vals[i]->bv_len);
            ldap_value_free_len(vals);
          }
          ldap_memfree(a);
        }
        if (ber != nullptr) ber_free(ber, 0);
        entries.push_back(std::move(entry));
      }
      int result = LDAP_SUCCESS;
      LDAPControl** response_controls = nullptr;
      rc = ldap_parse_result(ld, res, &result, nullptr, nullptr, nullptr, &response_controls, 1);
      if (rc != LDAP_SUCCESS) {
        failure = rc;
        break;
      }
      if (result != LDAP_SUCCESS && result != LDAP_SIZELIMIT_EXCEEDED) {
        if (response_controls != nullptr) ldap_controls_free(response_controls);
        failure = result;
        break;
      }
      if (response_controls != nullptr) {
        if (LDAPControl* c = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, response_controls, nullptr)) {
          ber_int_t estimate = 0;
          berval next{};
          if (ldap_parse_pageresponse_control(ld, c, &estimate, &next) == LDAP_SUCCESS && next.bv_len > 0) {
            cookie = ber_bvdup(&next);
          }
          if (next.bv_val != nullptr) ldap_memfree(next.bv_val);
        }
        ldap_controls_free(response_controls);
      }
      if (result == LDAP_SIZELIMIT_EXCEEDED) break;  // an unpaged search hit `limit`, or the server's limit
    } while (cookie != nullptr && entries.size() < limit);
    if (cookie != nullptr) {
      // Stopped early: tell the server to drop the paged search's state (page size 0).
      LDAPControl* page = nullptr;
      if (ldap_create_page_control(ld, 0, cookie, 0, &page) == LDAP_SUCCESS) {
        LDAPControl* server_controls[2] = {page, nullptr};
        LDAPMessage* res = nullptr;
        timeval tv = ToTimeval(config_.timeout);
        ldap_search_ext_s(ld, s.base.c_str(), scope, s.filter.c_str(), attrs.data(), 0, server_controls, nullptr, &tv,
                          0, &res);
        if (res != nullptr) ldap_msgfree(res);
        ldap_control_free(page);
      }
      ber_bvfree(cookie);
    }
    if (failure == LDAP_SUCCESS) {
      Release(std::move(conn), true);
      return entries;
    }
    if (failure == LDAP_NO_SUCH_OBJECT) {
      Release(std::move(conn), true);
      return std::vector<LdapEntry>{};
    }
    std::string what = conn->uri + ": search failed: " + Describe(ld, failure);
    bool lost = ConnectionLost(failure);
    Release(std::move(conn), !lost);
    if (lost && attempt == 0 && WorthRetrying(failure)) continue;
    if (lost) return Fail(Unavailable(what));
    if (failure == LDAP_FILTER_ERROR || failure == LDAP_INVALID_DN_SYNTAX || failure == LDAP_INAPPROPRIATE_MATCHING) {
      return Fail(ErrorCode::kInvalidArgument, what, "the user directory refused the query");
    }
    return Fail(ErrorCode::kInternal, what, "the user directory failed");
  }
}

Status LibLdapClient::CheckPassword(const std::string& dn, std::string_view password) {
  if (password.empty() || dn.empty()) {
    return Fail(ErrorCode::kUnauthenticated, "empty password or DN", "invalid username or password");
  }
  for (int attempt = 0;; ++attempt) {
    PALAVER_ASSIGN_OR_RETURN(auto conn, Acquire());
    berval cred{};
    cred.bv_val = const_cast<char*>(password.data());
    cred.bv_len = password.size();
    int rc = ldap_sasl_bind_s(conn->ld, dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr);
    std::string what = Describe(conn->ld, rc);
    if (ConnectionLost(rc)) {
      Release(std::move(conn), false);
      if (attempt == 0 && WorthRetrying(rc)) continue;
      return Fail(Unavailable("password check: " + what));
    }
    // Back to the service identity before the connection serves anyone else.
    bool healthy = static_cast<bool>(BindService(*conn));
    Release(std::move(conn), healthy);
    if (rc == LDAP_SUCCESS) return OkStatus();
    if (rc == LDAP_INVALID_CREDENTIALS || rc == LDAP_INAPPROPRIATE_AUTH || rc == LDAP_UNWILLING_TO_PERFORM ||
        rc == LDAP_CONSTRAINT_VIOLATION || rc == LDAP_INVALID_DN_SYNTAX || rc == LDAP_NO_SUCH_OBJECT) {
      return Fail(ErrorCode::kUnauthenticated, "bind refused: " + what, "invalid username or password");
    }
    return Fail(ErrorCode::kInternal, "password check: " + what, "the user directory failed");
  }
}

}  // namespace palaver::directory
