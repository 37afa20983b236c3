#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <algorithm>
#include <string>

#include "clients.hpp"
#include "palaver/testing/store.hpp"
#include "palaver/sdk/encoding.hpp"
#include "palaver/testing/temp_dir.hpp"

namespace palaver::oidc {
namespace {

const char kIssuer[] = "https://meet.example.org";

Client Web(std::string id, std::vector<std::string> redirect_uris) {
  Client c;
  c.id = std::move(id);
  c.redirect_uris = std::move(redirect_uris);
  return c;
}

Client Native(std::string id, std::vector<std::string> redirect_uris) {
  Client c = Web(std::move(id), std::move(redirect_uris));
  c.native = true;
  return c;
}

std::string RefSecretHash(std::string_view secret) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), digest);
  return sdk::Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

// ---------------------------------------------------------------------------------------------
// ValidateClient

TEST(ValidateClient, WebClientsNeedHttpsOffLocalhost) {
  EXPECT_TRUE(ValidateClient(Web("app", {"https://app.example.com/cb"})));
  EXPECT_TRUE(ValidateClient(Web("app", {"https://app.example.com:8443/cb?x=1", "https://other.example.com/"})));
  for (const char* bad : {"http://app.example.com/cb", "https://localhost/cb", "https://127.0.0.1/cb",
                          "https://[::1]/cb", "https://LOCALHOST:8443/cb", "myapp://cb"}) {
    auto st = ValidateClient(Web("app", {bad}));
    EXPECT_FALSE(st) << bad;
    if (!st) {
      EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument) << bad;
      EXPECT_NE(st.error().public_message.find("app"), std::string::npos) << st.error().public_message;
    }
  }
  // One bad URI among good ones is enough.
  EXPECT_FALSE(ValidateClient(Web("app", {"https://app.example.com/cb", "http://app.example.com/cb"})));
}

TEST(ValidateClient, NativeClientsUseHttpOnLocalhostOnly) {
  EXPECT_TRUE(ValidateClient(Native("cli", {"http://localhost/cb"})));
  EXPECT_TRUE(ValidateClient(Native("cli", {"http://127.0.0.1:8080/"})));
  EXPECT_TRUE(ValidateClient(Native("cli", {"http://[::1]:9000/cb"})));
  EXPECT_TRUE(ValidateClient(Native("cli", {"com.example.app://oauth/cb"})));  // private-use scheme
  EXPECT_FALSE(ValidateClient(Native("cli", {"https://app.example.com/cb"})));
  EXPECT_FALSE(ValidateClient(Native("cli", {"https://localhost/cb"})));
  EXPECT_FALSE(ValidateClient(Native("cli", {"http://app.example.com/cb"})));
  EXPECT_FALSE(ValidateClient(Native("cli", {"http://192.168.1.2/cb"})));
}

TEST(ValidateClient, InsecureClientsMayUseAnything) {
  Client c = Web("dev", {"http://localhost:3000/cb", "http://dev.example.com/cb"});
  EXPECT_FALSE(ValidateClient(c));
  c.insecure = true;
  EXPECT_TRUE(ValidateClient(c));
  Client n = Native("dev-native", {"https://app.example.com/cb"});
  n.insecure = true;
  EXPECT_TRUE(ValidateClient(n));
  // ...and need no redirect URI; everyone else does.
  Client none = Web("open", {});
  EXPECT_FALSE(ValidateClient(none));
  none.insecure = true;
  EXPECT_TRUE(ValidateClient(none));
  // Still no fragments and no relative URIs.
  EXPECT_FALSE(ValidateClient(Client{.id = "x", .insecure = true, .redirect_uris = {"http://h/cb#f"}}));
  EXPECT_FALSE(ValidateClient(Client{.id = "x", .insecure = true, .redirect_uris = {"/cb"}}));
}

TEST(ValidateClient, RedirectUriWithFragmentRefused) {
  EXPECT_FALSE(ValidateClient(Web("app", {"https://app.example.com/meet/#oidc-callback"})));
  EXPECT_FALSE(ValidateClient(Native("cli", {"http://localhost/cb#x"})));
}

TEST(ValidateClient, RedirectUrisMustBeAbsolute) {
  for (const char* bad : {"/cb", "app.example.com/cb", "https://user@app.example.com/cb", "https://app.example.com/a b",
                          ""}) {
    EXPECT_FALSE(ValidateClient(Web("app", {bad}))) << bad;
  }
}

TEST(ValidateClient, Id) {
  auto empty = ValidateClient(Web("", {"https://app.example.com/cb"}));
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(ValidateClient(Web("a b", {"https://app.example.com/cb"})));
  EXPECT_FALSE(ValidateClient(Web("a\tb", {"https://app.example.com/cb"})));
  EXPECT_FALSE(ValidateClient(Web(std::string("a\x7f"), {"https://app.example.com/cb"})));
  EXPECT_FALSE(ValidateClient(Web(std::string(513, 'x'), {"https://app.example.com/cb"})));
  EXPECT_TRUE(ValidateClient(Web(std::string(512, 'x'), {"https://app.example.com/cb"})));
  EXPECT_TRUE(ValidateClient(Web("kpop-https://meet.example.org/meet", {"https://meet.example.org/meet/"})));
}

TEST(ValidateClient, PostLogoutRedirectUris) {
  Client c = Web("app", {"https://app.example.com/cb"});
  c.post_logout_redirect_uris = {"https://app.example.com/bye"};
  EXPECT_TRUE(ValidateClient(c));
  c.post_logout_redirect_uris.push_back("/relative");
  EXPECT_FALSE(ValidateClient(c));
}

// ---------------------------------------------------------------------------------------------
// ClientTable

ClientTable Table() {
  Client web = Web("app", {"https://app.example.com/cb", "https://app.example.com/other?fixed=1"});
  web.name = "The App";
  Client trusted = Web("meet", {"https://meet.example.org/meet/"});
  trusted.trusted = true;
  Client native = Native("cli", {"http://localhost/cb", "http://127.0.0.1:8080/native"});
  Client open = Web("open", {});
  open.insecure = true;
  Client insecure_web = Web("dev", {"http://localhost:3000/cb"});
  insecure_web.insecure = true;
  return ClientTable({web, trusted, native, open, insecure_web});
}

TEST(ClientTable, Find) {
  ClientTable t = Table();
  ASSERT_NE(t.Find("app"), nullptr);
  EXPECT_EQ(t.Find("app")->name, "The App");
  EXPECT_EQ(t.Find("nope"), nullptr);
  EXPECT_EQ(t.Find("APP"), nullptr);  // ids are case-sensitive
  EXPECT_EQ(t.All().size(), 5u);
}

TEST(ClientTable, RegisteredExactMatchIgnoringQuery) {
  ClientTable t = Table();
  auto d = t.ForRedirect("app", "https://app.example.com/cb", kIssuer);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_TRUE(d->registered);
  EXPECT_FALSE(d->trusted);
  EXPECT_EQ(d->id, "app");
  EXPECT_EQ(d->name, "The App");
  EXPECT_EQ(d->registration, t.Find("app"));
  EXPECT_TRUE(t.ForRedirect("app", "https://app.example.com/cb?state=x", kIssuer));
  EXPECT_TRUE(t.ForRedirect("app", "https://APP.Example.com/cb", kIssuer));  // host case-insensitive
  EXPECT_TRUE(t.ForRedirect("app", "https://app.example.com/other", kIssuer));  // registered with a query
  EXPECT_TRUE(t.ForRedirect("app", "https://app.example.com/other?fixed=2", kIssuer));
  for (const char* bad : {"https://app.example.com/cb/", "https://app.example.com/CB", "https://app.example.com/cb2",
                          "http://app.example.com/cb", "https://app.example.com:8443/cb", "https://evil.example/cb",
                          "https://app.example.com.evil.example/cb", "https://app.example.com/", "/cb"}) {
    auto r = t.ForRedirect("app", bad, kIssuer);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied) << bad;
      EXPECT_FALSE(r.error().public_message.empty());
    }
  }
}

TEST(ClientTable, TrustedAndUnnamedRegistration) {
  ClientTable t = Table();
  auto d = t.ForRedirect("meet", "https://meet.example.org/meet/", kIssuer);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->registered);
  EXPECT_TRUE(d->trusted);
  EXPECT_EQ(d->name, "meet");  // unnamed: the id
}

TEST(ClientTable, UnregisteredSameOriginAcceptedAndTrusted) {
  ClientTable t = Table();
  auto d = t.ForRedirect("kpop-https://meet.example.org/meet", "https://meet.example.org/meet/#oidc-callback", kIssuer);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_FALSE(d->registered);
  EXPECT_TRUE(d->trusted);
  EXPECT_EQ(d->registration, nullptr);
  EXPECT_EQ(d->id, "kpop-https://meet.example.org/meet");
  EXPECT_EQ(d->name, d->id);
  EXPECT_TRUE(t.ForRedirect("x", "https://MEET.example.org/anything?q", kIssuer));
  // The issuer's path does not matter, only its origin.
  EXPECT_TRUE(t.ForRedirect("x", "https://meet.example.org/cb", "https://meet.example.org/konnect"));
  // Same origin includes the port.
  EXPECT_TRUE(t.ForRedirect("x", "https://meet.example.org:8443/cb", "https://meet.example.org:8443"));
}

TEST(ClientTable, UnregisteredOtherOriginDenied) {
  ClientTable t = Table();
  for (const char* bad : {"https://evil.example/meet/", "http://meet.example.org/meet/", "https://meet.example.org:8443/",
                          "https://meet.example.org.evil.example/", "https://sub.meet.example.org/"}) {
    auto r = t.ForRedirect("unknown", bad, kIssuer);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
    }
  }
  // With an unparsable issuer nothing is same-origin.
  EXPECT_FALSE(t.ForRedirect("unknown", "https://meet.example.org/", "not a url"));
}

TEST(ClientTable, RegisteredClientGetsNoSameOriginTrust) {
  ClientTable t = Table();
  // "meet" is registered: its list is authoritative even on the issuer's origin.
  auto r = t.ForRedirect("meet", "https://meet.example.org/elsewhere", kIssuer);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
  // "app" is registered and not trusted; an issuer-origin URI is not in its list.
  EXPECT_FALSE(t.ForRedirect("app", "https://meet.example.org/meet/", kIssuer));
}

TEST(ClientTable, NativeLocalhostPortIgnored) {
  ClientTable t = Table();
  EXPECT_TRUE(t.ForRedirect("cli", "http://localhost/cb", kIssuer));
  EXPECT_TRUE(t.ForRedirect("cli", "http://localhost:51234/cb", kIssuer));
  EXPECT_TRUE(t.ForRedirect("cli", "http://127.0.0.1:9/native", kIssuer));
  EXPECT_TRUE(t.ForRedirect("cli", "http://127.0.0.1/native", kIssuer));
  EXPECT_FALSE(t.ForRedirect("cli", "http://localhost:51234/other", kIssuer));  // the path still counts
  EXPECT_FALSE(t.ForRedirect("cli", "http://127.0.0.1:51234/cb", kIssuer));     // the host still counts
  EXPECT_FALSE(t.ForRedirect("cli", "https://localhost:51234/cb", kIssuer));    // the scheme still counts
  EXPECT_FALSE(t.ForRedirect("cli", "http://evil.example:51234/cb", kIssuer));
}

TEST(ClientTable, WebLocalhostPortNotIgnored) {
  ClientTable t = Table();
  // "dev" is an insecure web client on http://localhost:3000: no port leniency for web clients.
  EXPECT_TRUE(t.ForRedirect("dev", "http://localhost:3000/cb", kIssuer));
  EXPECT_FALSE(t.ForRedirect("dev", "http://localhost:3001/cb", kIssuer));
}

TEST(ClientTable, InsecureWithoutRedirectUrisAcceptsAny) {
  ClientTable t = Table();
  auto d = t.ForRedirect("open", "http://anything.example/cb", kIssuer);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->registered);
  EXPECT_FALSE(d->trusted);
  EXPECT_FALSE(t.ForRedirect("open", "not-a-url", kIssuer));
}

// ---------------------------------------------------------------------------------------------
// Secrets

TEST(ClientSecret, HashAndMatch) {
  EXPECT_EQ(Client::HashSecret("s3cret"), RefSecretHash("s3cret"));
  EXPECT_EQ(Client::HashSecret(""), RefSecretHash(""));
  EXPECT_NE(Client::HashSecret("a"), Client::HashSecret("b"));
  Client c = Web("app", {"https://app.example.com/cb"});
  c.secret_hash = Client::HashSecret("s3cret");
  EXPECT_TRUE(c.SecretMatches("s3cret"));
  EXPECT_FALSE(c.SecretMatches("s3cret "));
  EXPECT_FALSE(c.SecretMatches("S3cret"));
  EXPECT_FALSE(c.SecretMatches(""));
  EXPECT_FALSE(c.SecretMatches(c.secret_hash));  // the hash is not the secret
}

TEST(ClientSecret, PublicClientNeverMatches) {
  Client c = Web("app", {"https://app.example.com/cb"});
  ASSERT_TRUE(c.secret_hash.empty());
  EXPECT_FALSE(c.SecretMatches(""));
  EXPECT_FALSE(c.SecretMatches("anything"));
}

// ---------------------------------------------------------------------------------------------
// ClientStore

class ClientStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = palaver::testing::OpenStore(tmp_.path() / "p.db", std::chrono::milliseconds(100));
    ASSERT_TRUE(store);
    store_ = std::move(*store);
    ASSERT_TRUE(store_->Migrate("oidc_clients", ClientStore::Migrations()));
  }
  palaver::testing::TempDir tmp_;
  std::unique_ptr<sdk::Store> store_;
};

void ExpectSameClient(const Client& a, const Client& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.secret_hash, b.secret_hash);
  EXPECT_EQ(a.trusted, b.trusted);
  EXPECT_EQ(a.insecure, b.insecure);
  EXPECT_EQ(a.native, b.native);
  EXPECT_EQ(a.redirect_uris, b.redirect_uris);
  EXPECT_EQ(a.origins, b.origins);
  EXPECT_EQ(a.post_logout_redirect_uris, b.post_logout_redirect_uris);
}

TEST_F(ClientStoreTest, PutListRemoveRoundTrip) {
  ClientStore cs(*store_);
  auto empty = cs.List();
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_TRUE(empty->empty());

  Client b = Web("b-app", {"https://b.example.com/cb", "https://b.example.com/cb2"});
  b.name = "B \"quoted\" Äpp";
  b.secret_hash = Client::HashSecret("pw");
  b.trusted = true;
  b.origins = {"https://b.example.com"};
  b.post_logout_redirect_uris = {"https://b.example.com/bye"};
  Client a = Native("a-cli", {"http://localhost/cb"});
  Client c = Web("c-dev", {});
  c.insecure = true;
  ASSERT_TRUE(cs.Put(b));
  ASSERT_TRUE(cs.Put(a));
  ASSERT_TRUE(cs.Put(c));

  auto list = cs.List();
  ASSERT_TRUE(list) << list.error().message;
  ASSERT_EQ(list->size(), 3u);
  // Ordered by id.
  ExpectSameClient((*list)[0], a);
  ExpectSameClient((*list)[1], b);
  ExpectSameClient((*list)[2], c);
  EXPECT_TRUE((*list)[1].SecretMatches("pw"));

  ASSERT_TRUE(cs.Remove("b-app"));
  list = cs.List();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, "a-cli");
  EXPECT_EQ((*list)[1].id, "c-dev");

  auto again = cs.Remove("b-app");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(cs.Remove("never").error().code, ErrorCode::kNotFound);
}

TEST_F(ClientStoreTest, PutReplacesById) {
  ClientStore cs(*store_);
  Client v1 = Web("app", {"https://app.example.com/cb"});
  v1.name = "v1";
  v1.trusted = true;
  ASSERT_TRUE(cs.Put(v1));
  Client v2 = Web("app", {"https://app.example.com/new"});
  v2.name = "v2";
  ASSERT_TRUE(cs.Put(v2));
  auto list = cs.List();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  ExpectSameClient((*list)[0], v2);
}

TEST_F(ClientStoreTest, PutValidates) {
  ClientStore cs(*store_);
  auto st = cs.Put(Web("bad", {"http://app.example.com/cb"}));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(cs.Put(Web("", {"https://app.example.com/cb"})));
  auto list = cs.List();
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->empty());
}

TEST_F(ClientStoreTest, PersistsAcrossStoreInstances) {
  {
    ClientStore cs(*store_);
    ASSERT_TRUE(cs.Put(Web("app", {"https://app.example.com/cb"})));
  }
  store_.reset();
  auto reopened = palaver::testing::OpenStore(tmp_.path() / "p.db", std::chrono::milliseconds(100));
  ASSERT_TRUE(reopened);
  ASSERT_TRUE((*reopened)->Migrate("oidc_clients", ClientStore::Migrations()));
  ClientStore cs(**reopened);
  auto list = cs.List();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].redirect_uris, (std::vector<std::string>{"https://app.example.com/cb"}));
}

TEST_F(ClientStoreTest, DamagedRegistrationIsDataLoss) {
  ASSERT_TRUE(store_->With([](sdk::Db& db) {
    return db.Exec("INSERT INTO oidc_clients(id, registration) VALUES('x', 'not json')");
  }));
  ClientStore cs(*store_);
  auto list = cs.List();
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().code, ErrorCode::kDataLoss);
}

// ---------------------------------------------------------------------------------------------
// konnect identifier-registration.yaml

const char kKonnectYaml[] = R"yaml(---
# OpenID Connect client registry.
clients:
  - id: kpop-https://meet.example.org/meet
    name: Kopano Meet
    application_type: web
    trusted: yes
    redirect_uris:
      - https://meet.example.org/meet/
    origins:
      - https://meet.example.org

  - id: playground.js
    name: OIDC Playground
    application_type: web
    trusted: false
    redirect_uris:
      - https://playground.example.org/
      - https://playground.example.org/cb
    origins:
      - https://playground.example.org
    trusted_scopes:
      - konnect/guestok
    request_object_signing_alg: ES256

  - id: native-cli
    name: Command line
    secret: super-secret
    application_type: native
    redirect_uris:
      - http://localhost

  - id: broken-web
    name: Broken
    application_type: web
    redirect_uris:
      - http://insecure.example.org/cb

  - id: dev-app
    insecure: yes
    redirect_uris:
      - http://localhost:3000/cb
)yaml";

TEST(KonnectYaml, ParsesClientsAndSkipsInvalidOnes) {
  auto r = ParseKonnectRegistrationYaml(kKonnectYaml);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->clients.size(), 4u);

  const Client& meet = r->clients[0];
  EXPECT_EQ(meet.id, "kpop-https://meet.example.org/meet");
  EXPECT_EQ(meet.name, "Kopano Meet");
  EXPECT_TRUE(meet.trusted);
  EXPECT_FALSE(meet.native);
  EXPECT_FALSE(meet.insecure);
  EXPECT_TRUE(meet.secret_hash.empty());
  EXPECT_EQ(meet.redirect_uris, (std::vector<std::string>{"https://meet.example.org/meet/"}));
  EXPECT_EQ(meet.origins, (std::vector<std::string>{"https://meet.example.org"}));

  const Client& playground = r->clients[1];
  EXPECT_EQ(playground.id, "playground.js");
  EXPECT_FALSE(playground.trusted);
  EXPECT_EQ(playground.redirect_uris,
            (std::vector<std::string>{"https://playground.example.org/", "https://playground.example.org/cb"}));

  const Client& cli = r->clients[2];
  EXPECT_EQ(cli.id, "native-cli");
  EXPECT_TRUE(cli.native);
  EXPECT_EQ(cli.secret_hash, RefSecretHash("super-secret"));  // hashed, never stored as given
  EXPECT_NE(cli.secret_hash, "super-secret");
  EXPECT_TRUE(cli.SecretMatches("super-secret"));

  const Client& dev = r->clients[3];
  EXPECT_EQ(dev.id, "dev-app");
  EXPECT_TRUE(dev.insecure);

  ASSERT_EQ(r->skipped.size(), 1u);
  EXPECT_NE(r->skipped[0].find("broken-web"), std::string::npos) << r->skipped[0];
}

TEST(KonnectYaml, EntryWithoutIdIsSkipped) {
  auto r = ParseKonnectRegistrationYaml(
      "clients:\n"
      "  - name: No id\n"
      "    redirect_uris: [https://a.example.com/cb]\n"
      "  - id: ok\n"
      "    redirect_uris: [https://a.example.com/cb]\n");
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->clients.size(), 1u);
  EXPECT_EQ(r->clients[0].id, "ok");
  EXPECT_EQ(r->skipped.size(), 1u);
}

TEST(KonnectYaml, MalformedEntryIsSkippedNotFatal) {
  // clients.hpp: "Each entry is validated; invalid ones are returned in `skipped`". An entry that
  // is a scalar, or has a non-boolean flag, is such an invalid entry of otherwise valid YAML.
  auto scalar = ParseKonnectRegistrationYaml(
      "clients:\n"
      "  - just-a-string\n"
      "  - id: ok\n"
      "    redirect_uris: [https://a.example.com/cb]\n");
  ASSERT_TRUE(scalar) << scalar.error().message;
  ASSERT_EQ(scalar->clients.size(), 1u);
  EXPECT_EQ(scalar->clients[0].id, "ok");
  EXPECT_EQ(scalar->skipped.size(), 1u);
  auto bad_flag = ParseKonnectRegistrationYaml(
      "clients:\n"
      "  - id: x\n"
      "    trusted: maybe\n"
      "    redirect_uris: [https://a.example.com/cb]\n"
      "  - id: ok\n"
      "    redirect_uris: [https://a.example.com/cb]\n");
  ASSERT_TRUE(bad_flag) << bad_flag.error().message;
  ASSERT_EQ(bad_flag->clients.size(), 1u);
  EXPECT_EQ(bad_flag->clients[0].id, "ok");
  EXPECT_EQ(bad_flag->skipped.size(), 1u);
}

TEST(KonnectYaml, RedirectUrisNotAListIsSkipped) {
  auto r = ParseKonnectRegistrationYaml(
      "clients:\n"
      "  - id: x\n"
      "    redirect_uris: https://a.example.com/cb\n");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->clients.empty());  // no redirect URI list: not a valid (secure) client
  EXPECT_EQ(r->skipped.size(), 1u);
}

TEST(KonnectYaml, MalformedYamlIsAnError) {
  for (const char* bad : {"clients: [unclosed", "\"unterminated", "clients:\n  - id: a\n redirect_uris: x\n  - {id: b\n"}) {
    auto r = ParseKonnectRegistrationYaml(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
      EXPECT_FALSE(r.error().public_message.empty());
    }
  }
}

TEST(KonnectYaml, NotAMapOrClientsNotAList) {
  EXPECT_FALSE(ParseKonnectRegistrationYaml("- a\n- b\n"));
  EXPECT_FALSE(ParseKonnectRegistrationYaml("just a string"));
  auto r = ParseKonnectRegistrationYaml("clients: nope\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
}

TEST(KonnectYaml, MissingClientsKeyIsEmpty) {
  auto r = ParseKonnectRegistrationYaml("---\n# nothing registered\nother: 1\n");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->clients.empty());
  EXPECT_TRUE(r->skipped.empty());
  auto empty_list = ParseKonnectRegistrationYaml("clients: []\n");
  ASSERT_TRUE(empty_list);
  EXPECT_TRUE(empty_list->clients.empty());
}

}  // namespace
}  // namespace palaver::oidc
