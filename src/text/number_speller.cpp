#include "text/number_speller.h"

#include <unicode/locid.h>
#include <unicode/rbnf.h>
#include <unicode/unistr.h>

#include <string>

namespace supertonic {

struct NumberSpeller::Icu {
  std::unique_ptr<icu::RuleBasedNumberFormat> format;
};

namespace {

constexpr std::size_t kMaxSpelledDigits = 15;  // what an int64 and ICU's rules say exactly

// ICU's German (and a few other) rules put soft hyphens inside words.
std::string WithoutSoftHyphens(const icu::UnicodeString& text) {
  std::string utf8;
  text.toUTF8String(utf8);
  std::string out;
  out.reserve(utf8.size());
  for (std::size_t i = 0; i < utf8.size(); ++i) {
    if (static_cast<unsigned char>(utf8[i]) == 0xC2 && i + 1 < utf8.size() &&
        static_cast<unsigned char>(utf8[i + 1]) == 0xAD) {
      ++i;
      continue;
    }
    out.push_back(utf8[i]);
  }
  return out;
}

std::string_view WithoutLeadingZeros(std::string_view digits) {
  while (digits.size() > 1 && digits.front() == '0') digits.remove_prefix(1);
  return digits;
}

}  // namespace

NumberSpeller::NumberSpeller(std::string_view icu_locale) : icu_(std::make_unique<Icu>()) {
  UErrorCode status = U_ZERO_ERROR;
  const std::string locale(icu_locale);
  icu_->format = std::make_unique<icu::RuleBasedNumberFormat>(icu::URBNF_SPELLOUT, icu::Locale(locale.c_str()), status);
  if (U_FAILURE(status)) {
    status = U_ZERO_ERROR;
    icu_->format = std::make_unique<icu::RuleBasedNumberFormat>(icu::URBNF_SPELLOUT, icu::Locale::getRoot(), status);
  }
  if (U_FAILURE(status)) icu_->format.reset();
  // The decimal word: 1.5 spelled, less "1" before it and "5" after it.
  if (icu_->format) {
    icu::UnicodeString spelled;
    icu_->format->format(1.5, spelled);
    const std::string whole = WithoutSoftHyphens(spelled);
    const std::string one = Format(1, {}), five = Format(5, {});
    if (whole.size() > one.size() + five.size() && whole.starts_with(one) && whole.ends_with(five)) {
      decimal_word_ = whole.substr(one.size(), whole.size() - one.size() - five.size());
    }
  }

  if (icu_->format) {
    icu::UnicodeString spelled;
    icu_->format->format(static_cast<int64_t>(-1), spelled);
    const std::string whole = WithoutSoftHyphens(spelled), one = Format(1, {});
    if (whole.size() > one.size() && whole.ends_with(one)) {
      minus_word_ = whole.substr(0, whole.size() - one.size());
      while (!minus_word_.empty() && minus_word_.back() == ' ') minus_word_.pop_back();
    }
  }
}

NumberSpeller::~NumberSpeller() = default;

bool NumberSpeller::HasRuleSet(std::string_view rule_set) const {
  if (!icu_->format || rule_set.empty()) return false;
  const icu::UnicodeString wanted = icu::UnicodeString::fromUTF8(icu::StringPiece(rule_set.data(),
                                                                                   static_cast<int32_t>(rule_set.size())));
  for (int32_t i = 0; i < icu_->format->getNumberOfRuleSetNames(); ++i) {
    if (icu_->format->getRuleSetName(i) == wanted) return true;
  }
  return false;
}

std::string NumberSpeller::Format(long long value, std::string_view rule_set) const {
  if (!icu_->format) return std::to_string(value);
  icu::UnicodeString out;
  UErrorCode status = U_ZERO_ERROR;
  {
    std::lock_guard lock(mutex_);
    if (!rule_set.empty()) {
      icu::FieldPosition position;
      const icu::UnicodeString name = icu::UnicodeString::fromUTF8(
          icu::StringPiece(rule_set.data(), static_cast<int32_t>(rule_set.size())));
      icu_->format->format(static_cast<int64_t>(value), name, out, position, status);
    }
    if (rule_set.empty() || U_FAILURE(status)) {
      out.remove();
      icu_->format->format(static_cast<int64_t>(value), out);
    }
  }
  return WithoutSoftHyphens(out);
}

std::string NumberSpeller::Integer(std::string_view digits, std::string_view rule_set) const {
  digits = WithoutLeadingZeros(digits);
  if (digits.empty()) return {};
  if (digits.size() > kMaxSpelledDigits) return Digits(digits);
  return Format(std::stoll(std::string(digits)), rule_set);
}

std::string NumberSpeller::Decimal(std::string_view integer_digits, std::string_view fraction_digits,
                                   std::string_view rule_set, bool fraction_as_number,
                                   std::string_view digit_separator) const {
  std::string out = Integer(integer_digits.empty() ? std::string_view("0") : integer_digits, rule_set);
  if (fraction_digits.empty()) return out;
  if (decimal_word_.empty()) {
    // The locale says fractions its own way (Russian "три целых пять десятых"): its rules, where they are exact.
    if (integer_digits.size() + fraction_digits.size() <= kMaxSpelledDigits && icu_->format) {
      icu::UnicodeString spelled;
      std::lock_guard lock(mutex_);
      icu_->format->format(std::stod(std::string(integer_digits.empty() ? "0" : integer_digits) + "." +
                                     std::string(fraction_digits)),
                           spelled);
      return WithoutSoftHyphens(spelled);
    }
    return out + " " + Digits(fraction_digits, {}, digit_separator);
  }
  out += decimal_word_;
  if (fraction_as_number && fraction_digits.size() <= 2 && fraction_digits.front() != '0') {
    out += Integer(fraction_digits);
  } else {
    out += Digits(fraction_digits, {}, digit_separator);
  }
  return out;
}

std::string NumberSpeller::Digits(std::string_view digits, std::string_view zero, std::string_view separator) const {
  std::string out;
  for (char d : digits) {
    if (d < '0' || d > '9') continue;
    if (!out.empty()) out.append(separator);
    out += d == '0' && !zero.empty() ? std::string(zero) : Format(d - '0', {});
  }
  return out;
}

}  // namespace supertonic
