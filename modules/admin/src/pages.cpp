#include "pages.hpp"

namespace palaver::admin {
namespace {

// Every user-facing text of the console, in English and German.
constexpr sdk::TextEntry kTexts[] = {
    {"console", "Palaver administration", "Palaver-Verwaltung"},
    {"skip", "Skip to content", "Zum Inhalt springen"},
    {"sections", "Sections", "Bereiche"},
    {"signed_in_as", "Signed in as", "Angemeldet als"},
    {"signout", "Sign out", "Abmelden"},
    {"nav_guests", "Guests", "Gäste"},
    {"nav_media", "Screen sharing and media", "Bildschirmfreigabe und Medien"},
    {"nav_users", "Users", "Benutzer"},
    {"nav_status", "Status", "Status"},
    {"nav_audit", "Audit log", "Änderungsprotokoll"},
    {"nav_certificates", "Certificates", "Zertifikate"},
    {"nav_branding", "Apps and branding", "Apps und Erscheinungsbild"},
    {"nav_turn", "TURN", "TURN"},
    {"turn_lead", "The built-in TURN server relays calls for participants behind firewalls.",
     "Der eingebaute TURN-Server leitet Gespräche für Teilnehmer hinter Firewalls weiter."},
    {"turn_not_running", "The built-in TURN server is not running (module turn off, or an external TURN server is used).",
     "Der eingebaute TURN-Server läuft nicht (Modul turn aus, oder ein externer TURN-Server wird genutzt)."},
    {"turn_listeners", "Listeners", "Lauschende Adressen"},
    {"turn_transport", "Transport", "Transport"},
    {"turn_address", "Address", "Adresse"},
    {"turn_uris", "Addresses handed to the Meet app", "An die Meet-App gegebene Adressen"},
    {"turn_external", "External IP address", "Externe IP-Adresse"},
    {"turn_external_none", "none set (the relay's own addresses)", "keine gesetzt (die eigenen Adressen des Relays)"},
    {"turn_relay_ports", "Relay ports", "Relay-Ports"},
    {"turn_allocations", "Active allocations", "Aktive Allokationen"},
    {"turn_connections", "TCP and TLS connections", "TCP- und TLS-Verbindungen"},
    {"turn_traffic", "Relayed since start", "Seit dem Start weitergeleitet"},
    {"turn_traffic_value", "{} MB in {} packets", "{} MB in {} Paketen"},
    {"turn_secret", "Shared secret", "Gemeinsames Geheimnis"},
    {"turn_secret_age", "Last changed {} (UTC), {} days ago.", "Zuletzt geändert {} (UTC), vor {} Tagen."},
    {"turn_previous_until", "The previous secret is still accepted for credentials handed out before, until {} (UTC).",
     "Das vorige Geheimnis gilt noch für zuvor ausgegebene Zugangsdaten, bis {} (UTC)."},
    {"turn_rotate", "Rotate the secret", "Geheimnis erneuern"},
    {"turn_rotate_help", "Do this when the secret may have leaked. Calls keep working.",
     "Tun Sie das, wenn das Geheimnis bekannt geworden sein könnte. Gespräche laufen weiter."},
    {"turn_not_rotatable", "The secret comes from secret_file {}; change it there.",
     "Das Geheimnis stammt aus secret_file {}; ändern Sie es dort."},
    {"confirm_turn_title", "Rotate the TURN secret?", "TURN-Geheimnis erneuern?"},
    {"confirm_turn_lead",
     "New credentials use a new secret at once. Credentials handed out before keep working until they expire "
     "(at most {} minutes); nothing else made with the old secret is accepted.",
     "Neue Zugangsdaten nutzen sofort ein neues Geheimnis. Zuvor ausgegebene gelten weiter, bis sie ablaufen "
     "(höchstens {} Minuten); sonst wird nichts mit dem alten Geheimnis Erzeugte angenommen."},
    {"turn_rotated", "The TURN secret was rotated.", "Das TURN-Geheimnis wurde erneuert."},
    {"branding_lead", "The title, logo and app links the Meet app shows. Changes apply when Meet next loads.",
     "Titel, Logo und App-Links, die die Meet-App zeigt. Änderungen gelten, sobald Meet neu lädt."},
    {"branding", "Branding", "Erscheinungsbild"},
    {"app_title", "Title of the Meet app", "Titel der Meet-App"},
    {"app_title_help", "Up to 60 characters. Empty: Palaver Meet.", "Bis zu 60 Zeichen. Leer: Palaver Meet."},
    {"logo_url", "Logo address", "Adresse des Logos"},
    {"logo_url_help", "An https:// address or a path on this server, such as /meet/logo.svg. Empty: no logo.",
     "Eine https://-Adresse oder ein Pfad auf diesem Server, etwa /meet/logo.svg. Leer: kein Logo."},
    {"apps_menu", "Apps menu", "App-Menü"},
    {"apps_links", "Links, one per line: Title | address", "Links, einer pro Zeile: Titel | Adresse"},
    {"apps_help", "Up to 12 links to https:// addresses or paths on this server. Empty: the Meet app shows no apps menu.",
     "Bis zu 12 Links zu https://-Adressen oder Pfaden auf diesem Server. Leer: Die Meet-App zeigt kein App-Menü."},
    {"branding_invalid", "a value is not valid ({})", "ein Wert ist ungültig ({})"},
    {"certificates_lead", "The certificate palaverd presents for each of its names.",
     "Das Zertifikat, das palaverd für jeden seiner Namen vorzeigt."},
    {"cert_name", "Name", "Name"},
    {"cert_covers", "Covers", "Gilt für"},
    {"cert_issuer", "Issuer", "Aussteller"},
    {"cert_expires", "Expires (UTC)", "Läuft ab (UTC)"},
    {"cert_source", "Source", "Quelle"},
    {"days_left", "{} days left", "noch {} Tage"},
    {"source_files", "certificate files", "Zertifikatsdateien"},
    {"source_local_ca", "local CA (generated)", "lokale CA (erzeugt)"},
    {"source_acme", "ACME (Let's Encrypt)", "ACME (Let's Encrypt)"},
    {"download_ca", "Download the local CA certificate", "Zertifikat der lokalen CA herunterladen"},
    {"local_ca_help", "Browsers trust this server once this certificate is imported as a trusted authority.",
     "Browser vertrauen diesem Server, sobald dieses Zertifikat als vertrauenswürdige Stelle importiert ist."},
    {"no_local_ca", "This server uses no local CA.", "Dieser Server nutzt keine lokale CA."},
    {"no_certificates", "No certificate is loaded.", "Es ist kein Zertifikat geladen."},
    {"renewal", "Automatic renewal (ACME)", "Automatische Erneuerung (ACME)"},
    {"renewal_ok", "Last check {} (UTC): {}", "Letzte Prüfung {} (UTC): {}"},
    {"renewal_failed", "Last check {} (UTC) failed: {}", "Letzte Prüfung {} (UTC) fehlgeschlagen: {}"},
    {"renewal_next", "Next check {} (UTC).", "Nächste Prüfung {} (UTC)."},
    {"renewal_none", "No check has run yet.", "Es lief noch keine Prüfung."},
    {"save", "Save", "Speichern"},
    {"cancel", "Cancel", "Abbrechen"},
    {"saved", "Saved. The change applies at once.", "Gespeichert. Die Änderung gilt sofort."},
    {"nothing_changed", "Nothing was changed.", "Es wurde nichts geändert."},
    {"not_saved", "Nothing was saved: {}", "Nichts wurde gespeichert: {}"},
    // Guests
    {"guests_lead",
     "Guests join public rooms through a link, without an account. Changes apply to the next join; no restart.",
     "Gäste nehmen über einen Link ohne Benutzerkonto an öffentlichen Räumen teil. Änderungen gelten ab dem nächsten "
     "Beitritt, ohne Neustart."},
    {"guests_access", "Guest access", "Gastzugang"},
    {"guests_enabled", "Allow guests", "Gäste erlauben"},
    {"guests_enabled_help", "When off, no guest can join, and guests in calls cannot reconnect.",
     "Wenn aus, kann kein Gast beitreten, und Gäste in laufenden Gesprächen können sich nicht neu verbinden."},
    {"guest_only_rooms", "Guests may open a room with no registered member in it",
     "Gäste dürfen einen Raum öffnen, in dem noch kein registriertes Mitglied ist"},
    {"guest_only_rooms_help", "When off, a guest waits until a user of this server is in the room.",
     "Wenn aus, wartet ein Gast, bis ein Benutzer dieses Servers im Raum ist."},
    {"guests_default", "Visitors of a public room link join as guests without asking",
     "Besucher eines öffentlichen Raum-Links treten ohne Nachfrage als Gast bei"},
    {"guests_default_help", "Meet's guests.default: the link needs no #guest=1.",
     "Meets guests.default: der Link braucht kein #guest=1."},
    {"public_rooms", "Public rooms", "Öffentliche Räume"},
    {"name_style", "Guest names", "Gastnamen"},
    {"name_prefixed", "\u201c(Guest)\u201d before the name they give", "\u201e(Guest)\u201c vor dem angegebenen Namen"},
    {"name_plain", "The name they give", "Der angegebene Name"},
    {"name_random", "A random name such as \u201cCalm Otter\u201d (more privacy)",
     "Ein Zufallsname wie \u201eCalm Otter\u201c (mehr Privatsphäre)"},
    {"public_regexp", "Rule for public rooms (regular expression)", "Regel für öffentliche Räume (regulärer Ausdruck)"},
    {"public_regexp_help",
     "An ECMAScript regular expression over room paths such as group/public/team. Empty: no public rooms.",
     "Ein regulärer Ausdruck (ECMAScript) über Raumpfade wie group/public/team. Leer: keine öffentlichen Räume."},
    {"preview_names", "Room names to test, one per line", "Raumnamen zum Testen, einer pro Zeile"},
    {"preview_help", "Shows which of these rooms guests could join under the rule above.",
     "Zeigt, welchen dieser Räume Gäste nach der Regel oben beitreten könnten."},
    {"preview_match", "guests may join", "Gäste dürfen beitreten"},
    {"preview_nomatch", "no guests", "keine Gäste"},
    {"preview_button", "Test the rule", "Regel testen"},
    {"regexp_invalid", "The rule for public rooms is not a valid regular expression ({}).",
     "Die Regel für öffentliche Räume ist kein gültiger regulärer Ausdruck ({})."},
    {"confirm_guests_title", "Turn guests off?", "Gäste abschalten?"},
    {"confirm_guests_lead",
     "{} guests are in calls right now. Turning guests off refuses new guests at once; guests in calls cannot "
     "reconnect when their connection drops.",
     "Gerade sind {} Gäste in Gesprächen. Das Abschalten weist neue Gäste sofort ab; Gäste in Gesprächen können sich "
     "nach einem Verbindungsabbruch nicht neu verbinden."},
    {"confirm_guests_button", "Turn guests off", "Gäste abschalten"},
    // Media
    {"media_lead", "What the Meet app allows and how much bandwidth it uses. Changes apply when Meet next loads.",
     "Was die Meet-App erlaubt und wie viel Bandbreite sie nutzt. Änderungen gelten, sobald Meet neu lädt."},
    {"screenshare", "Screen sharing", "Bildschirmfreigabe"},
    {"screenshare_enabled", "Allow screen sharing", "Bildschirmfreigabe erlauben"},
    {"screenshare_bitrate", "Highest screen-sharing bitrate (kbit/s)", "Höchste Bitrate der Bildschirmfreigabe (kbit/s)"},
    {"camera", "Camera and guests", "Kamera und Gäste"},
    {"camera_bitrate", "Highest camera bitrate (kbit/s)", "Höchste Kamera-Bitrate (kbit/s)"},
    {"bitrate_help", "Whole numbers from {} to {} kbit/s.", "Ganze Zahlen von {} bis {} kbit/s."},
    {"bitrate_invalid", "{} must be a whole number from {} to {} kbit/s.",
     "{} muss eine ganze Zahl von {} bis {} kbit/s sein."},
    {"guests_audio_only", "Guests join with audio only (camera off) by default",
     "Gäste treten standardmäßig nur mit Ton (Kamera aus) bei"},
    {"talking_detection", "Highlight who is talking", "Hervorheben, wer spricht"},
    // Status
    {"status_lead", "The server as it runs now.", "Der Server im laufenden Betrieb."},
    {"updated", "Updated", "Aktualisiert"},
    {"modules", "Modules", "Module"},
    {"module", "Module", "Modul"},
    {"health", "Health", "Zustand"},
    {"detail", "Detail", "Einzelheiten"},
    {"state_ok", "ok", "in Ordnung"},
    {"state_degraded", "degraded", "eingeschränkt"},
    {"state_failed", "failed", "ausgefallen"},
    {"state_stopped", "not running", "läuft nicht"},
    {"rooms", "Calls", "Gespräche"},
    {"rooms_summary", "{} connections of {} users in {} calls and rooms; {} guests.",
     "{} Verbindungen von {} Benutzern in {} Gesprächen und Räumen; {} Gäste."},
    {"rooms_unknown", "Signaling is not running.", "Die Signalisierung läuft nicht."},
    {"call_1to1", "1:1 call", "Einzelgespräch"},
    {"guest_label", "guest", "Gast"},
    {"no_rooms", "No calls right now.", "Gerade keine Gespräche."},
    {"room", "Call or room", "Gespräch oder Raum"},
    {"participants", "Participants", "Teilnehmer"},
    {"warnings", "Recent warnings and errors", "Letzte Warnungen und Fehler"},
    {"no_warnings", "None since the start.", "Keine seit dem Start."},
    // Audit
    {"audit_lead", "Every settings change and admin action: who, when, from where, before and after.",
     "Jede Änderung an Einstellungen und jede Verwaltungsaktion: wer, wann, von wo, vorher und nachher."},
    {"search", "Search", "Suchen"},
    {"export_csv", "Export as CSV", "Als CSV exportieren"},
    {"when", "When (UTC)", "Wann (UTC)"},
    {"who", "Who", "Wer"},
    {"from", "From", "Von"},
    {"what", "What", "Was"},
    {"old", "Before", "Vorher"},
    {"new", "After", "Nachher"},
    {"no_entries", "No entries.", "Keine Einträge."},
    // Users
    {"users_lead", "The users of this server's own directory.", "Die Benutzer des eigenen Verzeichnisses dieses Servers."},
    {"users_readonly", "The directory is read-only here (its users are managed elsewhere, e.g. in LDAP).",
     "Das Verzeichnis ist hier nur lesbar (seine Benutzer werden anderswo verwaltet, z. B. in LDAP)."},
    {"users_unavailable", "No user directory is running.", "Es läuft kein Benutzerverzeichnis."},
    {"user_create", "Create a user", "Benutzer anlegen"},
    {"username", "Username", "Benutzername"},
    {"display_name", "Display name", "Anzeigename"},
    {"mail", "Email address", "E-Mail-Adresse"},
    {"make_admin", "Administrator", "Administrator"},
    {"create", "Create", "Anlegen"},
    {"password_once", "The password of {} — shown only this once. Hand it over safely:",
     "Das Kennwort von {} – es wird nur dieses eine Mal angezeigt. Geben Sie es sicher weiter:"},
    {"role_admin", "administrator", "Administrator"},
    {"status_disabled", "disabled", "deaktiviert"},
    {"actions", "Actions", "Aktionen"},
    {"reset_password", "Reset password", "Kennwort zurücksetzen"},
    {"disable", "Disable", "Deaktivieren"},
    {"enable", "Enable", "Aktivieren"},
    {"delete", "Delete", "Löschen"},
    {"grant_admin", "Make administrator", "Zum Administrator machen"},
    {"revoke_admin", "Revoke administrator", "Administratorrecht entziehen"},
    {"confirm_delete_title", "Delete {}?", "{} löschen?"},
    {"confirm_delete_lead", "{} is removed for good: their sign-ins end at once and the name can be used again.",
     "{} wird endgültig entfernt: Anmeldungen enden sofort, und der Name kann neu vergeben werden."},
    {"confirm_reset_title", "Reset the password of {}?", "Kennwort von {} zurücksetzen?"},
    {"confirm_reset_lead", "A new password is generated and shown once; every sign-in of {} ends at once.",
     "Ein neues Kennwort wird erzeugt und einmal angezeigt; alle Anmeldungen von {} enden sofort."},
    {"confirm_disable_title", "Disable {}?", "{} deaktivieren?"},
    {"confirm_disable_lead", "{} can no longer sign in, and their sign-ins end at once.",
     "{} kann sich nicht mehr anmelden, und laufende Anmeldungen enden sofort."},
    {"confirm_revoke_title", "Revoke the administrator right of {}?", "{} das Administratorrecht entziehen?"},
    {"confirm_revoke_lead", "{} can no longer use this console.", "{} kann diese Verwaltung nicht mehr nutzen."},
    {"user_done", "Done: {}.", "Erledigt: {}."},
    {"no_users", "No users match.", "Keine passenden Benutzer."},
    {"self_refused", "You cannot do this to your own account.", "Das können Sie mit Ihrem eigenen Konto nicht tun."},
    {"user_failed", "Nothing was changed: {}", "Es wurde nichts geändert: {}"},
    // Sign-in and errors
    {"forbidden_title", "Administrators only", "Nur für Administratoren"},
    {"forbidden_lead",
     "You are signed in as {}, who is not an administrator of this server. Ask an administrator to grant you the right.",
     "Sie sind als {} angemeldet, der kein Administrator dieses Servers ist. Bitten Sie einen Administrator, Ihnen das "
     "Recht zu geben."},
    {"signin_other", "Sign in as someone else", "Als jemand anderes anmelden"},
    {"network_title", "Not from this network", "Nicht aus diesem Netz"},
    {"back_home", "To the start page", "Zur Startseite"},
    {"network_lead",
     "This server's administration is not available from your address ({}). Use it from a network the "
     "administrators allowed ([admin] allowed_networks).",
     "Die Verwaltung dieses Servers ist von Ihrer Adresse ({}) aus nicht erreichbar. Nutzen Sie sie aus einem Netz, "
     "das die Administratoren freigegeben haben ([admin] allowed_networks)."},
    {"expired_title", "Signed out", "Abgemeldet"},
    {"expired_lead", "Your session ended (signed out, or unused for too long). Nothing was changed.",
     "Ihre Sitzung ist beendet (abgemeldet oder zu lange nicht benutzt). Es wurde nichts geändert."},
    {"signin_again", "Sign in", "Anmelden"},
    {"refused_title", "Request refused", "Anfrage abgelehnt"},
    {"csrf_failed",
     "The form was too old or was not sent from this console. Nothing was changed; please open the page again.",
     "Das Formular war zu alt oder wurde nicht aus dieser Verwaltung gesendet. Es wurde nichts geändert; bitte öffnen "
     "Sie die Seite erneut."},
    {"back", "Back to the console", "Zurück zur Verwaltung"},
    {"signin_failed_title", "Sign-in failed", "Anmeldung fehlgeschlagen"},
    {"signin_failed_lead", "The sign-in could not be completed ({}). Please try again.",
     "Die Anmeldung konnte nicht abgeschlossen werden ({}). Bitte versuchen Sie es erneut."},
    {"not_found_title", "Not found", "Nicht gefunden"},
    {"not_found_lead", "There is no such page in the console.", "Diese Seite gibt es in der Verwaltung nicht."},
    {"error_title", "Something went wrong", "Etwas ist schiefgegangen"},
    {"error_lead", "The server could not do this ({}). Nothing was changed.",
     "Der Server konnte das nicht ausführen ({}). Es wurde nichts geändert."},
};

const sdk::TextTable& Table() {
  static const sdk::TextTable table{kTexts};
  return table;
}

}  // namespace

std::string Text(Lang lang, std::string_view key, const std::vector<std::string>& args) {
  return Table().Format(lang, key, args);
}

std::vector<std::string> TextKeys() { return Table().Keys(); }

std::string RenderPage(Lang lang, const std::string& page, mstch::map context, const Frame& frame) {
  const auto& assets = AdminAssets();
  for (const auto& e : kTexts) {
    if (context.count(std::string("t_") + e.key) == 0) context.emplace(std::string("t_") + e.key, Text(lang, e.key));
  }
  if (context.count("csrf") == 0) context.emplace("csrf", frame.csrf);
  std::string body = mstch::render(assets.at(page + ".mustache"), context);
  mstch::array nav;
  for (const char* id : {"guests", "media", "branding", "users", "status", "certificates", "turn", "audit"}) {
    nav.emplace_back(mstch::map{{"href", std::string("/admin/") + id},
                                {"label", Text(lang, std::string("nav_") + id)},
                                {"current", frame.current == id}});
  }
  mstch::map layout{{"lang", std::string(LangCode(lang))},
                    {"title", frame.title},
                    {"t_console", Text(lang, "console")},
                    {"t_skip", Text(lang, "skip")},
                    {"t_sections", Text(lang, "sections")},
                    {"t_signed_in_as", Text(lang, "signed_in_as")},
                    {"t_signout", Text(lang, "signout")},
                    {"signed_in", !frame.user.empty()},
                    {"user", frame.user},
                    {"csrf", frame.csrf},
                    {"nav", nav},
                    {"notice", frame.notice},
                    {"error", frame.error},
                    {"body", body}};
  return mstch::render(assets.at("layout.mustache"), layout);
}

void AddConsoleHeaders(sdk::Response& r) {
  r.SetHeader("cache-control", "no-store");
  r.SetHeader("content-security-policy",
              "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
              "form-action 'self'; base-uri 'none'; frame-ancestors 'none'");
  r.SetHeader("x-frame-options", "DENY");
  // Same-origin requests carry the Referer and Origin the CSRF checks look at; others get nothing.
  r.SetHeader("referrer-policy", "same-origin");
  r.SetHeader("cross-origin-opener-policy", "same-origin");
  r.SetHeader("cross-origin-resource-policy", "same-origin");
}

sdk::Response PageResponse(Lang lang, const std::string& page, mstch::map context, const Frame& frame, int status) {
  sdk::Response r;
  r.status = status;
  r.body = RenderPage(lang, page, std::move(context), frame);
  r.SetHeader("content-type", "text/html; charset=utf-8");
  r.SetHeader("content-language", LangCode(lang));
  r.SetHeader("vary", "accept-language, cookie");
  AddConsoleHeaders(r);
  return r;
}

}  // namespace palaver::admin
