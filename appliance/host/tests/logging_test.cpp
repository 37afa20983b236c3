#include "logging.hpp"

#include <gtest/gtest.h>

namespace palaver::host {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

TEST(SplitLogMessage, SplitsEventAndKeyValuePairs) {
  SplitMessage s = SplitLogMessage("sign-in failed user=anna addr=192.0.2.7 reason=bad_credentials");
  EXPECT_EQ(s.msg, "sign-in failed");
  EXPECT_EQ(s.fields, (Fields{{"user", "anna"}, {"addr", "192.0.2.7"}, {"reason", "bad_credentials"}}));
}

TEST(SplitLogMessage, AMessageWithoutFieldsIsAllMessage) {
  SplitMessage s = SplitLogMessage("module started");
  EXPECT_EQ(s.msg, "module started");
  EXPECT_TRUE(s.fields.empty());
  EXPECT_EQ(SplitLogMessage("").msg, "");
}

TEST(SplitLogMessage, AFieldsOnlyLineHasAnEmptyMessage) {
  SplitMessage s = SplitLogMessage("addr=203.0.113.7 method=GET path=/meet/ status=200");
  EXPECT_EQ(s.msg, "");
  EXPECT_EQ(s.fields.size(), 4u);
  EXPECT_EQ(s.fields[2], (std::pair<std::string, std::string>{"path", "/meet/"}));
}

TEST(SplitLogMessage, QuotedValuesKeepTheirSpaces) {
  SplitMessage s = SplitLogMessage("local CA check failed err=\"cannot write ca.key: no space\" path=/x");
  EXPECT_EQ(s.msg, "local CA check failed");
  EXPECT_EQ(s.fields, (Fields{{"err", "cannot write ca.key: no space"}, {"path", "/x"}}));
}

TEST(SplitLogMessage, WordsAfterAValueStayWithIt) {
  // Free text after a field is part of that field's value: nothing is lost.
  SplitMessage s = SplitLogMessage("reload partly applied file=/etc/p.cfg: restart needed for [palaver] workers");
  EXPECT_EQ(s.msg, "reload partly applied");
  EXPECT_EQ(s.fields, (Fields{{"file", "/etc/p.cfg: restart needed for [palaver] workers"}}));
}

TEST(SplitLogMessage, RepeatedKeysAreNumbered) {
  SplitMessage s = SplitLogMessage("x a=1 a=2 a=3");
  EXPECT_EQ(s.fields, (Fields{{"a", "1"}, {"a_2", "2"}, {"a_3", "3"}}));
}

TEST(SplitLogMessage, OnlyLowercaseIdentifiersAreKeys) {
  SplitMessage s = SplitLogMessage("expected A=B and 1=2 and =x");
  EXPECT_EQ(s.msg, "expected A=B and 1=2 and =x");
  EXPECT_TRUE(s.fields.empty());
}

TEST(JsonLogLine, IsOneEscapedObjectPerLine) {
  std::string line = JsonLogLine("2026-12-07T03:00:00.123+00:00", "warn", "turn", 42,
                                 "bad \"thing\" happened user=a\"b\nc detail=x");
  EXPECT_EQ(line,
            "{\"time\":\"2026-12-07T03:00:00.123+00:00\",\"level\":\"warn\",\"logger\":\"turn\",\"thread\":42,"
            "\"msg\":\"bad \\\"thing\\\" happened\",\"fields\":{\"user\":\"a\\\"b\\nc\",\"detail\":\"x\"}}\n");
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

}  // namespace
}  // namespace palaver::host
