#include "palaver/sdk/i18n.hpp"

#include <gtest/gtest.h>

namespace palaver::sdk {
namespace {


TEST(PickLanguage, Basics) {
  EXPECT_EQ(PickLanguage(""), Lang::kEn);
  EXPECT_EQ(PickLanguage("de"), Lang::kDe);
  EXPECT_EQ(PickLanguage("de-DE"), Lang::kDe);
  EXPECT_EQ(PickLanguage("de-AT,de;q=0.9"), Lang::kDe);
  EXPECT_EQ(PickLanguage("DE-de"), Lang::kDe);  // tags are case-insensitive
  EXPECT_EQ(PickLanguage("en"), Lang::kEn);
  EXPECT_EQ(PickLanguage("en-US"), Lang::kEn);
  EXPECT_EQ(PickLanguage("fr"), Lang::kEn);  // neither: English
  EXPECT_EQ(PickLanguage("fr-FR,fr;q=0.9"), Lang::kEn);
  EXPECT_EQ(PickLanguage("*"), Lang::kEn);
  EXPECT_EQ(PickLanguage("garbage;;;,,,"), Lang::kEn);
}

TEST(PickLanguage, QualityOrdering) {
  EXPECT_EQ(PickLanguage("en;q=0.8, de;q=0.9"), Lang::kDe);
  EXPECT_EQ(PickLanguage("de;q=0.8, en;q=0.9"), Lang::kEn);
  EXPECT_EQ(PickLanguage("fr, de;q=0.5"), Lang::kDe);  // German is acceptable, English is not listed
  EXPECT_EQ(PickLanguage("fr, de;q=0.5, en;q=0.4"), Lang::kDe);
  EXPECT_EQ(PickLanguage("fr, en;q=0.5, de;q=0.4"), Lang::kEn);
  EXPECT_EQ(PickLanguage("de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7"), Lang::kDe);
  EXPECT_EQ(PickLanguage("en-GB,en;q=0.9,de;q=0.8"), Lang::kEn);
  EXPECT_EQ(PickLanguage("*;q=0.5, de;q=0.6"), Lang::kDe);
  EXPECT_EQ(PickLanguage("*;q=0.7, de;q=0.6"), Lang::kEn);
  EXPECT_EQ(PickLanguage("de;q=0"), Lang::kEn);  // q=0: not acceptable
  EXPECT_EQ(PickLanguage("de, en"), Lang::kEn);  // a tie goes to English
}

TEST(PickLanguage, WhitespaceAroundParameters) {
  // RFC 9110 §12.4.2: weight = OWS ";" OWS "q=" qvalue, so "de; q=0.9" is a valid header.
  EXPECT_EQ(PickLanguage("en; q=0.1, de; q=0.9"), Lang::kDe);
  EXPECT_EQ(PickLanguage("en ;q=0.1, de ;q=0.9"), Lang::kDe);
}

TEST(LangCode, Codes) {
  EXPECT_STREQ(LangCode(Lang::kEn), "en");
  EXPECT_STREQ(LangCode(Lang::kDe), "de");
}

constexpr TextEntry kSample[] = {
    {"hello", "Hello", "Hallo"},
    {"count", "{} of {} rooms", "{} von {} Räumen"},
};

TEST(TextTable, KeysInOrderAndBothLanguages) {
  TextTable table{kSample};
  EXPECT_EQ(table.Keys(), (std::vector<std::string>{"hello", "count"}));
  EXPECT_EQ(table.Get(Lang::kEn, "hello"), "Hello");
  EXPECT_EQ(table.Get(Lang::kDe, "hello"), "Hallo");
}

TEST(TextTable, FormatFillsPlaceholdersInOrder) {
  TextTable table{kSample};
  EXPECT_EQ(table.Format(Lang::kEn, "count", {"2", "5"}), "2 of 5 rooms");
  EXPECT_EQ(table.Format(Lang::kDe, "count", {"2", "5"}), "2 von 5 Räumen");
  EXPECT_EQ(table.Format(Lang::kEn, "count", {"2"}), "2 of {} rooms");  // a missing argument stays visible
}

TEST(TextTableDeathTest, UnknownKeyAborts) {
  TextTable table{kSample};
  EXPECT_DEATH(table.Get(Lang::kEn, "nope"), "");
}

TEST(TextTableDeathTest, DuplicateKeyAborts) {
  constexpr TextEntry twice[] = {{"a", "A", "A-de"}, {"a", "B", "B-de"}};
  EXPECT_DEATH(TextTable{twice}, "");
}

}  // namespace
}  // namespace palaver::sdk
