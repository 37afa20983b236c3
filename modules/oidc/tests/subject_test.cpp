#include <gtest/gtest.h>

#include "subject.hpp"

namespace palaver::oidc {
namespace {

// Vectors from Python's hashlib.blake2b(key=b"konnect-IDToken-v1", digest_size=64), the same
// keyed BLAKE2b-512 as Go's blake2b.New512 that konnect uses.
TEST(PublicSubject, MatchesKonnectDerivation) {
  EXPECT_EQ(PublicSubject("u1", kManagerLocal),
            "txr3KHUJjG8CUJzDCv_XSPc10nbUePy75G7fTRR1P92A9VCk5p6n1VzAGX_Jc2TnBtoAjJym-2gYWK54zyu2gg@konnect");
  EXPECT_EQ(PublicSubject("cn=Anna,dc=example,dc=org", "identifier-ldap"),
            "yZLfBhU50OsDdzeKgQX_9GkHkgchK1gzubV4mPph0gfdwg6zz4nUjbdd5QB86IPfhEwwYTjRRp5AgwoMluVFhw@konnect");
  EXPECT_NE(PublicSubject("u1", kManagerGuest), PublicSubject("u1", kManagerLocal));
}

}  // namespace
}  // namespace palaver::oidc
