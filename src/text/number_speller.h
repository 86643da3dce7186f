#pragma once
// Numbers in words for one locale, by ICU's rule-based number format
// (spellout rules for cardinals, ordinals, years and decimals in every
// locale ICU has).
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace supertonic {

class NumberSpeller {
 public:
  // An unknown locale gets ICU's root rules (English words); never throws.
  explicit NumberSpeller(std::string_view icu_locale);
  ~NumberSpeller();
  NumberSpeller(const NumberSpeller&) = delete;
  NumberSpeller& operator=(const NumberSpeller&) = delete;

  // `digits`: ASCII digits, leading zeros allowed. `rule_set` is an ICU rule
  // set name ("%spellout-ordinal-feminine"); empty or unknown to the locale:
  // its default cardinal. Beyond 15 digits, the digits one by one.
  std::string Integer(std::string_view digits, std::string_view rule_set = {}) const;
  // "3" "14": the integer part, the locale's decimal word, then the fraction
  // digit by digit (or as one number when `fraction_as_number` and it has at
  // most two digits and no leading zero).
  std::string Decimal(std::string_view integer_digits, std::string_view fraction_digits, std::string_view rule_set,
                      bool fraction_as_number, std::string_view digit_separator = " ") const;
  // Each digit on its own, separated by `separator`.
  std::string Digits(std::string_view digits, std::string_view zero = {}, std::string_view separator = " ") const;
  bool HasRuleSet(std::string_view rule_set) const;
  // What the locale says before a negative number ("minus", "menos").
  const std::string& minus_word() const { return minus_word_; }

 private:
  std::string Format(long long value, std::string_view rule_set) const;

  struct Icu;  // keeps ICU out of this header
  std::unique_ptr<Icu> icu_;
  std::string decimal_word_;  // what the locale says between "1" and "5" in 1.5
  std::string minus_word_;
  mutable std::mutex mutex_;  // ICU does not promise concurrent format calls on one object
};

}  // namespace supertonic
