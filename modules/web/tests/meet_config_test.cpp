// Meet's config.json from the settings that govern it (spec kopano-services.md §4.2).
#include "meet_config.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <sstream>

#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

namespace palaver::web {
namespace {

Poco::JSON::Object::Ptr Guests(const Poco::JSON::Object::Ptr& config) { return config->getObject("guests"); }

TEST(MeetConfig, DefaultsAreMeetsOwn) {
  auto c = BuildMeetConfig(MeetConfigInputs{.public_room_regexp = "^group/public/.*"}, nullptr);
  EXPECT_FALSE(Guests(c)->getValue<bool>("enabled"));
  EXPECT_TRUE(Guests(c)->isNull("default"));
  EXPECT_EQ(Guests(c)->getValue<std::string>("defaultPublicGroupPrefix"), "public/");
  EXPECT_FALSE(c->getValue<bool>("disableRemoteTalkingDetection"));
  EXPECT_FALSE(c->getValue<bool>("disableFullGAB"));
  EXPECT_FALSE(c->getValue<bool>("useIdentifiedUser"));
  std::ostringstream out;
  Poco::JSON::Stringifier::condense(c, out);
  EXPECT_NE(out.str().find("\"default\":null"), std::string::npos) << out.str();
}

TEST(MeetConfig, MediaPolicyFromTheAdminSettings) {
  auto c = BuildMeetConfig(MeetConfigInputs{}, nullptr);
  // Defaults: screen sharing on, the original's bitrate caps, guests with camera.
  EXPECT_FALSE(c->getValue<bool>("disableScreenshare"));
  EXPECT_EQ(c->getObject("kwm")->getObject("sdpParams")->getValue<int64_t>("videoSendBitrate"), 1000);
  EXPECT_EQ(c->getObject("kwm")->getObject("sdpParamsScreenshare")->getValue<int64_t>("videoSendBitrate"), 2500);
  EXPECT_FALSE(Guests(c)->getValue<bool>("defaultAudioOnly"));
  c = BuildMeetConfig({.screenshare_enabled = false, .camera_bitrate_kbps = 600, .screenshare_bitrate_kbps = 4000,
                       .guests_audio_only = true},
                      nullptr);
  EXPECT_TRUE(c->getValue<bool>("disableScreenshare"));
  EXPECT_EQ(c->getObject("kwm")->getObject("sdpParams")->getValue<int64_t>("videoSendBitrate"), 600);
  EXPECT_EQ(c->getObject("kwm")->getObject("sdpParamsScreenshare")->getValue<int64_t>("videoSendBitrate"), 4000);
  EXPECT_TRUE(Guests(c)->getValue<bool>("defaultAudioOnly"));
}

TEST(MeetConfig, PublicRoomsFollowTheSignalingSetting) {
  auto c = BuildMeetConfig({.guests_enabled = true, .public_room_regexp = "^group/(public|extern)/.*"}, nullptr);
  std::string served = Guests(c)->getValue<std::string>("publicGroupRegexp");
  EXPECT_EQ(served, "^group/(public|extern)/.*");
  // What Meet decides with it is what signaling decides at guest logon.
  std::regex re(served, std::regex::ECMAScript);
  EXPECT_TRUE(std::regex_search("group/extern/x", re));
  EXPECT_FALSE(std::regex_search("conference/public/x", re));
  EXPECT_TRUE(Guests(c)->getValue<bool>("enabled"));
}

TEST(MeetConfig, NoPublicRoomsMatchesNothing) {
  auto c = BuildMeetConfig({.guests_enabled = true, .public_room_regexp = ""}, nullptr);
  EXPECT_EQ(Guests(c)->getValue<std::string>("publicGroupRegexp"), "(?!)");
}

TEST(MeetConfig, GuestsByDefaultOnlyWhileGuestsAreEnabled) {
  auto on = BuildMeetConfig({.guests_enabled = true, .public_room_regexp = "^group/public/", .guests_by_default = true},
                            nullptr);
  EXPECT_EQ(Guests(on)->getValue<std::string>("default"), "1");
  auto off = BuildMeetConfig({.guests_enabled = false, .public_room_regexp = "^group/public/", .guests_by_default = true},
                             nullptr);
  EXPECT_TRUE(Guests(off)->isNull("default"));
}

TEST(MeetConfig, RemoteTalkingDetection) {
  auto c = BuildMeetConfig({.public_room_regexp = "x", .disable_remote_talking_detection = true}, nullptr);
  EXPECT_TRUE(c->getValue<bool>("disableRemoteTalkingDetection"));
}

TEST(MeetConfig, OverridesMergeKeyByKey) {
  Poco::JSON::Parser parser;
  auto overrides = parser.parse(R"({"guests":{"enabled":true},"kwm":{"url":"https://x"}})")
                       .extract<Poco::JSON::Object::Ptr>();
  auto c = BuildMeetConfig({.public_room_regexp = "^group/public/.*"}, overrides);
  EXPECT_TRUE(Guests(c)->getValue<bool>("enabled"));
  EXPECT_EQ(Guests(c)->getValue<std::string>("publicGroupRegexp"), "^group/public/.*");
  EXPECT_EQ(c->getObject("kwm")->getValue<std::string>("url"), "https://x");
  EXPECT_EQ(c->getObject("kwm")->getValue<std::string>("apiPrefix"), "/api/kwm/v2");
}

TEST(PublicGroupPrefix, FromTheRegexp) {
  EXPECT_EQ(PublicGroupPrefix("^group/public/.*"), "public/");
  EXPECT_EQ(PublicGroupPrefix("^group/open/.*"), "open/");
  EXPECT_EQ(PublicGroupPrefix("^(group|conference)/extern/.*"), "extern/");
  EXPECT_EQ(PublicGroupPrefix("^group/(extern|public)/.*"), "extern/");
  EXPECT_EQ(PublicGroupPrefix("^group/(?:gast|public)/"), "gast/");
}

TEST(PublicGroupPrefix, MeetsDefaultWhenNoLiteralPrefixIsPublic) {
  EXPECT_EQ(PublicGroupPrefix(""), "public/");
  EXPECT_EQ(PublicGroupPrefix("^group/.*"), "public/");
  EXPECT_EQ(PublicGroupPrefix("^group/[a-z]+/x"), "public/");
  EXPECT_EQ(PublicGroupPrefix("^conference/open/.*"), "open/");
  EXPECT_EQ(PublicGroupPrefix("^group/open/.*$^"), "public/");  // matches no room
}

TEST(MeetConfig, BrandingAndAppLinksFromTheAdminSettings) {
  auto c = BuildMeetConfig(MeetConfigInputs{}, nullptr);
  EXPECT_EQ(c->getObject("branding")->getValue<std::string>("title"), "");
  EXPECT_EQ(c->getObject("branding")->getValue<std::string>("logo"), "");
  // The original's switcher of Kopano apps is hidden; no links of our own.
  EXPECT_EQ(c->getObject("apps")->getArray("enabled")->size(), 0u);
  EXPECT_EQ(c->getObject("apps")->getArray("links")->size(), 0u);
  c = BuildMeetConfig({.app_title = "ACME Meet", .logo_url = "https://cdn.example.test/logo.svg",
                       .apps = {{"Mail", "https://mail.example.test/"}, {"Wiki", "/wiki/"}}},
                      nullptr);
  EXPECT_EQ(c->getObject("branding")->getValue<std::string>("title"), "ACME Meet");
  EXPECT_EQ(c->getObject("branding")->getValue<std::string>("logo"), "https://cdn.example.test/logo.svg");
  auto links = c->getObject("apps")->getArray("links");
  ASSERT_EQ(links->size(), 2u);
  EXPECT_EQ(links->getObject(1)->getValue<std::string>("title"), "Wiki");
  EXPECT_EQ(links->getObject(1)->getValue<std::string>("url"), "/wiki/");
}

TEST(AppLinks, ParsesTitleBarUrlLines) {
  auto links = ParseAppLinks("Mail | https://mail.example.test/\r\n\n  Team wiki|/wiki/  \n");
  ASSERT_TRUE(links) << links.error().message;
  EXPECT_EQ(*links, (std::vector<AppLink>{{"Mail", "https://mail.example.test/"}, {"Team wiki", "/wiki/"}}));
  EXPECT_TRUE(ParseAppLinks("")->empty());
  // A title may hold a bar; the last one separates the URL.
  EXPECT_EQ(ParseAppLinks("A | B | /x")->at(0).title, "A | B");
}

TEST(AppLinks, RefusesWithTheLine) {
  auto no_bar = ParseAppLinks("Mail | /mail\nCalendar https://cal.example.test/");
  ASSERT_FALSE(no_bar);
  EXPECT_EQ(no_bar.error().message, "line 2: write Title | URL");
  EXPECT_EQ(ParseAppLinks(" | /x").error().message, "line 1: the title is empty");
  EXPECT_NE(ParseAppLinks("Evil | javascript:alert(1)").error().message.find("line 1: the URL must start with https://"),
            std::string::npos);
  EXPECT_FALSE(ParseAppLinks("Plain | http://insecure.example.test/"));
  EXPECT_FALSE(ParseAppLinks("Other host | //evil.example.test/"));
  std::string many;
  for (int i = 0; i < 13; ++i) many += "L" + std::to_string(i) + " | /x\n";
  EXPECT_EQ(ParseAppLinks(many).error().message, "at most 12 links");
}

TEST(AppLinks, UrlAndTitleRules) {
  EXPECT_EQ(UrlProblem("https://example.test/logo.svg"), "");
  EXPECT_EQ(UrlProblem("/meet/logo.png"), "");
  EXPECT_NE(UrlProblem("https://"), "");
  EXPECT_NE(UrlProblem("https://user@evil.test/"), "");
  EXPECT_NE(UrlProblem("https://example.test/a b"), "");
  EXPECT_NE(UrlProblem("https://example.test/\"onerror=\""), "");
  EXPECT_NE(UrlProblem("data:image/svg+xml,<svg/>"), "");
  EXPECT_NE(UrlProblem(std::string(3000, 'a').insert(0, "/")), "");
  EXPECT_EQ(TitleProblem(""), "");
  EXPECT_EQ(TitleProblem("Besprechungsräume der Stadtverwaltung"), "");
  EXPECT_EQ(TitleProblem(std::string(60, 'x')), "");
  EXPECT_NE(TitleProblem(std::string(61, 'x')), "");
  EXPECT_NE(TitleProblem("Tab\there"), "");
  EXPECT_EQ(HttpsOrigin("https://cdn.example.test:8443/a/logo.svg?v=1"), "https://cdn.example.test:8443");
  EXPECT_EQ(HttpsOrigin("/meet/logo.svg"), "");
}

}  // namespace
}  // namespace palaver::web
