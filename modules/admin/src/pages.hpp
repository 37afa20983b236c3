// The console's pages (webui/admin, rendered with mstch): language choice, the English and German
// texts, the layout, and the response headers (strict CSP). Sans-I/O.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <mstch/mstch.hpp>

#include "palaver/sdk/http.hpp"
#include "palaver/sdk/i18n.hpp"

namespace palaver::admin {

using sdk::Lang;
using sdk::LangCode;
using sdk::PickLanguage;

/// A text by key (every key exists in both languages; a missing key is a bug and aborts).
/// `{}` placeholders are replaced by `args` in order.
std::string Text(Lang lang, std::string_view key, const std::vector<std::string>& args = {});
/// Every text key with its English and German text (for the completeness test).
std::vector<std::string> TextKeys();

/// What the layout shows around a page.
struct Frame {
  std::string title;       // already translated
  std::string current;     // the nav entry: "guests", "media", "users", "status", "audit"; empty: no nav
  std::string user;        // the signed-in admin's display name; empty: signed out
  std::string csrf;        // for the sign-out form
  std::string notice;      // a success message
  std::string error;       // an error message
};

/// The full HTML document: `page` rendered with `context` (all texts are added as `t_<key>`)
/// inside the layout.
std::string RenderPage(Lang lang, const std::string& page, mstch::map context, const Frame& frame);

/// A complete response: HTML, no-store, strict CSP (scripts and styles from 'self' only, no
/// inline script), no framing, `Content-Language`.
sdk::Response PageResponse(Lang lang, const std::string& page, mstch::map context, const Frame& frame,
                           int status = 200);

/// Sets the console's security headers on `response` (also for JSON answers).
void AddConsoleHeaders(sdk::Response& response);

/// Templates, stylesheet and script from webui/admin, embedded at build time.
const std::map<std::string, std::string>& AdminAssets();

}  // namespace palaver::admin
