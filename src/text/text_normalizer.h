#pragma once
// Says what written text means before the model reads it: numbers, money,
// times, dates, ordinals, units, phone numbers, web and e-mail addresses,
// abbreviations and LLM markdown, in the words of the text's language.
// Runs before PreprocessText (the reference's own cleanup), on text as a
// client wrote it.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace supertonic {

class TextNormalizer {
 public:
  TextNormalizer();
  ~TextNormalizer();
  TextNormalizer(const TextNormalizer&) = delete;
  TextNormalizer& operator=(const TextNormalizer&) = delete;

  // Any bytes in (invalid UTF-8 passes through for the preprocessor to
  // drop); never throws for text. Languages with a written table
  // (language_rules.cpp: en es fr ko pt) get all rules; any other gets the
  // rules ICU's locale data gives (numbers, units, currencies, months).
  // Output length is linear in the input: at most kMaxExpansion bytes per
  // input byte (the longest rule, French "97", says 21 bytes for 2; the
  // fuzzer checks the bound).
  std::string Normalize(std::string_view text, std::string_view lang) const;

  static constexpr std::size_t kMaxExpansion = 24;

  class Language;  // one language's rules, compiled once (public for the implementation's helpers)

 private:
  const Language& For(std::string_view lang) const;

  mutable std::mutex mutex_;
  mutable std::map<std::string, std::unique_ptr<Language>, std::less<>> languages_;
};

}  // namespace supertonic
