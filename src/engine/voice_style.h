#pragma once
// Voice styles: the per-speaker conditioning tensors stored as JSON
// (voice_styles/*.json, and the voice-style files users bring): "style_ttl"
// [1,50,256] and "style_dp" [1,8,16], each {"dims": [...], "data": [...]},
// and an optional "metadata" object.
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace supertonic {

struct VoiceStyle {
  static constexpr int kTtlTokens = 50, kTtlDim = 256;   // style_ttl [1,50,256]
  static constexpr int kDpTokens = 8, kDpDim = 16;       // style_dp  [1,8,16]
  static constexpr std::size_t kTtlValues = static_cast<std::size_t>(kTtlTokens) * kTtlDim;
  static constexpr std::size_t kDpValues = static_cast<std::size_t>(kDpTokens) * kDpDim;
  // The largest magnitude a style value may have: the published voices stay
  // within a few units; beyond this a file is not a voice style (and would
  // overflow the graphs' arithmetic).
  static constexpr float kMaxAbsValue = 1000.0f;
  // The largest "metadata" object kept, serialized.
  static constexpr std::size_t kMaxMetadataBytes = 16 * 1024;
  // The default file size limit of Load (the published files are ~420 KB).
  static constexpr std::size_t kDefaultMaxFileBytes = 2 * 1024 * 1024;

  std::string name;
  std::vector<float> ttl;  // kTtlValues
  std::vector<float> dp;   // kDpValues
  std::string metadata = "{}";  // the "metadata" object, as JSON text
  std::string upload;           // the "upload" object a server writes with an uploaded voice (JSON text), else empty

  // Reads and validates a voice style file: at most `max_file_bytes`, valid
  // JSON, both tensors with their dims and value counts, every value finite
  // and within kMaxAbsValue, "metadata" (when present) an object of at most
  // kMaxMetadataBytes. Named by the file's stem. Throws ModelError naming the
  // file and what is wrong.
  static VoiceStyle Load(const std::filesystem::path& json_file, std::size_t max_file_bytes = kDefaultMaxFileBytes);
  // The same checks on a parsed JSON object (an upload); `where` names it in
  // the ModelError.
  static VoiceStyle FromJson(const nlohmann::json& j, std::string name, const std::string& where);
  // The voice-style file for this style (dims, nested data, metadata, upload).
  std::string ToJson() const;
};

// Voice names: letters, digits, '_' and '-', 1..64 characters (a file stem,
// and never a path or blend syntax).
bool IsVoiceName(std::string_view name);

// Every *.json in a model's voice_styles/ folder, by file stem (F1, M3, ...).
class VoiceLibrary {
 public:
  // Throws ModelError for a missing folder, no voices, or a bad file (a
  // model's own voices must all load).
  static VoiceLibrary Load(const std::filesystem::path& dir);
  const VoiceStyle* Find(const std::string& name) const;
  std::shared_ptr<const VoiceStyle> FindShared(const std::string& name) const;
  std::vector<std::string> names() const;
  bool empty() const { return voices_.empty(); }

 private:
  std::map<std::string, std::shared_ptr<const VoiceStyle>> voices_;
};

}  // namespace supertonic
