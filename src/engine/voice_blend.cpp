#include "engine/voice_blend.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

namespace supertonic {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool ParseWeight(std::string_view s, double& out) {
  if (s.empty()) return false;
  const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), out, std::chars_format::general);
  return error == std::errc() && end == s.data() + s.size();
}

}  // namespace

std::string Quoted(std::string_view s) {
  std::string out = "'";
  for (char c : s.substr(0, 64)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7F) ? '?' : c;
  }
  if (s.size() > 64) out += "...";
  return out + "'";
}

std::string VoiceMix::Canonical() const {
  if (parts.size() == 1) return parts.front().name;
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += '+';
    out += fmt::format("{}:{:.4g}", p.name, p.weight);
  }
  return out;
}

std::variant<VoiceMix, std::string> ParseVoiceMix(std::string_view spec, std::size_t max_parts) {
  if (Trim(spec).empty()) return std::string("the voice is empty");
  VoiceMix mix;
  std::string_view rest = spec;
  for (;;) {
    const auto plus = rest.find('+');
    const std::string_view raw = rest.substr(0, plus);
    const std::string_view part = Trim(raw);
    if (part.empty()) return "blend " + Quoted(spec) + " has an empty part (write it as F1:0.7+M2:0.3)";
    if (mix.parts.size() == max_parts) {
      return fmt::format("blend {} has more than {} voices", Quoted(spec), max_parts);
    }
    const auto colon = part.find(':');
    VoicePart p;
    p.name = std::string(Trim(part.substr(0, colon)));
    if (!IsVoiceName(p.name)) {
      return "blend part " + Quoted(part) + " does not name a voice (letters, digits, '_' or '-', at most 64)";
    }
    if (colon != std::string_view::npos) {
      const std::string_view weight = Trim(part.substr(colon + 1));
      if (!ParseWeight(weight, p.weight) || !std::isfinite(p.weight) || !(p.weight > 0) ||
          p.weight > kMaxBlendWeight) {
        return fmt::format("blend part {}: the weight must be a number above 0 and at most {:g}, got {}",
                           Quoted(part), kMaxBlendWeight, Quoted(weight));
      }
    }
    for (const auto& earlier : mix.parts) {
      if (earlier.name == p.name) return "voice " + Quoted(p.name) + " appears twice in blend " + Quoted(spec);
    }
    mix.parts.push_back(std::move(p));
    if (plus == std::string_view::npos) break;
    rest = rest.substr(plus + 1);
  }
  double total = 0;
  for (const auto& p : mix.parts) total += p.weight;
  for (auto& p : mix.parts) p.weight /= total;
  return mix;
}

VoiceStyle BlendStyles(std::span<const WeightedStyle> parts, std::string name) {
  double total = 0;
  for (const auto& p : parts) total += p.weight;
  VoiceStyle out;
  out.name = std::move(name);
  auto mean = [&](auto member, std::size_t size) {
    std::vector<double> acc(size, 0.0);
    for (const auto& p : parts) {
      const std::vector<float>& values = (*p.style).*member;
      const double w = p.weight / total;
      for (std::size_t i = 0; i < size; ++i) acc[i] += w * static_cast<double>(values[i]);
    }
    return std::vector<float>(acc.begin(), acc.end());
  };
  out.ttl = mean(&VoiceStyle::ttl, VoiceStyle::kTtlValues);
  out.dp = mean(&VoiceStyle::dp, VoiceStyle::kDpValues);
  std::string escaped;
  for (char c : out.name) {
    if (c == '"' || c == '\\') escaped += '\\';
    escaped += c;
  }
  out.metadata = "{\"blend\":\"" + escaped + "\"}";
  return out;
}

std::variant<std::shared_ptr<const VoiceStyle>, std::string> ResolveVoiceMix(const VoiceMix& mix,
                                                                            const VoiceLookup& lookup) {
  std::vector<std::shared_ptr<const VoiceStyle>> held;
  std::vector<WeightedStyle> parts;
  for (const auto& p : mix.parts) {
    auto style = lookup(p.name);
    if (!style) return "unknown voice " + Quoted(p.name);
    parts.push_back({style.get(), p.weight});
    held.push_back(std::move(style));
  }
  if (!mix.is_blend()) return held.front();
  return std::make_shared<const VoiceStyle>(BlendStyles(parts, mix.Canonical()));
}

}  // namespace supertonic
