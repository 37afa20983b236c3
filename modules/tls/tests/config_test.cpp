#include "config.hpp"

#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace palaver::tls {
namespace {

sdk::ConfigSection Section(const std::map<std::string, std::string>& values) {
  sdk::ConfigSection section;
  section.name = "tls";
  section.file = "palaver.conf";
  section.line = 10;
  int line = 11;
  for (const auto& [key, value] : values) section.entries[key] = sdk::ConfigEntry{value, line++};
  return section;
}

// Every problem of the reader, one per line.
std::string ProblemsOf(const sdk::ConfigReader& reader) {
  std::string out;
  for (const auto& p : reader.Problems()) out += p + "\n";
  return out;
}

TEST(TlsConfig, DefaultsToLocalCa) {
  sdk::ConfigSection section = Section({});
  sdk::ConfigReader reader(section);
  Result<TlsConfig> config = ParseTlsConfig(reader);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_TRUE(config->certificate.empty());
  EXPECT_TRUE(config->key.empty());
  EXPECT_TRUE(config->local_ca);
  EXPECT_FALSE(config->UsesFiles());
  EXPECT_EQ(config->watch_interval, std::chrono::seconds(30));
  EXPECT_EQ(config->leaf_lifetime, std::chrono::days(180));
  EXPECT_TRUE(reader.Problems().empty());
}

TEST(TlsConfig, AsksForEveryKeyOnAnEmptySection) {
  sdk::ConfigSection section = Section({});
  sdk::ConfigReader reader(section);
  (void)ParseTlsConfig(reader);
  EXPECT_EQ(reader.KeysAsked(),
            (std::set<std::string>{"certificate", "key", "leaf_lifetime", "local_ca", "watch_interval", "acme",
                                   "acme_email", "acme_agree_tos", "acme_directory", "acme_ca_file", "acme_eab_kid",
                                   "acme_eab_hmac_key", "acme_challenge", "acme_retry_interval"}));
}

TEST(TlsConfig, AsksForEveryKeyEvenWhenRejecting) {
  sdk::ConfigSection section = Section({{"certificate", "/etc/x.pem"}});
  sdk::ConfigReader reader(section);
  (void)ParseTlsConfig(reader);
  EXPECT_EQ(reader.KeysAsked().size(), 14u);
}

TEST(TlsConfig, AcceptsCertificateAndKey) {
  sdk::ConfigSection section = Section({{"certificate", "/etc/palaver/chain.pem"},
                                        {"key", "/etc/palaver/key.pem"},
                                        {"watch_interval", "5m"}});
  sdk::ConfigReader reader(section);
  Result<TlsConfig> config = ParseTlsConfig(reader);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_TRUE(config->UsesFiles());
  EXPECT_EQ(config->certificate, "/etc/palaver/chain.pem");
  EXPECT_EQ(config->key, "/etc/palaver/key.pem");
  EXPECT_EQ(config->watch_interval, std::chrono::minutes(5));
}

TEST(TlsConfig, RejectsCertificateWithoutKey) {
  sdk::ConfigSection section = Section({{"certificate", "/etc/palaver/chain.pem"}});
  sdk::ConfigReader reader(section);
  Result<TlsConfig> config = ParseTlsConfig(reader);
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(ProblemsOf(reader).find("[tls] key: "), std::string::npos) << ProblemsOf(reader);
  EXPECT_NE(ProblemsOf(reader).find("both"), std::string::npos) << ProblemsOf(reader);
}

TEST(TlsConfig, RejectsKeyWithoutCertificate) {
  sdk::ConfigSection section = Section({{"key", "/etc/palaver/key.pem"}});
  sdk::ConfigReader reader(section);
  ASSERT_FALSE(ParseTlsConfig(reader));
  EXPECT_NE(ProblemsOf(reader).find("palaver.conf:10: [tls] certificate: "), std::string::npos)
      << ProblemsOf(reader);
  EXPECT_NE(ProblemsOf(reader).find("both"), std::string::npos);
}

TEST(TlsConfig, RejectsNoFilesWithoutLocalCa) {
  sdk::ConfigSection section = Section({{"local_ca", "no"}});
  sdk::ConfigReader reader(section);
  ASSERT_FALSE(ParseTlsConfig(reader));
  std::string problems = ProblemsOf(reader);
  EXPECT_NE(problems.find("[tls] local_ca: "), std::string::npos) << problems;
  EXPECT_NE(problems.find("set certificate and key"), std::string::npos) << problems;
}

TEST(TlsConfig, AcceptsFilesWithoutLocalCa) {
  sdk::ConfigSection section =
      Section({{"certificate", "/c.pem"}, {"key", "/k.pem"}, {"local_ca", "no"}});
  sdk::ConfigReader reader(section);
  Result<TlsConfig> config = ParseTlsConfig(reader);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_FALSE(config->local_ca);
}

TEST(TlsConfig, AcceptsWatchIntervalZeroAsOff) {
  sdk::ConfigSection section = Section({{"watch_interval", "0"}});
  sdk::ConfigReader reader(section);
  Result<TlsConfig> config = ParseTlsConfig(reader);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->watch_interval.count(), 0);
}

TEST(TlsConfig, RejectsSubSecondWatchInterval) {
  sdk::ConfigSection section = Section({{"watch_interval", "500ms"}});
  sdk::ConfigReader reader(section);
  ASSERT_FALSE(ParseTlsConfig(reader));
  EXPECT_NE(ProblemsOf(reader).find("[tls] watch_interval: must be 0 (off) or at least 1s"), std::string::npos)
      << ProblemsOf(reader);
}

TEST(TlsConfig, AcceptsLeafLifetimeUpTo397Days) {
  sdk::ConfigSection section = Section({{"leaf_lifetime", "397d"}});
  sdk::ConfigReader reader(section);
  Result<TlsConfig> config = ParseTlsConfig(reader);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->leaf_lifetime, std::chrono::days(397));
}

TEST(TlsConfig, RejectsLeafLifetimeOver397Days) {
  sdk::ConfigSection section = Section({{"leaf_lifetime", "398d"}});
  sdk::ConfigReader reader(section);
  ASSERT_FALSE(ParseTlsConfig(reader));
  EXPECT_NE(ProblemsOf(reader).find("[tls] leaf_lifetime: must be at most 397d"), std::string::npos)
      << ProblemsOf(reader);
}

TEST(TlsConfig, RejectsLeafLifetimeUnderOneDay) {
  sdk::ConfigSection section = Section({{"leaf_lifetime", "12h"}});
  sdk::ConfigReader reader(section);
  ASSERT_FALSE(ParseTlsConfig(reader));
  EXPECT_NE(ProblemsOf(reader).find("[tls] leaf_lifetime: must be at least 1d"), std::string::npos)
      << ProblemsOf(reader);
}

TEST(TlsConfig, RejectsMalformedValues) {
  sdk::ConfigSection section =
      Section({{"local_ca", "maybe"}, {"watch_interval", "often"}, {"leaf_lifetime", "90 days"}});
  sdk::ConfigReader reader(section);
  ASSERT_FALSE(ParseTlsConfig(reader));
  std::string problems = ProblemsOf(reader);
  EXPECT_NE(problems.find("[tls] local_ca: expected yes/no"), std::string::npos) << problems;
  EXPECT_NE(problems.find("[tls] watch_interval: expected a duration"), std::string::npos) << problems;
  EXPECT_NE(problems.find("[tls] leaf_lifetime: "), std::string::npos) << problems;
}

TEST(TlsConfig, RejectsUnknownKey) {
  sdk::ConfigSection section = Section({{"certficate", "/c.pem"}});
  sdk::ConfigReader reader(section);
  Result<TlsConfig> config = ParseTlsConfig(reader);
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("[tls] certficate: unknown key"), std::string::npos)
      << config.error().message;
}

TEST(TlsConfig, AcmeDefaultsToLetsEncryptProductionAndAuto) {
  sdk::ConfigSection section = Section({{"acme", "on"}, {"acme_agree_tos", "yes"}, {"acme_email", "ops@example.org"}});
  sdk::ConfigReader reader(section);
  Result<TlsConfig> config = ParseTlsConfig(reader);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_TRUE(config->acme);
  EXPECT_EQ(config->acme_directory, "https://acme-v02.api.letsencrypt.org/directory");
  EXPECT_EQ(config->acme_challenges, (std::vector<std::string>{"http-01", "tls-alpn-01"}));
  EXPECT_EQ(config->acme_retry_interval, std::chrono::seconds(60));
  EXPECT_FALSE(config->UsesFiles());
}

TEST(TlsConfig, AcmeDirectoryShortcutsAndUrl) {
  sdk::ConfigSection staging = Section({{"acme_directory", "letsencrypt-staging"}});
  sdk::ConfigReader r1(staging);
  EXPECT_EQ(ParseTlsConfig(r1)->acme_directory, "https://acme-staging-v02.api.letsencrypt.org/directory");
  sdk::ConfigSection own = Section({{"acme_directory", "https://ca.corp.example/acme/directory"},
                                    {"acme_challenge", "tls-alpn-01"}});
  sdk::ConfigReader r2(own);
  Result<TlsConfig> config = ParseTlsConfig(r2);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->acme_directory, "https://ca.corp.example/acme/directory");
  EXPECT_EQ(config->acme_challenges, (std::vector<std::string>{"tls-alpn-01"}));
}

TEST(TlsConfig, RejectsAcmeWithoutTermsAgreement) {
  sdk::ConfigSection section = Section({{"acme", "yes"}, {"acme_email", "ops@example.org"}});
  sdk::ConfigReader reader(section);
  Result<TlsConfig> config = ParseTlsConfig(reader);
  ASSERT_FALSE(config);
  EXPECT_NE(ProblemsOf(reader).find("palaver.conf:10: [tls] acme_agree_tos: acme = yes needs acme_agree_tos = yes"),
            std::string::npos)
      << ProblemsOf(reader);
}

TEST(TlsConfig, RejectsAcmeTogetherWithFiles) {
  sdk::ConfigSection section = Section({{"acme", "yes"}, {"acme_agree_tos", "yes"}, {"certificate", "/etc/c.pem"},
                                        {"key", "/etc/k.pem"}});
  sdk::ConfigReader reader(section);
  ASSERT_FALSE(ParseTlsConfig(reader));
  EXPECT_NE(ProblemsOf(reader).find("[tls] acme: acme = yes and certificate/key files are both set"), std::string::npos)
      << ProblemsOf(reader);
}

TEST(TlsConfig, RejectsBadAcmeValues) {
  sdk::ConfigSection section = Section({{"acme_directory", "http://insecure.example/dir"},
                                        {"acme_email", "not an address"},
                                        {"acme_eab_kid", "kid-1"},
                                        {"acme_challenge", "dns-01"},
                                        {"acme_retry_interval", "0s"}});
  sdk::ConfigReader reader(section);
  ASSERT_FALSE(ParseTlsConfig(reader));
  std::string problems = ProblemsOf(reader);
  EXPECT_NE(problems.find("[tls] acme_directory: must be letsencrypt, letsencrypt-staging or an https:// URL"),
            std::string::npos) << problems;
  EXPECT_NE(problems.find("[tls] acme_email: not an e-mail address"), std::string::npos) << problems;
  EXPECT_NE(problems.find("[tls] acme_eab_hmac_key: External Account Binding needs both"), std::string::npos)
      << problems;
  EXPECT_NE(problems.find("[tls] acme_challenge:"), std::string::npos) << problems;
  EXPECT_NE(problems.find("[tls] acme_retry_interval: must be between 1s and 12h"), std::string::npos) << problems;
}

}  // namespace
}  // namespace palaver::tls
