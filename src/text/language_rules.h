#pragma once
// What a language says for what is written with digits and symbols: the data
// the text normalizer reads. One table per language (language_rules.cpp);
// the normalizer's code holds no language's words.
//
// Templates use {name} for a spelled value and {name|one|other} for the word
// that agrees with a value ("{h} {h|hora|horas}").
#include <string_view>
#include <vector>

namespace supertonic {

// ICU rule set names (RuleBasedNumberFormat, URBNF_SPELLOUT).
struct NumberRuleSets {
  std::string_view cardinal;            // the plain number: "%spellout-cardinal-masculine"
  std::string_view cardinal_feminine;   // for feminine nouns; empty: as cardinal
  std::string_view year;                // "%spellout-numbering-year"
  std::string_view ordinal;             // "%spellout-ordinal-masculine"
  std::string_view ordinal_feminine;
};

// A word written after a number: a unit ("km"), a counter ("개"), "%", an
// ordinal suffix ("º", "th"), a month ("3월"). Matched only where the word
// ends (no letter or digit follows) unless `open_end`, and only directly
// after the digits when `attached`. The longest written form wins.
struct NumberSuffix {
  enum class Kind { kUnit, kOrdinal, kMonth, kPlural };  // kPlural: "1990s" (the number's words in the plural)
  std::string_view written;
  std::string_view singular;       // spoken after the number; empty for ordinals and months
  std::string_view plural;         // empty: as singular
  std::string_view rule_set = {};  // how the number is spelled before it; empty: the cardinal
  std::string_view before = {};    // spoken before the number ("섭씨" for °C in Korean)
  Kind kind = Kind::kUnit;         // kOrdinal: the number is an ordinal; kMonth: the month's name is said
  bool attached = false;           // only directly after the digits ("1st", not "1 st")
  bool open_end = false;           // letters may follow (Korean particles: "3개를" -> "세 개를")
};

struct Currency {
  std::vector<std::string_view> written;  // before or after the amount: "R$", "BRL"
  std::string_view singular, plural;      // "real", "reais"
  std::string_view minor_singular, minor_plural;  // "centavo", "centavos"; empty: no minor unit
  bool feminine = false;                  // "duas libras"
};

struct Abbreviation {
  std::string_view written;  // case-sensitive, matched as a whole word: "Sra."
  std::string_view spoken;
  bool before_number = false;  // only when a number follows ("No. 5")
};

struct TimeTemplates {
  std::string_view hour_minute = {};         // {h} {m}
  std::string_view hour_minute_below_ten = {};  // minutes 1-9 when the language says them apart ("{h} oh {m}")
  std::string_view on_the_hour = {};         // minutes 00
  std::string_view on_the_hour_with_period = {};  // minutes 00 with am/pm; empty: on_the_hour
  std::string_view with_seconds = {};        // {h} {m} {s}
  std::string_view with_period = {};         // {t} (the time) and {p} (am or pm)
  std::string_view am = {}, pm = {};
  bool hour_feminine = false;
  std::string_view hour_rule_set = {};  // empty: the cardinal (feminine when hour_feminine)
};

struct DateTemplates {
  enum class Order { kDayMonthYear, kMonthDayYear };
  Order numeric_order = Order::kDayMonthYear;  // how 03/04/2024 reads
  std::string_view full;                 // {d} or {d_ord}, {month}, {y}
  std::string_view day_one;              // day 1 when the language says it apart ("primeiro"); empty: spelled
  std::vector<std::string_view> months;  // 12 names
};

struct LanguageRules {
  std::string_view lang;           // "pt"
  // false for text of no known language (Supertonic 3's "na"): its numbers are
  // left to the model, as written; only markdown is removed.
  bool says_numbers = true;
  std::string_view icu_locale;     // "pt_BR"
  char decimal_separator = '.';
  char grouping_separator = ',';   // besides, a space or U+00A0/U+202F group thousands in every language
  NumberRuleSets numbers;
  std::string_view fraction_digit_separator = " ";  // between the digits after the decimal word
  long long suffix_rule_sets_below = 0;  // a suffix's own rule set only below this value (Korean native numbers: 100)
  bool fraction_as_number = false; // "3,14" as "três vírgula catorze" (two digits at most), not digit by digit
  double singular_below = 0;       // a unit is singular below this value (fr: 2); 0: only for exactly 1
  std::vector<std::pair<std::string_view, std::string_view>> before_noun;  // "uno" -> "un" before a noun (es)

  std::string_view minus, plus;    // "-5", "+55 ..."
  std::string_view range;          // "10-12": "{a} to {b}"; empty: said as written
  std::string_view at, dot;        // in e-mail addresses and web addresses
  std::string_view money_and;      // between the major and the minor unit ("and", "e", "con")
  std::string_view of_after_scale; // "de" after "milhões" before the currency (pt, es, fr)
  std::vector<std::string_view> scale_words;  // whole words taken with the number: "million", "milhões", "억"
  std::vector<std::pair<std::string_view, std::string_view>> scale_abbreviations;  // "M" -> "million"
  std::string_view phone_zero;     // 0 read in a phone number when not the cardinal ("공" in Korean)

  std::vector<NumberSuffix> suffixes;
  std::vector<Currency> currencies;
  std::vector<Abbreviation> abbreviations;
  std::vector<std::pair<std::string_view, std::string_view>> symbols;  // standalone: "&" "+" "=" ...
  TimeTemplates time;
  DateTemplates date;
  bool year_style_for_four_digits = false;  // en: "1999" as "nineteen ninety-nine"
  std::vector<std::pair<std::string_view, std::string_view>> plural_endings;  // kPlural: "y" -> "ies"; else "s"
};

// The table written for `lang` (en es fr ko pt, and "na": markdown only), or
// null: other languages get a table derived from ICU's locale data by the
// normalizer.
const LanguageRules* WrittenLanguageRules(std::string_view lang);

// Every abbreviation of every table that ends in a period (those said only
// before a number aside): the chunker does not end a sentence there.
const std::vector<std::string_view>& AbbreviationsEndingInPeriod();

}  // namespace supertonic
