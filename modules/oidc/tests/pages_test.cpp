#include <gtest/gtest.h>

#include <set>
#include <string>

#include "pages.hpp"

namespace palaver::oidc {
namespace {

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The nonce attribute of the page's <style> element, or empty.
std::string StyleNonce(const std::string& html) {
  const std::string marker = "<style nonce=\"";
  size_t at = html.find(marker);
  if (at == std::string::npos) return {};
  size_t start = at + marker.size();
  size_t end = html.find('"', start);
  if (end == std::string::npos) return {};
  return html.substr(start, end - start);
}

// Decodes the character references an HTML escaper may produce (named, decimal, hexadecimal).
std::string DecodeEntities(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    size_t semi = text.find(';', i);
    if (text[i] != '&' || semi == std::string::npos) {
      out += text[i];
      continue;
    }
    std::string ref = text.substr(i + 1, semi - i - 1);
    if (ref == "amp") out += '&';
    else if (ref == "quot") out += '"';
    else if (ref == "apos") out += '\'';
    else if (ref == "lt") out += '<';
    else if (ref == "gt") out += '>';
    else if (ref.size() > 2 && (ref[1] == 'x' || ref[1] == 'X') && ref[0] == '#') out += static_cast<char>(std::stoi(ref.substr(2), nullptr, 16));
    else if (ref.size() > 1 && ref[0] == '#') out += static_cast<char>(std::stoi(ref.substr(1)));
    else out += "&" + ref + ";";
    i = semi;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Texts

TEST(Texts, EveryKeyInBothLanguages) {
  auto keys = TextKeys();
  ASSERT_FALSE(keys.empty());
  std::set<std::string> unique(keys.begin(), keys.end());
  EXPECT_EQ(unique.size(), keys.size()) << "duplicate text key";
  for (const auto& key : keys) {
    const std::string& en = Text(Lang::kEn, key);
    const std::string& de = Text(Lang::kDe, key);
    EXPECT_FALSE(en.empty()) << key;
    EXPECT_FALSE(de.empty()) << key;
    EXPECT_NE(en, de) << key << " is not translated";
  }
}

TEST(Texts, KeysThePagesAndProviderUse) {
  auto keys = TextKeys();
  std::set<std::string> have(keys.begin(), keys.end());
  for (const char* key : {"signin_title", "chooseaccount_title", "consent_title", "error_title", "error_lead",
                          "username", "password", "signin", "other_account", "allow", "deny", "welcome_title",
                          "goodbye_title", "scope_openid", "scope_profile", "scope_email", "scope_offline_access",
                          "scope_kopano/gc", "scope_kopano/kvs", "scope_kopano/kwm"}) {
    EXPECT_TRUE(have.count(key)) << key;
  }
  EXPECT_EQ(Text(Lang::kEn, "password"), "Password");
  EXPECT_EQ(Text(Lang::kDe, "password"), "Passwort");
  // Placeholders are kept in both languages.
  EXPECT_TRUE(Contains(Text(Lang::kEn, "consent_lead"), "{client}"));
  EXPECT_TRUE(Contains(Text(Lang::kDe, "consent_lead"), "{client}"));
  EXPECT_TRUE(Contains(Text(Lang::kEn, "welcome_lead"), "{name}"));
  EXPECT_TRUE(Contains(Text(Lang::kDe, "welcome_lead"), "{name}"));
}

// ---------------------------------------------------------------------------------------------
// RenderPage

const char kEvil[] = "<script>alert(1)</script>";
const char kAttrEvil[] = "x\" onfocus=\"alert(1)";

void ExpectDocument(const std::string& html, Lang lang, const std::string& nonce, const std::string& title_key) {
  EXPECT_EQ(html.rfind("<!doctype html>", 0), 0u) << html.substr(0, 40);
  EXPECT_TRUE(Contains(html, std::string("<html lang=\"") + LangCode(lang) + "\">"));
  EXPECT_EQ(StyleNonce(html), nonce);
  EXPECT_TRUE(Contains(html, "<h1 id=\"heading\">" + Text(lang, title_key) + "</h1>")) << title_key;
  EXPECT_TRUE(Contains(html, "<title>" + Text(lang, title_key)));
  EXPECT_TRUE(Contains(html, "</html>"));
  // The stylesheet is inlined (the only style source the CSP allows).
  EXPECT_FALSE(Contains(html, "<link"));
  EXPECT_FALSE(Contains(html, "{{"));  // no unrendered tags
}

void ExpectEscaped(const std::string& html) {
  EXPECT_FALSE(Contains(html, "<script>")) << html;
  EXPECT_TRUE(Contains(html, "&lt;script&gt;")) << html;
  EXPECT_FALSE(Contains(html, "\" onfocus=\"")) << html;
}

TEST(RenderPage, Signin) {
  PageModel m{.page = "signin",
              .title = "signin_title",
              .values = {{"lead", Text(Lang::kDe, "signin_lead")},
                         {"csrf", "csrf-token-1"},
                         {"flow", "oidc"},
                         {"query", "client_id=app&scope=openid"},
                         {"username", kEvil},
                         {"error", kAttrEvil}}};
  std::string html = RenderPage(Lang::kDe, m, "n0nce-1");
  ExpectDocument(html, Lang::kDe, "n0nce-1", "signin_title");
  ExpectEscaped(html);
  EXPECT_TRUE(Contains(html, "value=\"csrf-token-1\""));
  EXPECT_TRUE(Contains(html, "value=\"oidc\""));
  EXPECT_TRUE(Contains(html, "client_id=app&amp;scope=openid"));  // '&' escaped in the attribute
  EXPECT_TRUE(Contains(html, Text(Lang::kDe, "username")));
  EXPECT_TRUE(Contains(html, Text(Lang::kDe, "password")));
  EXPECT_TRUE(Contains(html, Text(Lang::kDe, "signin_lead")));
  EXPECT_FALSE(Contains(html, ">" + Text(Lang::kEn, "password") + "<"));
  EXPECT_TRUE(Contains(html, "role=\"alert\""));  // the error is shown
}

TEST(RenderPage, SigninWithoutErrorHasNoAlert) {
  PageModel m{.page = "signin", .title = "signin_title", .values = {{"csrf", "c"}}};
  std::string html = RenderPage(Lang::kEn, m, "n");
  ExpectDocument(html, Lang::kEn, "n", "signin_title");
  EXPECT_FALSE(Contains(html, "role=\"alert\""));
  EXPECT_TRUE(Contains(html, "Username"));
}

TEST(RenderPage, ChooseAccount) {
  PageModel m{.page = "chooseaccount",
              .title = "chooseaccount_title",
              .values = {{"lead", std::string("Signed in as ") + kEvil},
                         {"continue_label", kAttrEvil},
                         {"csrf", "c"},
                         {"flow", "oidc"},
                         {"query", "q"}}};
  std::string html = RenderPage(Lang::kEn, m, "abc");
  ExpectDocument(html, Lang::kEn, "abc", "chooseaccount_title");
  ExpectEscaped(html);
  EXPECT_TRUE(Contains(html, Text(Lang::kEn, "other_account")));
}

TEST(RenderPage, Consent) {
  PageModel m{.page = "consent",
              .title = "consent_title",
              .values = {{"lead", std::string(kEvil) + " bittet um die Erlaubnis:"}, {"csrf", "c"}, {"query", kAttrEvil}},
              .scopes = {Text(Lang::kDe, "scope_openid"), Text(Lang::kDe, "scope_email"), "<b>bold</b>"}};
  std::string html = RenderPage(Lang::kDe, m, "zz");
  ExpectDocument(html, Lang::kDe, "zz", "consent_title");
  ExpectEscaped(html);
  EXPECT_TRUE(Contains(html, "<li>" + Text(Lang::kDe, "scope_openid") + "</li>"));
  EXPECT_TRUE(Contains(html, "<li>" + Text(Lang::kDe, "scope_email") + "</li>"));
  EXPECT_FALSE(Contains(html, "<b>bold</b>"));
  EXPECT_TRUE(Contains(html, "&lt;b&gt;bold"));
  EXPECT_TRUE(Contains(html, Text(Lang::kDe, "allow")));
  EXPECT_TRUE(Contains(html, Text(Lang::kDe, "deny")));
}

TEST(RenderPage, ConsentListsEveryScope) {
  PageModel m{.page = "consent", .title = "consent_title", .scopes = {"one", "two", "three"}};
  std::string html = RenderPage(Lang::kEn, m, "n");
  for (const char* s : {"one", "two", "three"}) EXPECT_TRUE(Contains(html, std::string("<li>") + s + "</li>")) << s;
  PageModel none{.page = "consent", .title = "consent_title"};
  EXPECT_FALSE(Contains(RenderPage(Lang::kEn, none, "n"), "<li>"));
}

TEST(RenderPage, Message) {
  PageModel m{.page = "message",
              .title = "error_title",
              .values = {{"lead", Text(Lang::kEn, "error_lead")},
                         {"error", kEvil},
                         {"link_href", "https://meet.example.org/?a=1&b=\"2\""},
                         {"link_label", kAttrEvil}}};
  std::string html = RenderPage(Lang::kEn, m, "msg-nonce");
  ExpectDocument(html, Lang::kEn, "msg-nonce", "error_title");
  ExpectEscaped(html);
  EXPECT_TRUE(Contains(html, Text(Lang::kEn, "error_lead")));
  EXPECT_FALSE(Contains(html, "b=\"2\""));  // the href cannot be broken out of
  // The attribute value decodes back to the URL given.
  const std::string marker = "<a href=\"";
  size_t at = html.find(marker);
  ASSERT_NE(at, std::string::npos);
  size_t end = html.find('"', at + marker.size());
  ASSERT_NE(end, std::string::npos);
  EXPECT_EQ(DecodeEntities(html.substr(at + marker.size(), end - at - marker.size())),
            "https://meet.example.org/?a=1&b=\"2\"");
}

TEST(RenderPage, MessageWithoutLink) {
  PageModel m{.page = "message", .title = "goodbye_title", .values = {{"lead", Text(Lang::kDe, "goodbye_lead")}}};
  std::string html = RenderPage(Lang::kDe, m, "n");
  ExpectDocument(html, Lang::kDe, "n", "goodbye_title");
  EXPECT_TRUE(Contains(html, "<p>" + Text(Lang::kDe, "goodbye_lead") + "</p>"));
  EXPECT_FALSE(Contains(html, "<a "));
  EXPECT_FALSE(Contains(html, "role=\"alert\""));
}

TEST(RenderPage, NonceIsEscapedToo) {
  std::string html = RenderPage(Lang::kEn, PageModel{.page = "message", .title = "error_title"}, "\"><script>");
  EXPECT_FALSE(Contains(html, "<script>"));
}

TEST(SigninAssets, AllTemplatesEmbedded) {
  const auto& assets = SigninAssets();
  for (const char* name : {"layout.mustache", "signin.mustache", "chooseaccount.mustache", "consent.mustache",
                           "message.mustache", "signin.css", "check-session.html"}) {
    auto it = assets.find(name);
    ASSERT_NE(it, assets.end()) << name;
    EXPECT_FALSE(it->second.empty()) << name;
  }
}

// ---------------------------------------------------------------------------------------------
// PageResponse

TEST(PageResponse, SecurityHeaders) {
  PageModel m{.page = "message", .title = "welcome_title", .values = {{"lead", "hello"}}};
  auto r = PageResponse(Lang::kDe, m);
  EXPECT_EQ(r.status, 200);
  std::string nonce = StyleNonce(r.body);
  ASSERT_FALSE(nonce.empty());
  EXPECT_GE(nonce.size(), 16u);  // unguessable: 16 random bytes, encoded
  ASSERT_TRUE(r.Header("content-security-policy"));
  std::string csp(*r.Header("content-security-policy"));
  EXPECT_TRUE(Contains(csp, "default-src 'none'")) << csp;
  EXPECT_TRUE(Contains(csp, "style-src 'nonce-" + nonce + "'")) << csp;
  EXPECT_TRUE(Contains(csp, "frame-ancestors 'none'")) << csp;
  EXPECT_FALSE(Contains(csp, "unsafe-inline")) << csp;
  EXPECT_FALSE(Contains(csp, "script-src")) << csp;  // no scripts at all (default-src 'none')
  ASSERT_TRUE(r.Header("x-frame-options"));
  EXPECT_EQ(*r.Header("x-frame-options"), "DENY");
  ASSERT_TRUE(r.Header("content-language"));
  EXPECT_EQ(*r.Header("content-language"), "de");
  ASSERT_TRUE(r.Header("cache-control"));
  EXPECT_TRUE(Contains(std::string(*r.Header("cache-control")), "no-store"));
  ASSERT_TRUE(r.Header("content-type"));
  EXPECT_EQ(r.Header("content-type")->rfind("text/html", 0), 0u);
  EXPECT_TRUE(Contains(r.body, "<html lang=\"de\">"));
  EXPECT_TRUE(Contains(r.body, Text(Lang::kDe, "welcome_title")));
}

TEST(PageResponse, StatusLanguageAndFreshNonce) {
  PageModel m{.page = "message", .title = "error_title", .values = {{"error", "bad"}}};
  auto a = PageResponse(Lang::kEn, m, 400);
  auto b = PageResponse(Lang::kEn, m, 400);
  EXPECT_EQ(a.status, 400);
  ASSERT_TRUE(a.Header("content-language"));
  EXPECT_EQ(*a.Header("content-language"), "en");
  EXPECT_TRUE(Contains(a.body, "<html lang=\"en\">"));
  std::string na = StyleNonce(a.body), nb = StyleNonce(b.body);
  ASSERT_FALSE(na.empty());
  EXPECT_NE(na, nb);  // a new nonce for every response
  EXPECT_TRUE(Contains(std::string(*b.Header("content-security-policy")), "'nonce-" + nb + "'"));
}

}  // namespace
}  // namespace palaver::oidc
