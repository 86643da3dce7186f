#pragma once
// The voices each served model offers: its own (voice_styles/), the voice
// files of TTS_VOICES_DIR, and those uploaded through /v1/voices (written
// there, so they survive a restart); and the blends of them sessions ask for.
//
// Layout of TTS_VOICES_DIR: one folder per served model, named as clients
// name the model (TTS_VOICES_DIR/supertonic-2/*.json, or the TTS_MODELS
// names); with a single model, *.json directly in TTS_VOICES_DIR are that
// model's too. A voice is named by its file stem. Uploads go to the model's
// folder (created when needed).
//
// Thread safety: every method may be called from any thread. Readers take an
// immutable snapshot (a shared_ptr swapped under a mutex); writers (Save,
// Delete) are serialized, write the file first and then publish a new
// snapshot. A resolved style is a shared_ptr the session keeps: an overwrite
// or a DELETE never changes or frees the style of a running session.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "engine/voice_style.h"
#include "service/session_settings.h"

namespace supertonic::service {

enum class VoiceOrigin { kModel, kFile, kUpload };
std::string_view ToString(VoiceOrigin origin);  // "model", "file", "upload"

struct VoiceRegistryConfig {
  std::filesystem::path dir;        // TTS_VOICES_DIR; empty: the models' own voices only, no uploads
  std::size_t max_voices = 500;     // TTS_MAX_VOICES: file and uploaded voices per model
  std::size_t max_voice_bytes = VoiceStyle::kDefaultMaxFileBytes;  // TTS_MAX_VOICE_BYTES: one file
  std::size_t blend_cache_size = 64;  // resolved blends kept (least recently used dropped)
  std::string default_voice;          // TTS_DEFAULT_VOICE: never deleted
};

// A served model's own voices, as the registry starts with them.
struct ModelVoices {
  std::string name;              // the model's name as clients use it (and its folder's)
  const VoiceLibrary* library = nullptr;  // must outlive the registry
};

struct VoiceInfo {
  std::string name;
  std::string model;
  VoiceOrigin origin = VoiceOrigin::kModel;
  std::shared_ptr<const VoiceStyle> style;  // its metadata and upload record
};

// Why a write was refused. The API maps each kind to an HTTP status and a code.
struct VoiceWriteError {
  enum class Kind {
    kInvalidName,    // 400 invalid_voice_name
    kInvalidVoice,   // 400 invalid_voice: a bad blend
    kProtected,      // 409 voice_protected: the model's own, or TTS_DEFAULT_VOICE
    kTooMany,        // 409 too_many_voices: TTS_MAX_VOICES
    kTooLarge,       // 413 voice_too_large: its file would exceed TTS_MAX_VOICE_BYTES
    kNotFound,       // 404 voice_not_found
    kNoStorage,      // 403 uploads_disabled: no TTS_VOICES_DIR
    kStorage,        // 500 voice_storage_failed: the file could not be written or removed
  };
  Kind kind;
  std::string message;
};

class VoiceRegistry : public VoiceResolver {
 public:
  // Loads the voice files of config.dir (creating it when missing; throws
  // std::runtime_error naming TTS_VOICES_DIR when it cannot). A bad file is
  // skipped with a warning naming it and why; so is one beyond max_voices,
  // one whose name is not a voice name, or one named as the model's own.
  VoiceRegistry(std::vector<ModelVoices> models, VoiceRegistryConfig config);

  const VoiceRegistryConfig& config() const { return config_; }
  bool has_storage() const { return !config_.dir.empty(); }
  std::size_t model_count() const { return model_names_.size(); }

  // The model's voices: its own, then the files', then the uploaded ones,
  // each by name.
  std::vector<VoiceInfo> List(std::size_t model) const;
  std::vector<std::string> Names(std::size_t model) const;
  // The model's voice of that name (no blends), or null.
  std::shared_ptr<const VoiceStyle> Find(std::size_t model, const std::string& name) const;

  // VoiceResolver: a name, or a blend of up to kMaxBlendParts of the model's
  // voices (cached).
  std::variant<ResolvedVoice, ProtocolError> Resolve(std::size_t model, std::string_view voice) const override;

  // Stores `style` as the model's voice `name` (a new one, or replacing an
  // uploaded or file voice): written atomically (temporary file + rename)
  // into the model's folder, then visible to new sessions. The file records
  // the upload ("upload": {"created_at", and "blend" when it was saved from
  // one}). Returns whether it replaced a voice.
  std::variant<bool, VoiceWriteError> Save(std::size_t model, const std::string& name, VoiceStyle style,
                                           std::string_view blend = {});
  // Removes the model's file or uploaded voice `name` and its file.
  std::optional<VoiceWriteError> Delete(std::size_t model, const std::string& name);

  // For tests: how many blends are cached.
  std::size_t cached_blends() const;

 private:
  struct Entry {
    std::shared_ptr<const VoiceStyle> style;
    VoiceOrigin origin = VoiceOrigin::kModel;
    std::vector<std::filesystem::path> files;  // where it is stored (none for the model's own)
  };
  struct Snapshot {
    uint64_t generation = 0;
    std::vector<std::map<std::string, Entry>> by_model;
  };

  static std::size_t CountStored(const std::map<std::string, Entry>& voices);  // file and uploaded voices
  void LoadFiles(Snapshot& snapshot);
  void LoadFolder(Snapshot& snapshot, std::size_t model, const std::filesystem::path& folder);
  std::shared_ptr<const Snapshot> snapshot() const;
  void Publish(std::shared_ptr<Snapshot> next);
  std::filesystem::path FolderOf(std::size_t model) const;
  std::string AvailableText(const std::map<std::string, Entry>& voices) const;

  VoiceRegistryConfig config_;
  std::vector<std::string> model_names_;
  std::mutex write_mutex_;     // one Save or Delete at a time (file, then snapshot)
  mutable std::mutex mutex_;   // snapshot_ and the blend cache
  std::shared_ptr<const Snapshot> snapshot_;
  // Least recently used first; keyed by model and canonical blend.
  mutable std::list<std::pair<std::string, std::shared_ptr<const VoiceStyle>>> blend_lru_;
  mutable std::map<std::string, decltype(blend_lru_)::iterator> blend_index_;
};

}  // namespace supertonic::service
