#include "app/batch_file.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>
#include <set>

namespace supertonic::app {

namespace {

using nlohmann::json;

constexpr const char* kKnownKeys = "text, output, voice, lang, speed, seed, noise";

std::string_view TrimWhitespace(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\f\v");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\f\v");
  return s.substr(first, last - first + 1);
}

// nlohmann's message says "at line 1, column N" of the one line it was given;
// keep the column and the reason, since the caller names the file's line.
std::string ParseErrorDetail(const json::parse_error& e) {
  const std::string what = e.what();
  const auto column = what.find("column ");
  if (column != std::string::npos) return "bad JSON at " + what.substr(column);
  return std::string("bad JSON: ") + what;
}

json ParseLine(std::string_view text, const std::string& source, int line) {
  // The items are flat objects, so a key at depth 1 seen twice is a line that
  // says two things about one field: refuse it rather than keep the last.
  std::set<std::string> keys;
  std::string duplicate;
  const json::parser_callback_t reject_duplicate_keys = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && parsed.is_string() &&
        !keys.insert(parsed.get<std::string>()).second && duplicate.empty()) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  json value;
  try {
    value = json::parse(text.begin(), text.end(), reject_duplicate_keys);
  } catch (const json::parse_error& e) {
    throw BatchLineError(source, line, ParseErrorDetail(e));
  }
  if (!value.is_object()) {
    throw BatchLineError(source, line, std::string("expected a JSON object, got ") + value.type_name());
  }
  if (!duplicate.empty()) throw BatchLineError(source, line, "key \"" + duplicate + "\" given twice");
  return value;
}

std::string RequireString(const json& object, const char* key, const std::string& source, int line) {
  const json& value = object.at(key);
  if (!value.is_string()) {
    throw BatchLineError(source, line, std::string("\"") + key + "\" must be a string, got " + value.type_name());
  }
  return value.get<std::string>();
}

std::filesystem::path ResolvePath(const std::string& path, const std::filesystem::path& base_dir) {
  const std::filesystem::path p(path);
  return p.is_absolute() || base_dir.empty() ? p : base_dir / p;
}

BatchItem ParseItem(const json& object, const std::string& source, int line, const std::filesystem::path& base_dir,
                    const BatchDefaults& defaults) {
  static const std::set<std::string> known = {"text", "output", "voice", "lang", "speed", "seed", "noise"};
  for (const auto& [key, value] : object.items()) {
    if (!known.contains(key)) {
      throw BatchLineError(source, line, "unknown key \"" + key + "\" (known: " + kKnownKeys + ")");
    }
  }
  for (const char* required : {"text", "output"}) {
    if (!object.contains(required)) throw BatchLineError(source, line, std::string("missing \"") + required + "\"");
  }

  BatchItem item;
  item.line = line;
  item.text = RequireString(object, "text", source, line);
  if (TrimWhitespace(item.text).empty()) throw BatchLineError(source, line, "\"text\" is empty");
  const std::string output = RequireString(object, "output", source, line);
  if (output.empty()) throw BatchLineError(source, line, "\"output\" is empty");
  item.output = ResolvePath(output, base_dir);

  item.voice = object.contains("voice") ? RequireString(object, "voice", source, line) : defaults.voice;
  item.lang = object.contains("lang") ? RequireString(object, "lang", source, line) : defaults.lang;
  item.speed = defaults.speed;
  if (object.contains("speed")) {
    const json& speed = object.at("speed");
    if (!speed.is_number()) {
      throw BatchLineError(source, line, std::string("\"speed\" must be a number, got ") + speed.type_name());
    }
    item.speed = speed.get<float>();
  }
  item.seed = defaults.seed;
  if (object.contains("seed")) {
    const json& seed = object.at("seed");
    // A negative or fractional seed would be silently converted; an integer
    // beyond 64 bits parses as a float and is refused the same way.
    if (!seed.is_number_unsigned()) {
      throw BatchLineError(source, line,
                      std::string("\"seed\" must be an unsigned integer, got ") +
                          (seed.is_number() ? seed.dump() : seed.type_name()));
    }
    item.seed = seed.get<uint64_t>();
  }
  if (object.contains("noise")) {
    const std::string noise = RequireString(object, "noise", source, line);
    if (noise.empty()) throw BatchLineError(source, line, "\"noise\" is empty");
    item.noise = ResolvePath(noise, base_dir);
  }
  return item;
}

}  // namespace

BatchFileError BatchLineError(const std::string& source, int line, const std::string& message) {
  return BatchFileError(source + " line " + std::to_string(line) + ": " + message);
}

std::vector<BatchItem> ParseBatchItems(std::string_view content, const std::string& source,
                                       const std::filesystem::path& base_dir, const BatchDefaults& defaults) {
  std::vector<BatchItem> items;
  std::set<std::filesystem::path> outputs;
  int line = 0;
  std::size_t pos = 0;
  while (pos < content.size()) {
    const std::size_t end = std::min(content.find('\n', pos), content.size());
    const std::string_view text = TrimWhitespace(content.substr(pos, end - pos));
    pos = end + 1;
    ++line;
    if (text.empty()) continue;
    if (items.size() == kMaxBatchItems) {
      throw BatchLineError(source, line, "more than " + std::to_string(kMaxBatchItems) + " items in one batch");
    }
    BatchItem item = ParseItem(ParseLine(text, source, line), source, line, base_dir, defaults);
    // Two items writing one file: the later one would silently replace the earlier.
    if (!outputs.insert(item.output.lexically_normal()).second) {
      throw BatchLineError(source, line, "output " + item.output.string() + " is already another item's output");
    }
    items.push_back(std::move(item));
  }
  if (items.empty()) throw BatchFileError(source + ": no items (one JSON object per line)");
  return items;
}

std::vector<BatchItem> ReadBatchFile(const std::filesystem::path& path, const BatchDefaults& defaults) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw BatchFileError("cannot read batch file " + path.string());
  const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return ParseBatchItems(content, path.string(), path.parent_path(), defaults);
}

}  // namespace supertonic::app
