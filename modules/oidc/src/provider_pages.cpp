// The sign-in pages (spec §1.13's page paths) and their no-JavaScript form. The pages cannot
// see the sign-in cookie (its path is /signin/v1/identifier/_/); the form handler, under that
// path, can.
#include <openssl/crypto.h>

#include <sstream>

#include <Poco/JSON/Parser.h>
#include <spdlog/spdlog.h>

#include "palaver/sdk/encoding.hpp"
#include "provider.hpp"

namespace palaver::oidc {
namespace {

std::string Replace(std::string text, const std::string& marker, const std::string& value) {
  if (auto pos = text.find(marker); pos != std::string::npos) text.replace(pos, marker.size(), value);
  return text;
}

bool ValidFormToken(std::string_view t) {
  if (t.size() != 32) return false;
  for (unsigned char c : t) {
    if (!std::isalnum(c) && c != '-' && c != '_') return false;
  }
  return true;
}

std::string FormCookie(const std::string& token) {
  return std::string(kFormCookie) + "=" + token + "; Path=/signin/v1/; Secure; HttpOnly; SameSite=Strict";
}

// The authorization request carried through the pages, without our own page parameters.
Params AuthorizeParams(const Params& params) {
  Params out;
  for (const auto& [k, v] : params) {
    if (k != "flow" && k != "prompt" && k != "who") out.emplace_back(k, v);
  }
  return out;
}

sdk::Response SeeOther(const std::string& location) {
  auto r = sdk::Response::Redirect(303, location);
  r.SetHeader("cache-control", "no-store");
  return r;
}

}  // namespace

PageModel Provider::SigninModel(Lang lang, const std::string& flow, const std::string& query,
                                const std::string& csrf) const {
  PageModel m{.page = "signin", .title = "signin_title"};
  m.values = {{"lead", Text(lang, "signin_lead")}, {"csrf", csrf}, {"flow", flow}, {"query", query}};
  if (upstream_) {
    std::string label = UpstreamLabel(lang);
    m.values["upstream_href"] = UpstreamStartHref(flow, query);
    m.values["upstream_label"] = Replace(Text(lang, "upstream_signin"), "{label}", label);
    m.values["upstream_or"] = Text(lang, "upstream_or");
    if (upstream_->Config().only) {
      m.values["only"] = "1";
      m.values["lead"] = Text(lang, "upstream_only_lead");
    }
  }
  return m;
}

std::string Provider::ContinueLocation(const std::string& flow, const std::string& query, const SigninSession& s) const {
  if (flow == "oidc" && !query.empty()) return std::string(kAuthorizePath) + "?" + query + "&prompt=none";
  std::string hint = "{\"n\":" + Quote(s.display_name.empty() ? s.username : s.display_name) +
                     ",\"exp\":" + std::to_string(NowSeconds() + 600) + "}";
  return "/signin/v1/welcome?who=" + sealer_->SealText("hint", hint);
}

std::string Provider::ConsentCookie(const std::string& client_id, const std::string& redirect_uri,
                                    const std::string& user_id, const std::string& scope, bool allow) const {
  std::string plain = "{\"c\":" + Quote(client_id) + ",\"r\":" + Quote(redirect_uri) + ",\"u\":" + Quote(user_id) +
                      ",\"s\":" + Quote(scope) + ",\"a\":" + (allow ? "true" : "false") +
                      ",\"exp\":" + std::to_string(NowSeconds() + 60) + "}";
  return std::string(kConsentCookie) + "=" + sealer_->SealText("consent", plain) + "; Path=" + kSessionCookiePath +
         "; Max-Age=60; Secure; HttpOnly; SameSite=Lax";
}

void Provider::HandlePage(const std::string& page, const sdk::Request& req, const sdk::Responder& respond) {
  Lang lang = PickLanguage(req.Header("accept-language").value_or(""));
  auto params = ParseForm(req.query);
  if (!params) {
    PageModel m{.page = "message", .title = "error_title", .values = {{"error", params.error().public_message}}};
    return respond(PageResponse(lang, m, 400));
  }
  // The double-submit token of the page's form (kept while valid, so several tabs work).
  std::string csrf;
  if (auto cookies = req.Header("cookie")) {
    if (auto v = CookieValue(*cookies, kFormCookie); v && ValidFormToken(*v)) csrf = *v;
  }
  if (csrf.empty()) csrf = sdk::RandomToken(24);
  std::string flow = ParamValue(*params, "flow");
  std::string query = EncodeForm(AuthorizeParams(*params));
  PageModel m;
  if (page == "identifier") {
    m = SigninModel(lang, flow, query, csrf);
  } else if (page == "chooseaccount") {
    m = {.page = "chooseaccount", .title = "chooseaccount_title"};
    m.values = {{"lead", Text(lang, "chooseaccount_lead")}, {"continue_label", Text(lang, "continue")},
                {"csrf", csrf}, {"flow", flow}, {"query", query}};
  } else if (page == "consent") {
    std::string client_id = ParamValue(*params, "client_id");
    auto client = Clients()->ForRedirect(client_id, ParamValue(*params, "redirect_uri"), Issuer());
    if (!client) {
      PageModel e{.page = "message", .title = "error_title",
                  .values = {{"lead", Text(lang, "error_lead")}, {"error", client.error().public_message}}};
      return respond(PageResponse(lang, e, 400));
    }
    m = {.page = "consent", .title = "consent_title"};
    m.values = {{"lead", Replace(Text(lang, "consent_lead"), "{client}", client->name)},
                {"csrf", csrf}, {"flow", flow}, {"query", query}};
    std::istringstream words(ParamValue(*params, "scope"));
    std::vector<std::string> requested;
    for (std::string w; words >> w;) requested.push_back(w);
    auto keys = TextKeys();
    for (const auto& s : FilterScopes(requested, true)) {
      if (std::find(keys.begin(), keys.end(), "scope_" + s) != keys.end()) m.scopes.push_back(Text(lang, "scope_" + s));
    }
  } else if (page == "welcome") {
    std::string name;
    if (auto plain = sealer_->OpenText("hint", ParamValue(*params, "who"))) {
      try {
        Poco::JSON::Parser parser;
        auto o = parser.parse(*plain).extract<Poco::JSON::Object::Ptr>();
        if (o->getValue<int64_t>("exp") > NowSeconds()) name = o->getValue<std::string>("n");
      } catch (const Poco::Exception&) {
      }
    }
    m = {.page = "message", .title = "welcome_title"};
    m.values = {{"lead", name.empty() ? Text(lang, "welcome_generic") : Replace(Text(lang, "welcome_lead"), "{name}", name)},
                {"link_href", "/meet/"}, {"link_label", Text(lang, "open_meet")}};
  } else {  // goodbye
    m = {.page = "message", .title = "goodbye_title"};
    m.values = {{"lead", Text(lang, "goodbye_lead")}, {"link_href", "/meet/"}, {"link_label", Text(lang, "signin_again")}};
  }
  auto r = PageResponse(lang, m);
  r.headers.emplace_back("set-cookie", FormCookie(csrf));
  respond(std::move(r));
}

void Provider::HandleForm(const sdk::Request& req, const sdk::Responder& respond) {
  Lang lang = PickLanguage(req.Header("accept-language").value_or(""));
  auto form = ParseForm(req.body);
  auto origin = CheckFormRequest(req);
  if (!form || !origin) {
    PageModel m{.page = "message", .title = "error_title",
                .values = {{"error", !form ? form.error().public_message : origin.error().public_message}}};
    return respond(PageResponse(lang, m, 400));
  }
  std::string flow = ParamValue(*form, "flow");
  auto carried = ParseForm(ParamValue(*form, "query"));
  if (!carried) {
    PageModel m{.page = "message", .title = "error_title", .values = {{"error", carried.error().public_message}}};
    return respond(PageResponse(lang, m, 400));
  }
  std::string query = EncodeForm(AuthorizeParams(*carried));
  std::string fresh_csrf = sdk::RandomToken(24);
  auto signin_page = [&, lang, flow, query, fresh_csrf](int status, const std::string& error_key,
                                                         const std::string& username) {
    PageModel m = SigninModel(lang, flow, query, fresh_csrf);
    if (!error_key.empty()) m.values["error"] = Replace(Text(lang, error_key), "{label}", upstream_ ? UpstreamLabel(lang) : "");
    if (!username.empty()) m.values["username"] = username;
    auto r = PageResponse(lang, m, status);
    r.headers.emplace_back("set-cookie", FormCookie(fresh_csrf));
    return r;
  };
  // Double-submit token: the hidden field must equal the page's SameSite=Strict cookie, which a
  // foreign site can neither read nor set.
  std::string token = ParamValue(*form, "csrf");
  std::optional<std::string> cookie;
  if (auto cookies = req.Header("cookie")) cookie = CookieValue(*cookies, kFormCookie);
  if (!ValidFormToken(token) || !cookie || cookie->size() != token.size() ||
      CRYPTO_memcmp(cookie->data(), token.data(), token.size()) != 0) {
    return respond(signin_page(400, "form_expired", ""));
  }
  std::string action = ParamValue(*form, "action");
  if (action == "signin") {
    std::string username = ParamValue(*form, "username");
    std::string password = ParamValue(*form, "password");
    if (username.empty() || password.empty() || username.size() > 256) {
      return respond(signin_page(400, "wrong_credentials", username.substr(0, 256)));
    }
    return Logon(username, password, req.peer,
                 [this, respond, signin_page, username, flow, query](LogonOutcome outcome, std::optional<SigninSession> s) {
                   switch (outcome) {
                     case LogonOutcome::kOk: {
                       auto r = SeeOther(ContinueLocation(flow, query, *s));
                       r.headers.emplace_back("set-cookie", SessionCookieHeader(sealer_->Seal(*s)));
                       r.headers.emplace_back("set-cookie", BrowserStateCookie(""));
                       return respond(std::move(r));
                     }
                     case LogonOutcome::kFailed:
                       return respond(signin_page(401, "wrong_credentials", username));
                     case LogonOutcome::kPasswordsOff: {
                       return respond(signin_page(403, "upstream_password_off", ""));
                     }
                     case LogonOutcome::kLimited: {
                       auto r = signin_page(429, "rate_limited", username);
                       r.SetHeader("retry-after", "300");
                       return respond(std::move(r));
                     }
                     case LogonOutcome::kUnavailable:
                       return respond(signin_page(503, "unavailable", username));
                   }
                 });
  }
  auto session = CurrentSession(req);
  if (action == "switch") {
    auto r = signin_page(200, "", "");
    r.headers.emplace_back("set-cookie", ClearSessionCookieHeader());
    r.headers.emplace_back("set-cookie", BrowserStateCookie(""));
    if (!session) return respond(std::move(r));
    return EndRecordedSession(session->sid, [respond, r = std::move(r)] { respond(r); });
  }
  if (!session) return respond(signin_page(200, "", ""));
  if (action == "continue" || action == "allow" || action == "deny") {
    // Only a session that still counts server-side may continue or decide on consent.
    return CheckSession(*session, [this, respond, signin_page, action, carried = *carried, flow, query,
                                   lang](Result<LiveSession> live) {
      if (!live && live.error().code == ErrorCode::kUnavailable) return respond(signin_page(503, "unavailable", ""));
      if (!live) return ClearingCookie(respond)(signin_page(200, "", ""));
      const SigninSession& s = live->session;
      if (action == "continue") return respond(SeeOther(ContinueLocation(flow, query, s)));
      std::string client_id = ParamValue(carried, "client_id");
      std::string redirect_uri = ParamValue(carried, "redirect_uri");
      if (!Clients()->ForRedirect(client_id, redirect_uri, Issuer())) {
        PageModel m{.page = "message", .title = "error_title", .values = {{"error", "unknown client"}}};
        return respond(PageResponse(lang, m, 400));
      }
      std::string scope = ParamValue(carried, "scope");
      auto r = SeeOther(ContinueLocation(flow, query, s));
      r.headers.emplace_back("set-cookie", ConsentCookie(client_id, redirect_uri, s.user_id, scope, action == "allow"));
      log_->info("consent {} user={} client={}", action == "allow" ? "given" : "refused", s.username, client_id);
      respond(std::move(r));
    });
  }
  PageModel m{.page = "message", .title = "error_title", .values = {{"error", "unknown action"}}};
  respond(PageResponse(lang, m, 400));
}

}  // namespace palaver::oidc
