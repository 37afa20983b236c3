// The sign-in pages (webui/signin, rendered with mstch): language choice, the English and German
// texts, and rendering. Sans-I/O.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "palaver/sdk/http.hpp"
#include "palaver/sdk/i18n.hpp"

namespace palaver::oidc {

using sdk::Lang;
using sdk::LangCode;
using sdk::PickLanguage;

/// A text by key in a language (every key exists in both; a missing key is a bug and aborts).
const std::string& Text(Lang lang, std::string_view key);
/// Every text key (for the completeness test).
std::vector<std::string> TextKeys();

/// Values for a page. Strings are HTML-escaped by the templates; `scopes` is a list.
struct PageModel {
  std::string page;   // "signin", "chooseaccount", "consent", "message"
  std::string title;  // text key; also the heading
  std::map<std::string, std::string> values;
  std::vector<std::string> scopes;
};

/// The full HTML document. `nonce` is the CSP nonce of the inline style.
std::string RenderPage(Lang lang, const PageModel& model, const std::string& nonce);

/// A complete response for a page: HTML, no-store, strict CSP with the style nonce, no framing,
/// `Content-Language`.
sdk::Response PageResponse(Lang lang, const PageModel& model, int status = 200);

/// Templates and stylesheet from webui/signin, embedded at build time.
const std::map<std::string, std::string>& SigninAssets();

}  // namespace palaver::oidc
