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

}  // namespace
}  // namespace palaver::web
