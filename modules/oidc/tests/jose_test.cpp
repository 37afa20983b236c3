#include <gtest/gtest.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <atomic>
#include <limits>
#include <memory>
#include <sstream>
#include <thread>

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include "jose.hpp"

namespace palaver::oidc {
namespace {

Poco::JSON::Object Claims(int64_t exp) {
  Poco::JSON::Object c;
  c.set("iss", "https://meet.example.org");
  c.set("sub", "user-1");
  c.set("exp", exp);
  return c;
}

std::string Part(const std::string& token, int i) {
  size_t a = token.find('.'), b = token.find('.', a + 1);
  if (i == 0) return token.substr(0, a);
  if (i == 1) return token.substr(a + 1, b - a - 1);
  return token.substr(b + 1);
}

TEST(Base64Url, RoundTripsAndIsStrict) {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\xff\xfe\x00", 3)}) {
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(s)), s);
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_FALSE(Base64UrlDecode("Zm9v="));  // padding
  EXPECT_FALSE(Base64UrlDecode("Zm+v"));   // standard alphabet
  EXPECT_FALSE(Base64UrlDecode("Z"));      // impossible length
  EXPECT_FALSE(Base64UrlDecode("Zh"));     // non-canonical trailing bits
}

class JoseAlgTest : public ::testing::TestWithParam<JwsAlg> {};

TEST_P(JoseAlgTest, SignsAndVerifies) {
  auto key = SigningKey::Generate(GetParam(), "k1");
  ASSERT_TRUE(key);
  auto token = SignJwt(*key, Claims(2000000000));
  ASSERT_TRUE(token);
  auto claims = VerifyJwt(*token, {*key});
  ASSERT_TRUE(claims) << claims.error().message;
  EXPECT_EQ((*claims)->getValue<std::string>("sub"), "user-1");
  auto header = Base64UrlDecode(Part(*token, 0));
  EXPECT_NE(header->find(std::string("\"alg\":\"") + AlgName(GetParam()) + "\""), std::string::npos);
  EXPECT_NE(header->find("\"kid\":\"k1\""), std::string::npos);
  // The PEM round trip keeps the key.
  auto again = SigningKey::FromPrivatePem(key->PrivatePem(), GetParam(), "k1");
  ASSERT_TRUE(again);
  EXPECT_TRUE(VerifyJwt(*token, {*again}));
  EXPECT_EQ(again->PublicJwk(), key->PublicJwk());
}

INSTANTIATE_TEST_SUITE_P(Algs, JoseAlgTest, ::testing::Values(JwsAlg::kES256, JwsAlg::kRS256, JwsAlg::kPS256));

TEST(Jose, Es256SignatureIsRaw64Bytes) {
  auto key = SigningKey::Generate(JwsAlg::kES256, "k");
  auto token = SignJwt(*key, Claims(1));
  EXPECT_EQ(Base64UrlDecode(Part(*token, 2))->size(), 64u);
  std::string jwk = key->PublicJwk();
  EXPECT_NE(jwk.find("\"kty\":\"EC\",\"crv\":\"P-256\""), std::string::npos);
}

TEST(Jose, RejectsTamperingNoneHmacAndConfusion) {
  auto es = SigningKey::Generate(JwsAlg::kES256, "es");
  auto rs = SigningKey::Generate(JwsAlg::kRS256, "rs");
  auto token = *SignJwt(*es, Claims(2000000000));
  // Tampered payload.
  Poco::JSON::Object evil = Claims(2000000000);
  evil.set("sub", "admin");
  std::ostringstream evil_json;
  evil.stringify(evil_json);
  std::string tampered = Part(token, 0) + "." + Base64UrlEncode(evil_json.str()) + "." + Part(token, 2);
  EXPECT_FALSE(VerifyJwt(tampered, {*es}));
  // alg none, with and without a signature.
  std::string none_header = Base64UrlEncode("{\"alg\":\"none\",\"kid\":\"es\"}");
  EXPECT_FALSE(VerifyJwt(none_header + "." + Part(token, 1) + ".", {*es}));
  EXPECT_FALSE(VerifyJwt(none_header + "." + Part(token, 1) + "." + Part(token, 2), {*es}));
  // HS256 with the public key as the secret (classic confusion) is not even an accepted alg.
  std::string hs_header = Base64UrlEncode("{\"alg\":\"HS256\",\"kid\":\"rs\"}");
  EXPECT_FALSE(VerifyJwt(hs_header + "." + Part(token, 1) + ".AAAA", {*rs}));
  // A header claiming RS256 for the EC key's kid.
  std::string rs_header = Base64UrlEncode("{\"alg\":\"RS256\",\"kid\":\"es\"}");
  auto wrong_alg = VerifyJwt(rs_header + "." + Part(token, 1) + "." + Part(token, 2), {*es});
  ASSERT_FALSE(wrong_alg);
  EXPECT_EQ(wrong_alg.error().public_message, "invalid token");
  // Unknown kid; another key with the same kid.
  EXPECT_FALSE(VerifyJwt(token, {*rs}));
  auto other = SigningKey::Generate(JwsAlg::kES256, "es");
  EXPECT_FALSE(VerifyJwt(token, {*other}));
}

TEST(Jose, RejectsMalformedTokens) {
  auto key = SigningKey::Generate(JwsAlg::kES256, "k");
  for (const std::string& bad : std::vector<std::string>{"", "a", "a.b", "a.b.c.d", "!!.!!.!!", "e30.e30.", "W10.e30.AA",
                          std::string(kMaxTokenBytes + 1, 'a')}) {
    auto r = VerifyJwt(bad, {*key});
    ASSERT_FALSE(r) << bad.substr(0, 20);
    EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
  }
  std::string crit = Base64UrlEncode("{\"alg\":\"ES256\",\"kid\":\"k\",\"crit\":[\"x\"]}");
  EXPECT_FALSE(ParseJwt(crit + "." + Base64UrlEncode("{}") + ".AA"));
}

TEST(Jose, TokenTimes) {
  Poco::JSON::Object c = Claims(1000);
  EXPECT_TRUE(CheckTokenTimes(c, 990, 0));
  EXPECT_FALSE(CheckTokenTimes(c, 1000, 0));
  EXPECT_TRUE(CheckTokenTimes(c, 1020, 30));  // leeway
  c.set("nbf", 2000);
  EXPECT_FALSE(CheckTokenTimes(c, 990, 30));
  Poco::JSON::Object no_exp;
  EXPECT_FALSE(CheckTokenTimes(no_exp, 0, 0));
  Poco::JSON::Object bad_exp;
  bad_exp.set("exp", "soon");
  EXPECT_FALSE(CheckTokenTimes(bad_exp, 0, 0));
}

TEST(Jose, KeyAlgMismatchOnLoadIsRefused) {
  auto ec = SigningKey::Generate(JwsAlg::kES256, "k");
  EXPECT_FALSE(SigningKey::FromPrivatePem(ec->PrivatePem(), JwsAlg::kRS256, "k"));
  EXPECT_FALSE(SigningKey::FromPrivatePem("not a key", JwsAlg::kES256, "k"));
}

// ---------------------------------------------------------------------------------------------
// ES256 on prepared contexts, checked against OpenSSL's own EVP_DigestSign/EVP_DigestVerify.

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

PkeyPtr PkeyOf(const SigningKey& key) {
  std::string pem = key.PrivatePem();
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  return PkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
}

// raw r || s -> DER through OpenSSL's ECDSA_SIG (not the code under test).
std::string DerOf(std::string_view raw) {
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(ECDSA_SIG_new(), ECDSA_SIG_free);
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  ECDSA_SIG_set0(sig.get(), BN_bin2bn(p, 32, nullptr), BN_bin2bn(p + 32, 32, nullptr));
  unsigned char* der = nullptr;
  int n = i2d_ECDSA_SIG(sig.get(), &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return out;
}

// OpenSSL's one-shot verify of a DER signature over `input` (SHA-256).
bool OpenSslVerifies(EVP_PKEY* pkey, std::string_view input, std::string_view der) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  return EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                          reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
}

TEST(JoseEs256, PreparedSignatureVerifiesWithOpenSslAndAFlippedByteFails) {
  auto key = SigningKey::Generate(JwsAlg::kES256, "k");
  ASSERT_TRUE(key);
  PkeyPtr pkey = PkeyOf(*key);
  ASSERT_TRUE(pkey);
  const std::string input = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ";
  for (int i = 0; i < 20; ++i) {  // each signature has a fresh nonce: several, to vary r and s
    auto sig = key->Sign(input);
    ASSERT_TRUE(sig);
    ASSERT_EQ(sig->size(), 64u);
    std::string der = DerOf(*sig);
    EXPECT_TRUE(OpenSslVerifies(pkey.get(), input, der));
    EXPECT_TRUE(key->Verify(input, *sig));
    std::string flipped = *sig;
    flipped[static_cast<size_t>(i * 3) % 64] ^= 0x01;
    EXPECT_FALSE(OpenSslVerifies(pkey.get(), input, DerOf(flipped)));
    EXPECT_FALSE(key->Verify(input, flipped));
    std::string other_input = input;
    other_input[static_cast<size_t>(i) % other_input.size()] ^= 0x01;
    EXPECT_FALSE(OpenSslVerifies(pkey.get(), other_input, der));
    EXPECT_FALSE(key->Verify(other_input, *sig));
  }
  // A key from another party with the same kid does not verify it.
  auto stranger = SigningKey::Generate(JwsAlg::kES256, "k");
  EXPECT_FALSE(stranger->Verify(input, *key->Sign(input)));
}

TEST(JoseEs256, PreparedVerifyAcceptsOpenSslSignatures) {
  auto key = SigningKey::Generate(JwsAlg::kES256, "k");
  PkeyPtr pkey = PkeyOf(*key);
  // The public key alone (as a JWKS gives it) verifies too.
  Poco::JSON::Parser parser;
  auto jwk = parser.parse(key->PublicJwk()).extract<Poco::JSON::Object::Ptr>();
  auto public_keys = SigningKey::FromPublicJwk(*jwk, {});
  ASSERT_TRUE(public_keys);
  ASSERT_EQ(public_keys->size(), 1u);
  const SigningKey& pub = (*public_keys)[0];
  EXPECT_FALSE(pub.Sign("x"));  // no private key: no signature
  const std::string input = "header.payload";
  for (int i = 0; i < 20; ++i) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    ASSERT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey.get()), 1);
    unsigned char der[80];
    size_t len = sizeof der;
    ASSERT_EQ(EVP_DigestSign(ctx.get(), der, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()), 1);
    const unsigned char* p = der;
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)),
                                                              ECDSA_SIG_free);
    ASSERT_TRUE(sig);
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    EXPECT_TRUE(key->Verify(input, raw));
    EXPECT_TRUE(pub.Verify(input, raw));
    std::string flipped = raw;
    flipped[static_cast<size_t>(i * 5 + 1) % 64] ^= 0x80;
    EXPECT_FALSE(pub.Verify(input, flipped));
    EXPECT_FALSE(pub.Verify(input, raw.substr(0, 63)));
    EXPECT_FALSE(pub.Verify(input, std::string(64, '\0')));  // r = s = 0
  }
}

TEST(JoseEs256, KeysAreSafeToShareBetweenThreads) {
  auto key = SigningKey::Generate(JwsAlg::kES256, "k");
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::string input = "t" + std::to_string(t) + "." + std::to_string(i);
        auto sig = key->Sign(input);
        if (sig && key->Verify(input, *sig)) ++good;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), 100);
}

// The DER <-> raw conversion agrees with OpenSSL's (d2i/i2d_ECDSA_SIG) on edge values: leading
// zero bytes, the high bit set (needs a 0x00), zero.
TEST(JoseEs256, DerConversionMatchesOpenSsl) {
  std::vector<std::string> values = {std::string(32, '\0'), std::string(31, '\0') + "\x01", std::string(32, '\xff'),
                                     "\x80" + std::string(31, '\0'), "\x7f" + std::string(31, '\xff'),
                                     std::string(1, '\0') + "\x80" + std::string(30, '\x11'),
                                     std::string(5, '\0') + std::string(27, '\x42')};
  for (int i = 0; i < 50; ++i) {
    std::string v(32, '\0');
    RAND_bytes(reinterpret_cast<unsigned char*>(v.data()), 32);
    values.push_back(v);
  }
  for (const auto& r : values) {
    for (const auto& s : values) {
      std::string raw = r + s;
      unsigned char der[72];
      size_t n = EcdsaRawToDer(reinterpret_cast<const unsigned char*>(raw.data()), der);
      std::string mine(reinterpret_cast<char*>(der), n);
      ASSERT_EQ(mine, DerOf(raw));
      unsigned char back[64];
      ASSERT_TRUE(EcdsaDerToRaw(mine, back));
      ASSERT_EQ(std::string(reinterpret_cast<char*>(back), 64), raw);
    }
  }
  unsigned char out[64];
  const std::string good = DerOf(std::string(64, '\x05'));
  EXPECT_TRUE(EcdsaDerToRaw(good, out));
  using namespace std::string_literals;  // the cases hold NUL bytes
  EXPECT_FALSE(EcdsaDerToRaw(good + "\x00"s, out));  // trailing byte
  EXPECT_FALSE(EcdsaDerToRaw(good.substr(0, good.size() - 1), out));
  EXPECT_FALSE(EcdsaDerToRaw("", out));
  EXPECT_TRUE(EcdsaDerToRaw("\x30\x06\x02\x01\x01\x02\x01\x01"s, out));      // r = s = 1
  EXPECT_TRUE(EcdsaDerToRaw("\x30\x07\x02\x02\x00\x80\x02\x01\x01"s, out));  // 0x00 before a high bit
  EXPECT_FALSE(EcdsaDerToRaw("\x30\x06\x02\x01\x80\x02\x01\x01"s, out));      // negative r
  EXPECT_FALSE(EcdsaDerToRaw("\x30\x07\x02\x02\x00\x01\x02\x01\x01"s, out));  // non-minimal r
  EXPECT_FALSE(EcdsaDerToRaw("\x30\x05\x02\x00\x02\x01\x01"s, out));          // empty r
  EXPECT_FALSE(EcdsaDerToRaw("\x31\x06\x02\x01\x01\x02\x01\x01"s, out));      // not a SEQUENCE
  EXPECT_FALSE(EcdsaDerToRaw("\x30\x06\x04\x01\x01\x02\x01\x01"s, out));      // not an INTEGER
  EXPECT_FALSE(EcdsaDerToRaw("\x30\x07\x02\x01\x01\x02\x01\x01\x00"s, out));  // bytes after s
  std::string big = "\x30\x26\x02\x21\x01"s + std::string(32, '\x01') + "\x02\x01\x01"s;  // r >= 2^256
  EXPECT_FALSE(EcdsaDerToRaw(big, out));
}

// ---------------------------------------------------------------------------------------------
// JSON written directly is byte for byte what Poco::JSON::Object::stringify writes.

std::string PocoText(const Poco::JSON::Object& o) {
  std::ostringstream out;
  o.stringify(out);
  return out.str();
}

TEST(JsonWriter, StringEscapingMatchesPoco) {
  std::vector<std::string> strings = {"", "plain", "a/b", "q\"uote", "back\\slash", "tab\tnl\ncr\r", "\x7f",
                                      "Gr\xc3\xbc\xc3\x9f \xe2\x82\xac", "\xff\xfe", "<script>&", std::string("nul\0x", 5)};
  for (int c = 0; c < 256; ++c) strings.push_back(std::string(1, static_cast<char>(c)) + "x" + std::string(1, static_cast<char>(c)));
  for (const auto& v : strings) {
    Poco::JSON::Object o;
    o.set("k", v);
    std::string mine = "{\"k\":";
    AppendJsonString(mine, v);
    mine += "}";
    ASSERT_EQ(mine, PocoText(o)) << "byte " << static_cast<int>(static_cast<unsigned char>(v.empty() ? 0 : v[0]));
  }
}

TEST(JsonWriter, ObjectsArraysNumbersMatchPoco) {
  Poco::JSON::Object o;
  o.set("a", std::string("x\u0001/"));
  Poco::JSON::Array::Ptr arr = new Poco::JSON::Array;
  arr->add(std::string("one"));
  arr->add(std::string("t\"wo\n"));
  o.set("arr", arr);
  o.set("empty", Poco::JSON::Array::Ptr(new Poco::JSON::Array));
  o.set("f", false);
  o.set("max", std::numeric_limits<int64_t>::max());
  o.set("min", std::numeric_limits<int64_t>::min());
  Poco::JSON::Object::Ptr nested = new Poco::JSON::Object;
  nested->set("in", true);
  Poco::JSON::Object::Ptr deeper = new Poco::JSON::Object;
  deeper->set("z", int64_t{0});
  nested->set("more", deeper);
  o.set("n", nested);
  o.set("none", Poco::JSON::Object::Ptr(new Poco::JSON::Object));
  o.set("t", true);
  JsonObjectWriter w;
  w.String("a", "x\u0001/")
      .Strings("arr", std::vector<std::string>{"one", "t\"wo\n"})
      .Strings("empty", std::vector<std::string>{})
      .Bool("f", false)
      .Int("max", std::numeric_limits<int64_t>::max())
      .Int("min", std::numeric_limits<int64_t>::min());
  w.BeginObject("n").BeginObject("more").Int("z", 0).EndObject().Bool("in", true).EndObject();
  w.BeginObject("none").EndObject().Bool("t", true);
  // Poco sorts "in" before "more": written here in the writer's order, so compare parsed too.
  std::string mine = std::move(w).Finish();
  EXPECT_EQ(PocoText(*ParseJsonObject(mine)), PocoText(o));
  JsonObjectWriter sorted;
  sorted.String("a", "x\u0001/")
      .Strings("arr", std::vector<std::string>{"one", "t\"wo\n"})
      .Strings("empty", std::vector<std::string>{})
      .Bool("f", false)
      .Int("max", std::numeric_limits<int64_t>::max())
      .Int("min", std::numeric_limits<int64_t>::min());
  sorted.BeginObject("n").Bool("in", true).BeginObject("more").Int("z", 0).EndObject().EndObject();
  sorted.BeginObject("none").EndObject().Bool("t", true).Raw("u", "[1,{\"x\":2}]");
  Poco::JSON::Parser parser;
  o.set("u", parser.parse("[1,{\"x\":2}]"));
  EXPECT_EQ(std::move(sorted).Finish(), PocoText(o));
}

TEST(JsonWriter, CanonicalJsonObjectIsPocosText) {
  for (const std::string& in : {std::string(R"({"userinfo":{"email":null},"id_token":{"name":{"essential":true}}})"),
                                std::string(R"({ "b" : [1, 2.5, "x\/y", "\u00fc"], "a":{} })"), std::string("{}")}) {
    auto first = CanonicalJsonObject(in);
    ASSERT_TRUE(first) << in;
    EXPECT_EQ(*first, PocoText(*ParseJsonObject(in)));
    EXPECT_EQ(CanonicalJsonObject(in), first);  // from the cache: the same
  }
  EXPECT_FALSE(CanonicalJsonObject(""));
  EXPECT_FALSE(CanonicalJsonObject("[1]"));
  EXPECT_FALSE(CanonicalJsonObject("{\"a\":"));
}

TEST(JsonWriter, AppendBase64UrlMatchesTheSdk) {
  std::string bytes;
  for (int n = 0; n < 70; ++n) {
    std::string out = "prefix.";
    AppendBase64Url(out, bytes);
    ASSERT_EQ(out, "prefix." + Base64UrlEncode(bytes));
    bytes.push_back(static_cast<char>(n * 37 + 250));
  }
}

TEST(Jose, SignJwtJsonSignsTheTextAsGiven) {
  auto key = SigningKey::Generate(JwsAlg::kES256, "k1");
  const std::string claims = R"({"exp":2000000000,"iss":"https://meet.example.org","sub":"user-1"})";
  auto token = SignJwtJson(*key, claims);
  ASSERT_TRUE(token);
  EXPECT_EQ(Base64UrlDecode(Part(*token, 1)), claims);
  EXPECT_EQ(*Base64UrlDecode(Part(*token, 0)), R"({"alg":"ES256","kid":"k1","typ":"JWT"})");
  auto verified = VerifyJwt(*token, {*key});
  ASSERT_TRUE(verified);
  EXPECT_EQ((*verified)->getValue<std::string>("sub"), "user-1");
  // The Poco path gives the same payload for the same claims.
  EXPECT_EQ(Part(*SignJwt(*key, Claims(2000000000)), 1), Part(*token, 1));
}

}  // namespace
}  // namespace palaver::oidc
