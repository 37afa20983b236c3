#include <gtest/gtest.h>

#include "palaver/sdk/status.hpp"

namespace palaver {
namespace {

Result<int> Parse(int x) {
  if (x < 0) return Fail(ErrorCode::kInvalidArgument, "negative");
  return x * 2;
}

Result<int> Twice(int x) {
  PALAVER_ASSIGN_OR_RETURN(int a, Parse(x));
  PALAVER_ASSIGN_OR_RETURN(int b, Parse(a));
  return b;
}

Status Check(int x) {
  PALAVER_RETURN_IF_ERROR(Parse(x));
  return OkStatus();
}

TEST(Status, MacrosPropagateErrors) {
  EXPECT_EQ(Twice(3).value(), 12);
  auto r = Twice(-1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(Check(1));
  EXPECT_FALSE(Check(-1));
}

TEST(Status, MapsCodesToHttp) {
  EXPECT_EQ(HttpStatusFor(ErrorCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kPayloadTooLarge), 413);
  EXPECT_EQ(ErrorCodeName(ErrorCode::kNotFound), "not_found");
}

}  // namespace
}  // namespace palaver
