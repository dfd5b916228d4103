// Finds a corpus's audio files: a folder searched recursively, an LJSpeech-style folder
// (metadata.csv + wavs/), or a text file listing paths. Each file gets a unique utterance id.
#pragma once
#include <string>
#include <vector>

namespace diffwave::prep {

struct InputFile {
  std::string path;     // as it will be opened (absolute or relative to the working directory)
  std::string id;       // unique within the corpus; decides the train/validation split
  std::string problem;  // non-empty: rejected before decoding ("code: detail")
};

struct Corpus {
  std::string kind;  // "folder", "ljspeech" or "list"
  std::vector<InputFile> files;  // sorted by path (bytes), so every rank sees the same order
};

// Extensions searched in folders, compared case-insensitively.
bool has_audio_extension(const std::string& path);

// Throws Error naming `input` when it does not exist or cannot be listed.
Corpus discover_corpus(const std::string& input);

}  // namespace diffwave::prep
