#include "text/text_normalizer.h"

#include <re2/re2.h>
#include <unicode/dcfmtsym.h>
#include <unicode/dtfmtsym.h>
#include <unicode/fieldpos.h>
#include <unicode/locid.h>
#include <unicode/measfmt.h>
#include <unicode/measunit.h>
#include <unicode/measure.h>
#include <unicode/plurrule.h>
#include <unicode/ucurr.h>
#include <unicode/unum.h>
#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "text/language_rules.h"
#include "text/markdown_text.h"
#include "text/number_speller.h"
#include "text/utf8.h"

// The passes run in a fixed order, each over the whole text: markdown, e-mail
// and web addresses, abbreviations, times, dates, phone numbers, dotted
// numbers, then every remaining number with what is written around it
// (currency, sign, range, scale, unit, ordinal suffix), then symbols. A pass
// leaves no digit in what it says, so a later pass never reads it again.
namespace supertonic {

namespace {

using Kind = NumberSuffix::Kind;

// --- UTF-8 ---------------------------------------------------------------------

// The code point at s[i] and its length; an invalid byte reads as U+FFFD,
// length 1 (text/utf8.h); 0 past the end.
char32_t CodePointAt(std::string_view s, std::size_t i, std::size_t* length = nullptr) {
  if (i >= s.size()) {
    if (length) *length = 1;
    return 0;
  }
  const utf8::Decoded d = utf8::DecodeAt(s, i);
  if (length) *length = d.length;
  return d.cp;
}

// The code point that ends just before s[i]; 0 at the start.
char32_t CodePointBefore(std::string_view s, std::size_t i) { return i == 0 ? 0 : utf8::DecodeBefore(s, i).cp; }

bool IsLetter(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  if (c == U'\uFFFD') return false;
  const auto category = utf8proc_category(static_cast<utf8proc_int32_t>(c));
  return category >= UTF8PROC_CATEGORY_LU && category <= UTF8PROC_CATEGORY_ME;
}

bool IsDigit(char32_t c) { return c >= '0' && c <= '9'; }
bool IsDigitAt(std::string_view s, std::size_t i) { return i < s.size() && s[i] >= '0' && s[i] <= '9'; }
bool IsWordChar(char32_t c) { return IsLetter(c) || IsDigit(c); }

// Canonical composition, so that "é" written as e + U+0301 matches the tables.
std::string ComposeIfValid(std::string_view text) {
  utf8proc_uint8_t* composed = nullptr;
  const auto options = static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE);
  const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                          static_cast<utf8proc_ssize_t>(text.size()), &composed, options);
  if (n < 0) return std::string(text);  // invalid UTF-8: the preprocessor drops and counts it
  std::string out(reinterpret_cast<const char*>(composed), static_cast<std::size_t>(n));
  std::free(composed);
  return out;
}

// Spaces the model should hear between a spoken replacement and a word
// written against it ("mp3" -> "mp three", "3D" -> "three D"). Korean
// particles stay attached.
void AppendSpoken(std::string& out, std::string_view spoken, std::string_view text, std::size_t next) {
  if (spoken.empty()) return;
  if (!out.empty()) {
    const char32_t before = CodePointBefore(out, out.size());
    if (IsWordChar(before) && IsWordChar(CodePointAt(spoken, 0)) && (before < 0x80 || spoken.front() > 0)) {
      out.push_back(' ');
    }
  }
  out.append(spoken);
  if (next < text.size() && static_cast<unsigned char>(text[next]) < 0x80 && IsWordChar(CodePointAt(text, next))) {
    out.push_back(' ');
  }
}

// Every match of `pattern`, left to right; `speak` returns the words for a
// match, or nothing to leave it as written.
template <typename Speak>
std::string ReplaceMatches(std::string_view text, const RE2& pattern, Speak&& speak) {
  const int groups = pattern.NumberOfCapturingGroups() + 1;
  std::vector<re2::StringPiece> match(static_cast<std::size_t>(groups));
  std::string out;
  std::size_t pos = 0, copied = 0;
  const re2::StringPiece whole(text.data(), text.size());
  while (pos <= text.size() &&
         pattern.Match(whole, pos, text.size(), RE2::UNANCHORED, match.data(), groups)) {
    const std::size_t begin = static_cast<std::size_t>(match[0].data() - text.data());
    const std::size_t end = begin + match[0].size();
    std::optional<std::string> spoken;
    if (end > begin) spoken = speak(match, begin, end);
    if (!spoken) {
      std::size_t step = 1;
      CodePointAt(text, begin, &step);
      pos = begin + std::max<std::size_t>(1, step);
      continue;
    }
    out.append(text.substr(copied, begin - copied));
    AppendSpoken(out, *spoken, text, end);
    pos = copied = end;
  }
  out.append(text.substr(copied));
  return out;
}

std::string_view View(const re2::StringPiece& piece) { return {piece.data(), piece.size()}; }

int ToInt(std::string_view digits) {
  int value = 0;
  for (char c : digits.substr(0, 9)) value = value * 10 + (c - '0');
  return value;
}

// --- Templates: {name} and {name|singular|plural} -------------------------------

struct Slot {
  std::string_view name;
  std::string words;
  bool singular = false;
};

std::string Fill(std::string_view pattern, const std::vector<Slot>& slots) {
  std::string out;
  std::size_t i = 0;
  while (i < pattern.size()) {
    const std::size_t open = pattern.find('{', i);
    const std::size_t close = open == std::string_view::npos ? open : pattern.find('}', open);
    if (close == std::string_view::npos) {
      out.append(pattern.substr(i));
      break;
    }
    out.append(pattern.substr(i, open - i));
    const std::string_view field = pattern.substr(open + 1, close - open - 1);
    const std::size_t bar = field.find('|');
    const std::string_view name = field.substr(0, bar);
    auto slot = std::find_if(slots.begin(), slots.end(), [&](const Slot& s) { return s.name == name; });
    if (slot != slots.end()) {
      if (bar == std::string_view::npos) {
        out.append(slot->words);
      } else {
        const std::string_view forms = field.substr(bar + 1);
        const std::size_t second = forms.find('|');
        out.append(slot->singular || second == std::string_view::npos ? forms.substr(0, second)
                                                                       : forms.substr(second + 1));
      }
    }
    i = close + 1;
  }
  return out;
}

// --- A number as written --------------------------------------------------------

struct Amount {
  std::string integer;   // digits, groups joined
  std::string fraction;  // digits after the decimal separator
  bool grouped = false;
  std::size_t end = 0;
};

// Non-breaking, narrow and thin spaces group thousands in every language.
std::size_t GroupSpaceAt(std::string_view s, std::size_t i, bool plain_space) {
  if (i >= s.size()) return 0;
  if (plain_space && s[i] == ' ') return 1;
  if (s.substr(i, 2) == "\u00A0") return 2;
  if (s.substr(i, 3) == "\u202F" || s.substr(i, 3) == "\u2009") return 3;
  return 0;
}

bool ThreeDigitsAt(std::string_view s, std::size_t i) {
  return IsDigitAt(s, i) && IsDigitAt(s, i + 1) && IsDigitAt(s, i + 2) && !IsDigitAt(s, i + 3);
}

}  // namespace

// --- One language, compiled -----------------------------------------------------

class TextNormalizer::Language {
 public:
  explicit Language(const LanguageRules& rules) : rules_(rules), speller_(rules.icu_locale) { Index(); }
  explicit Language(std::string_view lang);

  std::string Normalize(std::string_view text) const;

 private:
  std::string_view Keep(std::string text) { return storage_.emplace_back(std::move(text)); }
  void Index();

  std::string SpeakEmails(std::string_view text) const;
  std::string SpeakWebAddresses(std::string_view text) const;
  std::string SpeakAbbreviations(std::string_view text) const;
  std::string SpeakTimes(std::string_view text) const;
  std::string SpeakDates(std::string_view text) const;
  std::string SpeakPhoneNumbers(std::string_view text) const;
  std::string SpeakDottedNumbers(std::string_view text) const;
  std::string SpeakAmounts(std::string_view text) const;
  std::string SpeakSymbols(std::string_view text) const;

  std::optional<std::string> AmountAt(std::string_view text, std::size_t start, std::size_t* end) const;
  Amount ParseAmount(std::string_view text, std::size_t i) const;
  std::string Number(const Amount& a, std::string_view rule_set) const;
  std::string Plain(const Amount& a) const;
  std::string Money(const Amount& a, const Currency& currency) const;
  // The noun that agrees with `a`: the table's singular or plural, or, for an
  // ICU-derived table, the form of the number's plural category (Russian
  // "пять долларов", "два доллара").
  std::string_view Noun(const void* entry, std::string_view singular, std::string_view plural, const Amount& a) const;
  std::string BeforeNoun(std::string words) const;
  std::string Plural(std::string words) const;
  bool Singular(const Amount& a) const;
  bool Singular(int value) const;
  std::string Address(std::string_view address) const;
  std::string Time(int h, int m, int s, bool has_seconds, std::string_view period) const;
  std::string Date(int y, int m, int d) const;
  std::string_view Feminine() const {
    return rules_.numbers.cardinal_feminine.empty() ? rules_.numbers.cardinal : rules_.numbers.cardinal_feminine;
  }

  LanguageRules rules_;
  std::deque<std::string> storage_;  // the words the views of an ICU-derived table point at
  NumberSpeller speller_;
  std::vector<const NumberSuffix*> suffixes_;                            // longest written form first
  std::vector<std::pair<std::string_view, const Currency*>> currencies_;  // likewise
  std::vector<const Abbreviation*> abbreviations_;                       // likewise
  std::vector<std::string_view> scale_words_;                            // likewise
  // ICU-derived tables only: plural categories, and each unit's and
  // currency's noun per category.
  std::unique_ptr<icu::PluralRules> plurals_;
  std::map<const void*, std::map<std::string, std::string_view>> forms_;
  mutable std::mutex plurals_mutex_;
};

std::string_view TextNormalizer::Language::Noun(const void* entry, std::string_view singular,
                                                std::string_view plural, const Amount& a) const {
  if (plurals_ != nullptr && a.integer.size() + a.fraction.size() <= 15) {
    auto forms = forms_.find(entry);
    if (forms != forms_.end()) {
      const double value = std::stod((a.integer.empty() ? "0" : a.integer) + "." + (a.fraction.empty() ? "0" : a.fraction));
      std::string category;
      {
        std::lock_guard lock(plurals_mutex_);
        (a.fraction.empty() ? plurals_->select(static_cast<int32_t>(std::min(value, 2e9)))
                            : plurals_->select(value)).toUTF8String(category);
      }
      auto form = forms->second.find(category);
      if (form != forms->second.end()) return form->second;
    }
  }
  return Singular(a) || plural.empty() ? singular : plural;
}

void TextNormalizer::Language::Index() {
  auto longer = [](std::string_view a, std::string_view b) { return a.size() > b.size(); };
  for (const NumberSuffix& s : rules_.suffixes) suffixes_.push_back(&s);
  std::stable_sort(suffixes_.begin(), suffixes_.end(),
                   [&](const NumberSuffix* a, const NumberSuffix* b) { return longer(a->written, b->written); });
  for (const Currency& c : rules_.currencies) {
    for (std::string_view form : c.written) currencies_.emplace_back(form, &c);
  }
  std::stable_sort(currencies_.begin(), currencies_.end(),
                   [&](const auto& a, const auto& b) { return longer(a.first, b.first); });
  for (const Abbreviation& a : rules_.abbreviations) abbreviations_.push_back(&a);
  std::stable_sort(abbreviations_.begin(), abbreviations_.end(),
                   [&](const Abbreviation* a, const Abbreviation* b) { return longer(a->written, b->written); });
  scale_words_ = rules_.scale_words;
  std::stable_sort(scale_words_.begin(), scale_words_.end(), longer);
}

namespace {

std::string Utf8(const icu::UnicodeString& s) {
  std::string out;
  s.toUTF8String(out);
  return out;
}

std::string Trimmed(std::string s) {
  const auto not_space = [](unsigned char c) { return c != ' '; };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  // ICU puts U+00A0 between a number and its unit in some locales.
  for (std::string_view nbsp : {"\u00A0", "\u202F"}) {
    while (s.starts_with(nbsp)) s.erase(0, nbsp.size());
    while (s.ends_with(nbsp)) s.erase(s.size() - nbsp.size());
  }
  return s;
}

}  // namespace

// A table from ICU's locale data: separators, spellout rule sets, the minus
// word, unit and currency names, month names. No times, addresses or
// abbreviations: those stay as written.
TextNormalizer::Language::Language(std::string_view lang) : speller_(lang) {
  rules_.lang = Keep(std::string(lang));
  rules_.icu_locale = rules_.lang;
  const icu::Locale locale(std::string(lang).c_str());
  UErrorCode status = U_ZERO_ERROR;
  icu::DecimalFormatSymbols symbols(locale, status);
  if (U_SUCCESS(status)) {
    const std::string decimal = Utf8(symbols.getSymbol(icu::DecimalFormatSymbols::kDecimalSeparatorSymbol));
    const std::string grouping = Utf8(symbols.getSymbol(icu::DecimalFormatSymbols::kGroupingSeparatorSymbol));
    if (decimal == "," || decimal == ".") rules_.decimal_separator = decimal[0];
    if (grouping == "," || grouping == ".") rules_.grouping_separator = grouping[0];
    else rules_.grouping_separator = rules_.decimal_separator == ',' ? '.' : ',';
  }
  auto first_known = [&](std::initializer_list<std::string_view> names) -> std::string_view {
    for (std::string_view name : names) {
      if (speller_.HasRuleSet(name)) return name;
    }
    return {};
  };
  rules_.numbers.cardinal = first_known({"%spellout-cardinal", "%spellout-cardinal-masculine", "%spellout-numbering"});
  rules_.numbers.cardinal_feminine = first_known({"%spellout-cardinal-feminine"});
  rules_.numbers.year = first_known({"%spellout-numbering-year"});
  rules_.numbers.ordinal = first_known({"%spellout-ordinal", "%spellout-ordinal-masculine"});
  rules_.numbers.ordinal_feminine = first_known({"%spellout-ordinal-feminine"});
  rules_.minus = Keep(speller_.minus_word());

  // Units by ICU's wide unit names: "1 Kilometer" / "2 Kilometer".
  struct IcuUnit {
    std::string_view written;
    icu::MeasureUnit unit;
  };
  const std::vector<IcuUnit> units = {
      {"km", icu::MeasureUnit::getKilometer()},   {"m", icu::MeasureUnit::getMeter()},
      {"cm", icu::MeasureUnit::getCentimeter()},  {"mm", icu::MeasureUnit::getMillimeter()},
      {"kg", icu::MeasureUnit::getKilogram()},    {"g", icu::MeasureUnit::getGram()},
      {"l", icu::MeasureUnit::getLiter()},        {"ml", icu::MeasureUnit::getMilliliter()},
      {"%", icu::MeasureUnit::getPercent()},      {"°C", icu::MeasureUnit::getCelsius()},
      {"°F", icu::MeasureUnit::getFahrenheit()},  {"km/h", icu::MeasureUnit::getKilometerPerHour()},
      {"min", icu::MeasureUnit::getMinute()},     {"ms", icu::MeasureUnit::getMillisecond()},
      {"GB", icu::MeasureUnit::getGigabyte()},    {"MB", icu::MeasureUnit::getMegabyte()},
      {"kWh", icu::MeasureUnit::getKilowattHour()}};
  UErrorCode format_status = U_ZERO_ERROR;
  icu::MeasureFormat format(locale, UMEASFMT_WIDTH_WIDE, format_status);
  // The words before and after the number ("摂氏{0}度": both).
  auto words_around = [&](const icu::MeasureUnit& unit, double value) -> std::pair<std::string, std::string> {
    UErrorCode s = U_ZERO_ERROR;
    icu::Measure measure(icu::Formattable(value), unit.clone(), s);
    icu::UnicodeString text;
    icu::FieldPosition position(UNUM_INTEGER_FIELD);
    format.formatMeasures(&measure, 1, text, position, s);
    if (U_FAILURE(s) || position.getEndIndex() <= position.getBeginIndex()) return {};
    icu::UnicodeString before, after;
    text.extract(0, position.getBeginIndex(), before);
    text.extract(position.getEndIndex(), text.length() - position.getEndIndex(), after);
    return {Trimmed(Utf8(before)), Trimmed(Utf8(after))};
  };
  // A sample number of each plural category ("one": 1, "few": 2, "many": 5...).
  std::vector<std::pair<std::string, double>> categories;
  status = U_ZERO_ERROR;
  plurals_.reset(icu::PluralRules::forLocale(locale, status));
  if (U_FAILURE(status)) plurals_.reset();
  if (plurals_) {
    std::unique_ptr<icu::StringEnumeration> keywords(plurals_->getKeywords(status));
    for (const icu::UnicodeString* k = keywords ? keywords->snext(status) : nullptr; k != nullptr && U_SUCCESS(status);
         k = keywords->snext(status)) {
      double samples[8];
      UErrorCode s = U_ZERO_ERROR;
      const int32_t n = plurals_->getSamples(*k, samples, 8, s);
      for (int32_t i = 0; i < n && U_SUCCESS(s); ++i) {
        if (samples[i] == static_cast<double>(static_cast<int64_t>(samples[i]))) {
          categories.emplace_back(Utf8(*k), samples[i]);
          break;
        }
      }
    }
  }
  std::vector<std::map<std::string, std::string_view>> unit_forms, currency_forms;
  if (U_SUCCESS(format_status)) {
    for (const IcuUnit& u : units) {
      const auto [before_one, one] = words_around(u.unit, 1);
      const auto [before, two] = words_around(u.unit, 2);
      if (one.empty() && two.empty() && before.empty()) continue;
      rules_.suffixes.push_back({u.written, Keep(one), Keep(two), "", Keep(before)});
      auto& forms = unit_forms.emplace_back();
      for (const auto& [category, sample] : categories) forms[category] = Keep(words_around(u.unit, sample).second);
    }
  }

  // Currencies by ICU's plural names ("US dollars", "Euro").
  struct IcuCurrency {
    const char16_t* code;
    std::vector<std::string_view> written;
  };
  for (const IcuCurrency& c : std::vector<IcuCurrency>{{u"USD", {"US$", "$", "USD"}},
                                                      {u"EUR", {"€", "EUR"}},
                                                      {u"GBP", {"£", "GBP"}},
                                                      {u"JPY", {"¥", "JPY"}},
                                                      {u"KRW", {"₩", "KRW"}},
                                                      {u"BRL", {"R$", "BRL"}}}) {
    auto plural_name = [&](const char* count) {
      UErrorCode s = U_ZERO_ERROR;
      UBool is_choice = false;
      int32_t length = 0;
      const UChar* name = ucurr_getPluralName(c.code, rules_.lang.data(), &is_choice, count, &length, &s);
      return U_SUCCESS(s) && name ? Utf8(icu::UnicodeString(name, length)) : std::string();
    };
    const std::string one = plural_name("one"), other = plural_name("other");
    if (one.empty() || other.empty()) continue;
    rules_.currencies.push_back({c.written, Keep(one), Keep(other), "", ""});
    auto& forms = currency_forms.emplace_back();
    for (const auto& category : categories) {
      const std::string name = plural_name(category.first.c_str());
      if (!name.empty()) forms[category.first] = Keep(name);
    }
  }
  // Keyed by entry once the tables stop growing.
  for (std::size_t i = 0; i < unit_forms.size(); ++i) forms_[&rules_.suffixes[i]] = unit_forms[i];
  for (std::size_t i = 0; i < currency_forms.size(); ++i) forms_[&rules_.currencies[i]] = currency_forms[i];

  // Month names.
  status = U_ZERO_ERROR;
  icu::DateFormatSymbols dates(locale, status);
  if (U_SUCCESS(status)) {
    int32_t count = 0;
    const icu::UnicodeString* months =
        dates.getMonths(count, icu::DateFormatSymbols::FORMAT, icu::DateFormatSymbols::WIDE);
    for (int32_t i = 0; i < count && i < 12; ++i) rules_.date.months.push_back(Keep(Utf8(months[i])));
  }
  if (rules_.date.months.size() == 12) rules_.date.full = "{d} {month} {y}";
  rules_.fraction_as_number = true;  // "3,50 €": "drei Komma fünfzig Euro"
  rules_.time = {.hour_minute = "{h} {m}", .on_the_hour = "{h}", .with_seconds = "{h} {m} {s}",
                 .with_period = "{t}"};
  Index();
}

// --- Spelling -------------------------------------------------------------------

bool TextNormalizer::Language::Singular(int value) const {
  if (rules_.singular_below > 0) return value >= 0 && value < rules_.singular_below;
  return value == 1;
}

bool TextNormalizer::Language::Singular(const Amount& a) const {
  const std::string_view integer = std::string_view(a.integer).substr(std::min(a.integer.size(), a.integer.find_first_not_of('0')));
  const bool whole = a.fraction.find_first_not_of('0') == std::string::npos;
  if (rules_.singular_below > 0) {  // below 2, fractions included
    return integer.size() <= 1 && (integer.empty() ? 0 : integer[0] - '0') < rules_.singular_below;
  }
  return integer == "1" && whole;
}

std::string TextNormalizer::Language::Number(const Amount& a, std::string_view rule_set) const {
  if (rule_set.empty()) rule_set = rules_.numbers.cardinal;
  if (a.fraction.empty() && !a.grouped && a.integer.size() > 1 && a.integer.front() == '0') {
    return speller_.Digits(a.integer);  // "007"
  }
  if (a.fraction.empty()) return speller_.Integer(a.integer, rule_set);
  return speller_.Decimal(a.integer, a.fraction, rule_set, rules_.fraction_as_number,
                          rules_.fraction_digit_separator);
}

// A number on its own: a year where the language reads four digits so.
std::string TextNormalizer::Language::Plain(const Amount& a) const {
  if (rules_.year_style_for_four_digits && !a.grouped && a.fraction.empty() && a.integer.size() == 4 &&
      a.integer.front() != '0') {
    const int value = ToInt(a.integer);
    if (value >= 1100 && value <= 2099) return speller_.Integer(a.integer, rules_.numbers.year);
  }
  return Number(a, {});
}

std::string TextNormalizer::Language::BeforeNoun(std::string words) const {
  for (const auto& [from, to] : rules_.before_noun) {
    if (words.ends_with(from) &&
        (words.size() == from.size() || words[words.size() - from.size() - 1] == ' ' || from.size() > 3)) {
      words.replace(words.size() - from.size(), from.size(), to);
      break;
    }
  }
  return words;
}

std::string TextNormalizer::Language::Plural(std::string words) const {
  for (const auto& [from, to] : rules_.plural_endings) {
    if (words.ends_with(from)) {
      words.replace(words.size() - from.size(), from.size(), to);
      return words;
    }
  }
  return words + "s";
}

std::string TextNormalizer::Language::Money(const Amount& a, const Currency& currency) const {
  const std::string_view rule_set = currency.feminine ? Feminine() : rules_.numbers.cardinal;
  const bool has_minor = !currency.minor_singular.empty();
  if (a.fraction.size() > 2 || (!a.fraction.empty() && !has_minor)) {
    return BeforeNoun(Number(a, rule_set)) + " " + std::string(Noun(&currency, currency.singular, currency.plural, a));
  }
  const std::string major_digits = a.integer.empty() ? "0" : a.integer;
  std::string minor_digits = a.fraction;
  if (minor_digits.size() == 1) minor_digits.push_back('0');
  const int minor = minor_digits.empty() ? 0 : ToInt(minor_digits);
  const bool major_zero = major_digits.find_first_not_of('0') == std::string::npos;
  const Amount major{major_digits, "", a.grouped, 0};
  std::string out;
  if (!major_zero || minor == 0) {
    out = BeforeNoun(speller_.Integer(major_digits, rule_set)) + " " +
          std::string(Noun(&currency, currency.singular, currency.plural, major));
  }
  if (minor > 0) {
    if (!out.empty()) out += rules_.money_and.empty() ? " " : " " + std::string(rules_.money_and) + " ";
    out += BeforeNoun(speller_.Integer(minor_digits)) + " " +
           std::string(Singular(minor) ? currency.minor_singular : currency.minor_plural);
  }
  return out;
}

std::string TextNormalizer::Language::Time(int h, int m, int s, bool has_seconds, std::string_view period) const {
  const TimeTemplates& t = rules_.time;
  const std::string_view hour_rules = !t.hour_rule_set.empty() ? t.hour_rule_set
                                      : t.hour_feminine         ? Feminine()
                                                                : rules_.numbers.cardinal;
  const std::vector<Slot> slots{{"h", speller_.Integer(std::to_string(h), hour_rules), Singular(h)},
                                {"m", speller_.Integer(std::to_string(m)), Singular(m)},
                                {"s", speller_.Integer(std::to_string(s)), Singular(s)}};
  std::string_view pattern = t.hour_minute;
  if (has_seconds && !t.with_seconds.empty()) pattern = t.with_seconds;
  else if (m == 0 && !period.empty() && !t.on_the_hour_with_period.empty()) pattern = t.on_the_hour_with_period;
  else if (m == 0 && !t.on_the_hour.empty()) pattern = t.on_the_hour;
  else if (m < 10 && !t.hour_minute_below_ten.empty()) pattern = t.hour_minute_below_ten;
  std::string time = Fill(pattern, slots);
  if (period.empty() || t.with_period.empty()) return time;
  return Fill(t.with_period, {{"t", time}, {"p", std::string(period)}});
}

std::string TextNormalizer::Language::Date(int y, int m, int d) const {
  const DateTemplates& t = rules_.date;
  const std::string day = d == 1 && !t.day_one.empty() ? std::string(t.day_one) : speller_.Integer(std::to_string(d));
  return Fill(t.full, {{"d", day},
                       {"d_ord", speller_.Integer(std::to_string(d), rules_.numbers.ordinal)},
                       {"month", std::string(t.months[static_cast<std::size_t>(m - 1)])},
                       {"y", speller_.Integer(std::to_string(y), rules_.numbers.year)}});
}

// --- Passes ---------------------------------------------------------------------

std::string TextNormalizer::Language::Address(std::string_view address) const {
  std::string out;
  for (char c : address) {
    if (c == '.') {
      out += " " + std::string(rules_.dot) + " ";
    } else if (c == '-' || c == '_' || c == '+' || c == '%') {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string TextNormalizer::Language::SpeakEmails(std::string_view text) const {
  static const RE2 email(R"(([A-Za-z0-9][A-Za-z0-9._%+-]*)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+))");
  if (rules_.at.empty() || text.find('@') == std::string_view::npos) return std::string(text);
  return ReplaceMatches(text, email, [&](const auto& m, std::size_t, std::size_t) -> std::optional<std::string> {
    return Address(View(m[1])) + " " + std::string(rules_.at) + " " + Address(View(m[2]));
  });
}

// The host alone ("example dot com"): a path read aloud helps no listener.
std::string TextNormalizer::Language::SpeakWebAddresses(std::string_view text) const {
  static const RE2 with_scheme(
      R"((?:https?://(?:www\.)?|www\.)((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,24})(?::\d+)?(?:[/?#][^\s]*[^\s.,;:!?)\]'"])?/?)");
  static const RE2 bare(
      R"(\b((?:[A-Za-z0-9-]+\.)+(?:com|org|net|io|ai|dev|app|edu|gov|co|uk|br|pt|es|fr|kr|de|jp|info|me|tv|us|ca|mx|ar|cl))\b(?:/[^\s]*[^\s.,;:!?)\]'"])?)");
  if (rules_.dot.empty() || text.find('.') == std::string_view::npos) return std::string(text);
  auto speak = [&](const auto& m, std::size_t begin, std::size_t) -> std::optional<std::string> {
    if (begin > 0 && (text[begin - 1] == '@' || IsWordChar(CodePointBefore(text, begin)))) return std::nullopt;
    return Address(View(m[1]));
  };
  const std::string once = ReplaceMatches(text, with_scheme, speak);
  return ReplaceMatches(once, bare, [&](const auto& m, std::size_t begin, std::size_t) -> std::optional<std::string> {
    if (begin > 0 && (once[begin - 1] == '@' || once[begin - 1] == '.')) return std::nullopt;
    return Address(View(m[1]));
  });
}

std::string TextNormalizer::Language::SpeakAbbreviations(std::string_view text) const {
  if (abbreviations_.empty()) return std::string(text);
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    const Abbreviation* found = nullptr;
    if (!IsWordChar(CodePointBefore(text, i))) {
      for (const Abbreviation* a : abbreviations_) {
        if (text.compare(i, a->written.size(), a->written) != 0) continue;
        const std::size_t end = i + a->written.size();
        std::size_t next = end;
        if (next < text.size() && text[next] == ' ') ++next;
        if (a->before_number && !IsDigitAt(text, next)) continue;
        const bool ends_word = a->written.back() == '.' || !IsWordChar(CodePointAt(text, end)) ||
                               (a->before_number && IsDigitAt(text, end));
        if (!ends_word) continue;
        found = a;
        break;
      }
    }
    if (!found) {
      out.push_back(text[i++]);
      continue;
    }
    const std::size_t end = i + found->written.size();
    out.append(found->spoken);
    if (end < text.size() && (IsWordChar(CodePointAt(text, end)) || (found->before_number && text[end] != ' '))) {
      out.push_back(' ');
    }
    // A period that also ended the text (or its line) is kept.
    if (found->written.back() == '.' && (end == text.size() || text[end] == '\n')) out.push_back('.');
    i = end;
  }
  return out;
}

std::string TextNormalizer::Language::SpeakTimes(std::string_view text) const {
  static const RE2 clock(R"((\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s?([AaPp])\.?\s?[Mm]\b\.?)?)");
  static const RE2 hour_period(R"((\d{1,2})\s?([AaPp])\.?[Mm]\b\.?)");
  static const RE2 hour_h(R"((\d{1,2})h(\d{2})\b)");
  auto fits = [&](std::string_view t, std::size_t begin, std::size_t end) {
    const char32_t before = CodePointBefore(t, begin);
    return !IsWordChar(before) && before != ':' && before != '.' && before != ',' &&
           !(end < t.size() && (IsDigitAt(t, end) || t[end] == ':'));
  };
  auto period_of = [&](const re2::StringPiece& p) -> std::string_view {
    if (p.empty()) return {};
    return p[0] == 'a' || p[0] == 'A' ? rules_.time.am : rules_.time.pm;
  };
  std::string out = ReplaceMatches(text, clock, [&](const auto& m, std::size_t b, std::size_t e) -> std::optional<std::string> {
    if (!fits(text, b, e)) return std::nullopt;
    const int h = ToInt(View(m[1])), min = ToInt(View(m[2])), s = m[3].empty() ? 0 : ToInt(View(m[3]));
    const bool has_period = !m[4].empty();
    if (h > (has_period ? 12 : 24) || min > 59 || s > 59) return std::nullopt;
    return Time(h, min, s, !m[3].empty(), period_of(m[4]));
  });
  const std::string once = out;
  out = ReplaceMatches(once, hour_period, [&](const auto& m, std::size_t b, std::size_t e) -> std::optional<std::string> {
    const int h = ToInt(View(m[1]));
    if (!fits(once, b, e) || h < 1 || h > 12) return std::nullopt;
    return Time(h, 0, 0, false, period_of(m[2]));
  });
  const std::string twice = out;
  return ReplaceMatches(twice, hour_h, [&](const auto& m, std::size_t b, std::size_t e) -> std::optional<std::string> {
    const int h = ToInt(View(m[1])), min = ToInt(View(m[2]));
    if (!fits(twice, b, e) || h > 24 || min > 59) return std::nullopt;
    return Time(h, min, 0, false, {});
  });
}

std::string TextNormalizer::Language::SpeakDates(std::string_view text) const {
  static const RE2 iso(R"((\d{4})-(\d{1,2})-(\d{1,2}))");
  static const RE2 year_first(R"((\d{4})/(\d{1,2})/(\d{1,2}))");
  static const RE2 year_last(R"((\d{1,2})[/.-](\d{1,2})[/.-](\d{4}))");
  if (rules_.date.months.size() != 12 || rules_.date.full.empty()) return std::string(text);
  auto speak = [&](std::string_view t, std::size_t b, std::size_t e, int y, int m, int d) -> std::optional<std::string> {
    const char32_t before = CodePointBefore(t, b);
    if (IsWordChar(before) || before == '.' || before == '/' || before == '-') return std::nullopt;
    if (e < t.size() && (IsDigitAt(t, e) || ((t[e] == '/' || t[e] == '-') && IsDigitAt(t, e + 1)))) return std::nullopt;
    if (m < 1 || m > 12 || d < 1 || d > 31) return std::nullopt;
    return Date(y, m, d);
  };
  std::string out = ReplaceMatches(text, iso, [&](const auto& m, std::size_t b, std::size_t e) {
    return speak(text, b, e, ToInt(View(m[1])), ToInt(View(m[2])), ToInt(View(m[3])));
  });
  std::string next = ReplaceMatches(out, year_first, [&](const auto& m, std::size_t b, std::size_t e) {
    return speak(out, b, e, ToInt(View(m[1])), ToInt(View(m[2])), ToInt(View(m[3])));
  });
  const bool month_first = rules_.date.numeric_order == DateTemplates::Order::kMonthDayYear;
  return ReplaceMatches(next, year_last, [&](const auto& m, std::size_t b, std::size_t e) {
    const int first = ToInt(View(m[1])), second = ToInt(View(m[2]));
    // "15/03/2024" in English text: no month 15, so the day comes first.
    const bool month_then_day = month_first && first <= 12;
    return speak(next, b, e, ToInt(View(m[3])), month_then_day ? first : second, month_then_day ? second : first);
  });
}

// Digit groups with a '+' prefix, an area code in parentheses, dashes or dots
// ("555-123-4567", "(11) 98765-4321", "+55 11 98765 4321"), or five pairs:
// said digit by digit, group by group.
std::string TextNormalizer::Language::SpeakPhoneNumbers(std::string_view text) const {
  static const RE2 phone(R"((\+\d{1,3}[ .-]?)?(\(\d{1,4}\)[ .-]?)?\d{2,5}(?:[ .-]\d{2,5}){1,4})");
  return ReplaceMatches(text, phone, [&](const auto& m, std::size_t b, std::size_t e) -> std::optional<std::string> {
    const char32_t before = CodePointBefore(text, b);
    if (IsWordChar(before) || before == '.' || before == ',' || before == '-' || before == '+' || before == '$') {
      return std::nullopt;
    }
    if (e < text.size() && (IsDigitAt(text, e) || ((text[e] == '.' || text[e] == ',') && IsDigitAt(text, e + 1)))) {
      return std::nullopt;
    }
    const std::string_view whole = View(m[0]);
    std::vector<std::string_view> groups;
    std::string separators;
    std::size_t digits = 0;
    for (std::size_t i = 0; i < whole.size();) {
      if (!IsDigitAt(whole, i)) {
        if (whole[i] != '(' && whole[i] != ')' && whole[i] != '+') separators.push_back(whole[i]);
        ++i;
        continue;
      }
      std::size_t j = i;
      while (IsDigitAt(whole, j)) ++j;
      groups.push_back(whole.substr(i, j - i));
      digits += j - i;
      i = j;
    }
    if (digits < 7 || digits > 15 || groups.size() < 2) return std::nullopt;
    const bool international = !m[1].empty(), area_code = !m[2].empty();
    bool thousands = groups.front().size() <= 3;  // "12.500.000" is a number
    for (std::size_t g = 1; g < groups.size(); ++g) thousands = thousands && groups[g].size() == 3;
    const bool pairs = groups.size() == 5 && std::all_of(groups.begin(), groups.end(), [](auto g) { return g.size() == 2; });
    const bool dashes = separators.find(' ') == std::string::npos;
    const bool phone_like = international || area_code || pairs ||
                            (dashes && !thousands &&
                             (groups.size() >= 3 || (groups.front().size() >= 3 && groups.back().size() == 4)));
    if (!phone_like) return std::nullopt;
    std::string out = international ? std::string(rules_.plus) + " " : std::string();
    for (std::size_t g = 0; g < groups.size(); ++g) {
      if (g > 0) out += ", ";
      out += speller_.Digits(groups[g], rules_.phone_zero);
    }
    return out;
  });
}

// Versions and addresses: "2.1.3", "192.168.0.1".
std::string TextNormalizer::Language::SpeakDottedNumbers(std::string_view text) const {
  static const RE2 dotted(R"(\d+(?:\.\d+){2,})");
  if (rules_.dot.empty()) return std::string(text);
  return ReplaceMatches(text, dotted, [&](const auto& m, std::size_t b, std::size_t e) -> std::optional<std::string> {
    const char32_t before = CodePointBefore(text, b);
    if (IsWordChar(before) || before == '.' || before == ',' || (e < text.size() && IsDigitAt(text, e))) {
      return std::nullopt;
    }
    std::vector<std::string_view> groups;
    const std::string_view whole = View(m[0]);
    for (std::size_t i = 0; i <= whole.size();) {
      const std::size_t dot = std::min(whole.find('.', i), whole.size());
      groups.push_back(whole.substr(i, dot - i));
      i = dot + 1;
    }
    bool thousands = rules_.grouping_separator == '.' && groups.front().size() <= 3;
    for (std::size_t g = 1; g < groups.size(); ++g) thousands = thousands && groups[g].size() == 3;
    if (thousands) return std::nullopt;  // "1.250.000" in a language that groups with dots
    std::string out;
    for (std::string_view g : groups) {
      if (!out.empty()) out += " " + std::string(rules_.dot) + " ";
      out += speller_.Integer(g);
    }
    return out;
  });
}

Amount TextNormalizer::Language::ParseAmount(std::string_view t, std::size_t i) const {
  Amount a;
  std::size_t p = i;
  while (IsDigitAt(t, p)) a.integer.push_back(t[p++]);
  const char grouping = rules_.grouping_separator, decimal = rules_.decimal_separator;
  const bool space_groups = grouping == ' ' || rules_.lang == "fr";
  if (a.integer.size() <= 3) {
    for (;;) {
      std::size_t sep = t.size() > p && t[p] == grouping && grouping != ' ' ? 1 : GroupSpaceAt(t, p, space_groups);
      if (sep == 0 || !ThreeDigitsAt(t, p + sep)) break;
      // "1.250" groups; "1.250,5" too; "1.2505" does not (ThreeDigitsAt).
      a.integer.append(t.substr(p + sep, 3));
      a.grouped = true;
      p += sep + 3;
    }
  }
  if (p + 1 < t.size() && IsDigitAt(t, p + 1)) {
    const char sep = t[p];
    const char other = decimal == '.' ? ',' : '.';
    std::size_t q = p + 1;
    while (IsDigitAt(t, q)) ++q;
    // The language's decimal separator, or the other one where it cannot be
    // grouping ("3.5" in Portuguese, "2,5" in English).
    if (sep == decimal || (sep == other && !a.grouped && q - p - 1 != 3)) {
      a.fraction = std::string(t.substr(p + 1, q - p - 1));
      p = q;
    }
  }
  a.end = p;
  return a;
}

namespace {

std::size_t SkipOneSpace(std::string_view t, std::size_t p) {
  if (p < t.size() && t[p] == ' ') return p + 1;
  if (t.substr(p, 2) == "\u00A0") return p + 2;
  if (t.substr(p, 3) == "\u202F") return p + 3;
  return p;
}

// Whether a written form that ends at `end` ends a word there.
bool EndsWordAt(std::string_view t, std::size_t end, std::string_view form) {
  if (form.empty()) return false;
  const char32_t last = CodePointBefore(form, form.size());
  if (!IsWordChar(last)) return true;
  return !IsWordChar(CodePointAt(t, end));
}

std::size_t RangeSeparatorAt(std::string_view t, std::size_t p) {
  if (p < t.size() && (t[p] == '-' || t[p] == '~')) return 1;
  if (t.substr(p, 3) == "\u2013" || t.substr(p, 3) == "\uFF5E") return 3;  // – ～
  return 0;
}

}  // namespace

// A number with what is written around it, starting at `start` (a digit, a
// sign or a currency), or nothing.
std::optional<std::string> TextNormalizer::Language::AmountAt(std::string_view t, std::size_t start,
                                                              std::size_t* end) const {
  std::size_t p = start;
  const char32_t before = CodePointBefore(t, start);
  const Currency* currency = nullptr;
  if (!IsWordChar(before)) {
    for (const auto& [form, c] : currencies_) {
      if (t.compare(p, form.size(), form) != 0) continue;
      const std::size_t q = SkipOneSpace(t, p + form.size());
      const bool sign = q < t.size() && t[q] == '-' && IsDigitAt(t, q + 1);
      if (!IsDigitAt(t, q) && !sign) continue;
      currency = c;
      p = q;
      break;
    }
  }
  std::string sign;
  const bool sign_allowed = currency != nullptr || before == 0 || before == ' ' || before == '(' ||
                            before == '\n' || before == '[' || before == '\t';
  if (sign_allowed && p < t.size()) {
    std::size_t length = 0;
    if (t[p] == '-' && IsDigitAt(t, p + 1)) length = 1;
    if (t.substr(p, 3) == "\u2212" && IsDigitAt(t, p + 3)) length = 3;  // − minus sign
    if (length > 0 && !rules_.minus.empty()) {
      sign = std::string(rules_.minus) + " ";
      p += length;
    } else if (t[p] == '+' && IsDigitAt(t, p + 1) && !rules_.plus.empty()) {
      sign = std::string(rules_.plus) + " ";
      p += 1;
    }
  }
  if (!IsDigitAt(t, p)) return std::nullopt;
  const Amount first = ParseAmount(t, p);
  p = first.end;
  if (sign.empty() && currency == nullptr && IsLetter(before)) {  // "A320", "COVID19"
    *end = p;
    return Number(first, {});
  }

  std::optional<Amount> second;
  {
    std::size_t q = SkipOneSpace(t, p);
    const std::size_t dash = rules_.range.empty() ? 0 : RangeSeparatorAt(t, q);
    if (dash > 0) {
      q = SkipOneSpace(t, q + dash);
      if (IsDigitAt(t, q)) {
        Amount b = ParseAmount(t, q);
        const bool chain = RangeSeparatorAt(t, b.end) > 0 && IsDigitAt(t, b.end + 1);
        if (!chain) {
          second = b;
          p = b.end;
        }
      }
    }
  }
  const Amount& last = second ? *second : first;

  std::string scale;
  if (currency != nullptr) {
    const std::size_t q = SkipOneSpace(t, p);
    for (std::string_view word : scale_words_) {
      if (t.compare(q, word.size(), word) == 0 && EndsWordAt(t, q + word.size(), word)) {
        scale = word;
        p = q + word.size();
        break;
      }
    }
    if (scale.empty()) {
      for (const auto& [written, spoken] : rules_.scale_abbreviations) {
        if (t.compare(p, written.size(), written) == 0 && EndsWordAt(t, p + written.size(), written)) {
          scale = spoken;
          p += written.size();
          break;
        }
      }
    }
  }
  if (currency == nullptr) {
    std::size_t q = SkipOneSpace(t, p);
    for (const auto& [form, c] : currencies_) {
      if (t.compare(q, form.size(), form) != 0) continue;
      const bool ascii_word = static_cast<unsigned char>(form.back()) < 0x80 && IsWordChar(form.back());
      if (ascii_word && !EndsWordAt(t, q + form.size(), form)) continue;
      currency = c;
      p = q + form.size();
      break;
    }
  }

  auto range_of = [&](std::string_view rule_set, bool noun) {
    // Korean native numbers stop at 99: larger counts are Sino-Korean.
    auto rules_for = [&](const Amount& x) {
      const bool large = rules_.suffix_rule_sets_below > 0 &&
                         (x.integer.size() > 15 || std::stoll("0" + x.integer) >= rules_.suffix_rule_sets_below);
      return large ? std::string_view() : rule_set;
    };
    std::string a = Number(first, rules_for(first));
    if (!second) return noun ? BeforeNoun(a) : a;
    std::string b = Number(*second, rules_for(*second));
    return Fill(rules_.range, {{"a", a}, {"b", noun ? BeforeNoun(b) : b}});
  };

  if (currency != nullptr) {
    *end = p;
    if (!scale.empty()) {
      std::string out = sign + range_of(rules_.numbers.cardinal, false) + " " + scale;
      if (!rules_.of_after_scale.empty()) out += " " + std::string(rules_.of_after_scale);
      return out + " " + std::string(Noun(currency, currency->singular, currency->plural, Amount{"5"}));
    }
    if (second) {
      const std::string_view rule_set = currency->feminine ? Feminine() : rules_.numbers.cardinal;
      return sign + range_of(rule_set, true) + " " +
             std::string(Noun(currency, currency->singular, currency->plural, last));
    }
    return sign + Money(first, *currency);
  }

  for (const NumberSuffix* s : suffixes_) {
    const std::size_t q = s->attached ? p : SkipOneSpace(t, p);
    if (t.compare(q, s->written.size(), s->written) != 0) continue;
    if (!s->open_end && !EndsWordAt(t, q + s->written.size(), s->written)) continue;
    if (s->kind == Kind::kMonth) {
      const int month = first.fraction.empty() && !second ? ToInt(first.integer) : 0;
      if (month < 1 || month > 12 || first.integer.size() > 2 || rules_.date.months.size() != 12) continue;
      *end = q + s->written.size();
      return sign + std::string(rules_.date.months[static_cast<std::size_t>(month - 1)]);
    }
    if ((s->kind == Kind::kOrdinal || s->kind == Kind::kPlural) && (!first.fraction.empty() || second)) continue;
    *end = q + s->written.size();
    if (s->kind == Kind::kOrdinal) {
      return sign + speller_.Integer(first.integer, s->rule_set.empty() ? rules_.numbers.ordinal : s->rule_set);
    }
    if (s->kind == Kind::kPlural) return Plural(Plain(first));
    std::string out = s->before.empty() ? std::string() : std::string(s->before) + " ";
    out += sign + range_of(s->rule_set, !s->singular.empty());
    const std::string_view noun = Noun(s, s->singular, s->plural, last);
    if (!noun.empty()) out += " " + std::string(noun);
    return out;
  }
  *end = p;
  if (second) return sign + range_of({}, false);
  return sign + Plain(first);
}

std::string TextNormalizer::Language::SpeakAmounts(std::string_view text) const {
  std::string out;
  out.reserve(text.size() * 2);
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    // Only where an amount can start: a digit, a sign, a currency's first byte.
    const bool candidate = IsDigitAt(text, i) || c == '-' || c == '+' || c == '$' || c >= 0xC0 ||
                           (c >= 'A' && c <= 'Z');
    std::size_t end = i;
    std::optional<std::string> spoken = candidate ? AmountAt(text, i, &end) : std::nullopt;
    if (!spoken || end <= i) {
      out.push_back(text[i++]);
      continue;
    }
    AppendSpoken(out, *spoken, text, end);
    i = end;
  }
  return out;
}

std::string TextNormalizer::Language::SpeakSymbols(std::string_view text) const {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    auto symbol = std::find_if(rules_.symbols.begin(), rules_.symbols.end(),
                               [&](const auto& s) { return text.compare(i, s.first.size(), s.first) == 0; });
    if (symbol == rules_.symbols.end()) {
      out.push_back(text[i++]);
      continue;
    }
    if (!out.empty() && out.back() != ' ') out.push_back(' ');
    out.append(symbol->second);
    i += symbol->first.size();
    if (i < text.size() && text[i] != ' ') out.push_back(' ');
  }
  return out;
}

std::string TextNormalizer::Language::Normalize(std::string_view input) const {
  std::string text = StripMarkdown(ComposeIfValid(input));
  if (!rules_.says_numbers) return text;
  text = SpeakEmails(text);
  text = SpeakWebAddresses(text);
  text = SpeakAbbreviations(text);
  if (text.find_first_of("0123456789") != std::string::npos) {
    text = SpeakTimes(text);
    text = SpeakDates(text);
    text = SpeakPhoneNumbers(text);
    text = SpeakDottedNumbers(text);
    text = SpeakAmounts(text);
  }
  return SpeakSymbols(text);
}

// --- TextNormalizer -------------------------------------------------------------

TextNormalizer::TextNormalizer() = default;
TextNormalizer::~TextNormalizer() = default;

const TextNormalizer::Language& TextNormalizer::For(std::string_view lang) const {
  std::lock_guard lock(mutex_);
  auto it = languages_.find(lang);
  if (it != languages_.end()) return *it->second;
  const LanguageRules* written = WrittenLanguageRules(lang);
  auto language = written != nullptr ? std::make_unique<Language>(*written) : std::make_unique<Language>(lang);
  return *languages_.emplace(std::string(lang), std::move(language)).first->second;
}

std::string TextNormalizer::Normalize(std::string_view text, std::string_view lang) const {
  return For(lang).Normalize(text);
}

}  // namespace supertonic
