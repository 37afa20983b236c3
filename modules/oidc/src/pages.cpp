#include "pages.hpp"

#include <vector>

#include <mstch/mstch.hpp>

#include "palaver/sdk/encoding.hpp"

namespace palaver::oidc {
namespace {

// Every user-facing text of the sign-in pages.
constexpr sdk::TextEntry kTexts[] = {
    {"signin_title", "Sign in", "Anmelden"},
    {"signin_lead", "Sign in with your Palaver account.", "Melden Sie sich mit Ihrem Palaver-Konto an."},
    {"username", "Username", "Benutzername"},
    {"password", "Password", "Passwort"},
    {"signin", "Sign in", "Anmelden"},
    {"wrong_credentials", "The username or password is not correct.", "Benutzername oder Passwort ist falsch."},
    {"rate_limited", "Too many failed sign-ins. Please wait a few minutes and try again.",
     "Zu viele fehlgeschlagene Anmeldungen. Bitte warten Sie einige Minuten und versuchen Sie es erneut."},
    {"unavailable", "Signing in is not possible right now. Please try again later.",
     "Die Anmeldung ist gerade nicht möglich. Bitte versuchen Sie es später erneut."},
    {"form_expired", "The form has expired. Please try again.", "Das Formular ist abgelaufen. Bitte versuchen Sie es erneut."},
    {"chooseaccount_title", "Choose an account", "Konto auswählen"},
    {"chooseaccount_lead", "You are signed in. Continue with this account or use another one.",
     "Sie sind angemeldet. Fahren Sie mit diesem Konto fort oder verwenden Sie ein anderes."},
    {"continue", "Continue", "Weiter"},
    {"other_account", "Use another account", "Anderes Konto verwenden"},
    {"consent_title", "Allow access?", "Zugriff erlauben?"},
    {"consent_lead", "{client} asks for permission to:", "{client} bittet um die Erlaubnis:"},
    {"allow", "Allow", "Erlauben"},
    {"deny", "Cancel", "Abbrechen"},
    {"scope_openid", "Know who you are", "Zu wissen, wer Sie sind"},
    {"scope_profile", "See your name", "Ihren Namen zu sehen"},
    {"scope_email", "See your e-mail address", "Ihre E-Mail-Adresse zu sehen"},
    {"scope_offline_access", "Stay signed in while you are away", "Angemeldet zu bleiben, während Sie abwesend sind"},
    {"scope_kopano/gc", "Search the address book", "Das Adressbuch zu durchsuchen"},
    {"scope_kopano/kvs", "Keep settings and recent calls", "Einstellungen und letzte Anrufe zu speichern"},
    {"scope_kopano/kwm", "Make and receive calls", "Anrufe zu tätigen und anzunehmen"},
    {"welcome_title", "Signed in", "Angemeldet"},
    {"welcome_lead", "You are signed in as {name}.", "Sie sind als {name} angemeldet."},
    {"welcome_generic", "You are signed in.", "Sie sind angemeldet."},
    {"open_meet", "Open Palaver Meet", "Palaver Meet öffnen"},
    {"goodbye_title", "Signed out", "Abgemeldet"},
    {"goodbye_lead", "You are signed out.", "Sie sind abgemeldet."},
    {"signin_again", "Sign in again", "Wieder anmelden"},
    {"error_title", "Sign-in failed", "Anmeldung fehlgeschlagen"},
    {"error_lead", "The application sent an invalid sign-in request:", "Die Anwendung hat eine ungültige Anmeldeanfrage gesendet:"},
    {"upstream_signin", "Sign in with {label}", "Mit {label} anmelden"},
    {"upstream_or", "Or sign in with your Palaver account:", "Oder melden Sie sich mit Ihrem Palaver-Konto an:"},
    {"upstream_only_lead", "Sign in with your organisation's account.", "Melden Sie sich mit dem Konto Ihrer Organisation an."},
    {"upstream_unavailable", "{label} cannot be reached right now, so signing in is not possible. Please try again later.",
     "{label} ist gerade nicht erreichbar, daher ist die Anmeldung nicht möglich. Bitte versuchen Sie es später erneut."},
    {"upstream_misconfigured", "{label} answered in a way Palaver cannot accept. Please tell your administrator.",
     "{label} hat so geantwortet, dass Palaver es nicht annehmen kann. Bitte wenden Sie sich an Ihre Administration."},
    {"upstream_rejected", "The sign-in with {label} could not be verified. Please try again.",
     "Die Anmeldung mit {label} konnte nicht bestätigt werden. Bitte versuchen Sie es erneut."},
    {"upstream_state", "This sign-in has expired or was started in another window. Please start it again.",
     "Diese Anmeldung ist abgelaufen oder wurde in einem anderen Fenster begonnen. Bitte beginnen Sie sie erneut."},
    {"upstream_denied", "{label} did not sign you in.", "{label} hat Sie nicht angemeldet."},
    {"upstream_unknown_user", "You are signed in at {label} as {name}, but there is no Palaver account for that name. Please ask your administrator.",
     "Sie sind bei {label} als {name} angemeldet, aber für diesen Namen gibt es kein Palaver-Konto. Bitte wenden Sie sich an Ihre Administration."},
    {"upstream_disabled", "Your Palaver account {name} is disabled. Please ask your administrator.",
     "Ihr Palaver-Konto {name} ist deaktiviert. Bitte wenden Sie sich an Ihre Administration."},
    {"upstream_password_off", "Signing in with a password is turned off here. Please use {label}.",
     "Die Anmeldung mit Passwort ist hier abgeschaltet. Bitte verwenden Sie {label}."},
    {"try_again", "Try again", "Erneut versuchen"},
};

const sdk::TextTable& Table() {
  static const sdk::TextTable table{kTexts};
  return table;
}

}  // namespace

const std::string& Text(Lang lang, std::string_view key) { return Table().Get(lang, key); }

std::vector<std::string> TextKeys() { return Table().Keys(); }

std::string RenderPage(Lang lang, const PageModel& model, const std::string& nonce) {
  const auto& assets = SigninAssets();
  mstch::map context;
  for (const auto& key : {"username", "password", "signin", "other_account", "allow", "deny"}) {
    context.emplace(std::string("t_") + key, Text(lang, key));
  }
  for (const auto& [k, v] : model.values) context[k] = v;
  mstch::array scopes;
  for (const auto& s : model.scopes) scopes.emplace_back(s);
  context["scopes"] = scopes;
  std::string body = mstch::render(assets.at(model.page + ".mustache"), context);
  mstch::map page{{"lang", std::string(LangCode(lang))},
                  {"title", Text(lang, model.title)},
                  {"heading", Text(lang, model.title)},
                  {"nonce", nonce},
                  {"css", assets.at("signin.css")},
                  {"body", body}};
  return mstch::render(assets.at("layout.mustache"), page);
}

sdk::Response PageResponse(Lang lang, const PageModel& model, int status) {
  std::string nonce = sdk::RandomToken(16);
  sdk::Response r;
  r.status = status;
  r.body = RenderPage(lang, model, nonce);
  r.SetHeader("content-type", "text/html; charset=utf-8");
  r.SetHeader("cache-control", "no-cache, no-store, must-revalidate");
  r.SetHeader("pragma", "no-cache");
  r.SetHeader("content-language", LangCode(lang));
  r.SetHeader("content-security-policy", "default-src 'none'; style-src 'nonce-" + nonce +
                                             "'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'");
  r.SetHeader("x-frame-options", "DENY");
  r.SetHeader("referrer-policy", "origin");
  return r;
}

}  // namespace palaver::oidc
