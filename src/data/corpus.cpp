#include "data/corpus.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "common/error.h"

namespace diffwave::prep {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string without_extension(const std::string& path) {
  const fs::path p(path);
  return p.has_extension() ? (p.parent_path() / p.stem()).generic_string() : p.generic_string();
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// Ids are names without extension ("spk1/utt3"); where two files share one (a.wav, a.flac), both
// keep their extension instead, so an id never silently points at the wrong file.
void assign_ids(std::vector<InputFile>& files, const std::vector<std::string>& names) {
  std::map<std::string, int> uses;
  for (const auto& n : names) ++uses[without_extension(n)];
  for (size_t i = 0; i < files.size(); ++i) {
    const auto stem = without_extension(names[i]);
    files[i].id = uses[stem] > 1 ? names[i] : stem;
  }
}

void sort_by_path(std::vector<InputFile>& files) {
  std::stable_sort(files.begin(), files.end(), [](const InputFile& a, const InputFile& b) { return a.path < b.path; });
}

Corpus scan_folder(const fs::path& root) {
  Corpus c{"folder", {}};
  std::vector<std::string> names;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
  if (ec) throw Error(fmt::format("{}: cannot list folder: {}", root.string(), ec.message()));
  for (; it != end; it.increment(ec)) {
    if (ec) throw Error(fmt::format("{}: cannot list folder: {}", root.string(), ec.message()));
    std::error_code type_ec;
    if (it->is_directory(type_ec)) continue;
    if (!has_audio_extension(it->path().string())) continue;
    c.files.push_back({it->path().string(), "", ""});
  }
  sort_by_path(c.files);
  for (const auto& f : c.files) names.push_back(fs::path(f.path).lexically_relative(root).generic_string());
  assign_ids(c.files, names);
  return c;
}

// LJSpeech: metadata.csv lines "id|text|normalised text" name wavs/<id>.wav. Files in wavs/ that
// metadata.csv does not list are reported, not used.
Corpus scan_ljspeech(const fs::path& root) {
  Corpus c{"ljspeech", {}};
  const auto metadata = root / "metadata.csv";
  std::ifstream in(metadata);
  if (!in) throw Error(fmt::format("{}: cannot read", metadata.string()));
  std::set<std::string> listed;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const auto id = trim(line.substr(0, line.find('|')));
    if (id.empty()) continue;
    const auto path = (root / "wavs" / (id + ".wav")).string();
    if (!listed.insert(path).second) {
      c.files.push_back({path, fmt::format("{}#line{}", id, line_no),
                         fmt::format("duplicate: id '{}' listed again in metadata.csv line {}", id, line_no)});
      continue;
    }
    c.files.push_back({path, id, ""});
  }
  std::error_code ec;
  for (fs::directory_iterator it(root / "wavs", ec), end; !ec && it != end; it.increment(ec)) {
    const auto path = it->path().string();
    if (has_audio_extension(path) && !listed.count(path))
      c.files.push_back({path, "unlisted/" + it->path().filename().string(), "unlisted: not in metadata.csv"});
  }
  sort_by_path(c.files);
  return c;
}

// One path per line; blank lines and lines starting with '#' are skipped; relative paths are
// relative to the list's folder. Ids are the paths as written, without extension.
Corpus read_list(const fs::path& list) {
  Corpus c{"list", {}};
  std::ifstream in(list);
  if (!in) throw Error(fmt::format("{}: cannot read the list of inputs", list.string()));
  std::vector<std::pair<InputFile, std::string>> entries;
  std::set<std::string> seen;
  std::string line;
  while (std::getline(in, line)) {
    const auto written = trim(line);
    if (written.empty() || written[0] == '#') continue;
    const fs::path p(written);
    const auto path = (p.is_absolute() ? p : list.parent_path() / p).lexically_normal().string();
    InputFile f{path, "", ""};
    if (!seen.insert(path).second) f.problem = "duplicate: path listed more than once";
    entries.push_back({f, written});
  }
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first.path < b.first.path; });
  std::vector<std::string> names;
  for (auto& [f, written] : entries) {
    c.files.push_back(f);
    names.push_back(written);
  }
  assign_ids(c.files, names);
  // A repeated path keeps a distinct id so report rows and ids stay one per line.
  for (size_t i = 1; i < c.files.size(); ++i)
    if (!c.files[i].problem.empty()) c.files[i].id += fmt::format("#{}", i);
  return c;
}

}  // namespace

bool has_audio_extension(const std::string& path) {
  static const std::set<std::string> extensions{".wav", ".flac", ".ogg", ".mp3"};
  return extensions.count(lower(fs::path(path).extension().string())) > 0;
}

Corpus discover_corpus(const std::string& input) {
  const fs::path p(input);
  std::error_code ec;
  const auto status = fs::status(p, ec);
  if (ec || !fs::exists(status)) throw Error(fmt::format("--input {}: no such file or folder", input));
  if (fs::is_directory(status)) {
    if (fs::is_regular_file(p / "metadata.csv") && fs::is_directory(p / "wavs")) return scan_ljspeech(p);
    return scan_folder(p);
  }
  return read_list(p);
}

}  // namespace diffwave::prep
