#pragma once
// Voice styles: the per-speaker conditioning tensors stored as JSON.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace supertonic {

struct VoiceStyle {
  static constexpr int kTtlTokens = 50, kTtlDim = 256;   // style_ttl [1,50,256]
  static constexpr int kDpTokens = 8, kDpDim = 16;       // style_dp  [1,8,16]
  std::string name;
  std::vector<float> ttl;  // kTtlTokens * kTtlDim
  std::vector<float> dp;   // kDpTokens * kDpDim

  // Throws ModelError naming the file on a missing field or wrong dims.
  static VoiceStyle Load(const std::filesystem::path& json_file);
};

// Every *.json in a voice_styles/ folder, by file stem (F1, M3, ...).
class VoiceLibrary {
 public:
  static VoiceLibrary Load(const std::filesystem::path& dir);
  const VoiceStyle* Find(const std::string& name) const;
  std::vector<std::string> names() const;
  bool empty() const { return voices_.empty(); }

 private:
  std::map<std::string, VoiceStyle> voices_;
};

}  // namespace supertonic
