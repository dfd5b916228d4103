#include "sample/sample_inputs.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "audio/audio_io.h"
#include "audio/mel.h"
#include "common/error.h"
#include "data/manifest.h"
#include "data/shard_format.h"
#include "data/shard_reader.h"
#include "distributed/process_group.h"

namespace fs = std::filesystem;

namespace diffwave {
namespace {

std::string one_line(std::string text) {  // for the tab-separated lines the ranks exchange
  std::replace_if(text.begin(), text.end(), [](char c) { return c == '\n' || c == '\t'; }, ' ');
  return text;
}

class ShardInputs : public SampleInputs {
 public:
  ShardInputs(const std::string& prep_dir, const std::string& split, const Config& config) {
    if (!split.empty() && split != "train" && split != "valid")
      throw ConfigError(fmt::format("--split '{}': expected train or valid", split));
    const auto manifest_path = (fs::path(prep_dir) / "manifest.json").string();
    const auto manifest = Manifest::load(manifest_path);
    sources_.push_back(manifest_path);
    for (const auto& s : manifest.shards) {
      const auto path = (fs::path(prep_dir) / s.path).string();
      sources_.push_back(path);
      shards_.push_back(std::make_unique<ShardReader>(path, config.audio, "the checkpoint's config"));
      const auto& r = *shards_.back();
      for (size_t i = 0; i < r.size(); ++i) {
        if (!split.empty() && r.is_validation(i) != (split == "valid")) continue;
        items_.push_back({r.ids()[i], r.mel_frames(i)});
        where_.push_back({shards_.size() - 1, i});
      }
    }
    n_mels_ = config.audio.n_mels;
    if (items_.empty())
      throw DataError(fmt::format("{}: no utterances{}", manifest_path, split.empty() ? "" : " in split " + split));
  }

  at::Tensor mel(size_t i) const override {
    const auto [shard, index] = where_.at(i);
    auto values = shards_[shard]->mel(index);  // [frames, n_mels] row-major
    const int64_t frames = static_cast<int64_t>(values.size()) / n_mels_;
    return at::from_blob(values.data(), {frames, n_mels_}, at::kFloat).t().contiguous();
  }

  // The stored audio the mel was made from: vocoding a prepared split is scored like copy synthesis.
  at::Tensor reference(size_t i) const override {
    const auto [shard, index] = where_.at(i);
    auto values = shards_[shard]->audio(index);
    return at::from_blob(values.data(), {static_cast<int64_t>(values.size())}, at::kFloat).clone();
  }

 private:
  std::vector<std::unique_ptr<ShardReader>> shards_;
  std::vector<std::pair<size_t, size_t>> where_;
  int64_t n_mels_ = 0;
};

class WavInputs : public SampleInputs {
 public:
  WavInputs(const std::vector<AudioInput>& files, const Config& config, ProcessGroup& group)
      : sample_rate_(config.audio.sample_rate), hop_(config.audio.hop_samples), mel_(config.audio) {
    for (const auto& f : files) sources_.push_back(f.path);
    // Each rank decodes every world-th file to learn its length; the lengths are then shared.
    std::ostringstream mine;
    for (size_t i = static_cast<size_t>(group.rank()); i < files.size(); i += static_cast<size_t>(group.size())) {
      const auto& f = files[i];
      if (!f.problem.empty()) {
        mine << i << "\tskip\t" << one_line(f.problem) << "\n";
        continue;
      }
      try {
        const int64_t n = load(f.path).size(0);
        // The centred STFTs reflect half a window at each end: the mel's, and the 2048-point one of the metrics.
        const int64_t shortest = std::max<int64_t>(config.audio.n_fft / 2, 1024) + 1;
        if (n < shortest)
          mine << i << "\tskip\ttoo short: " << n << " samples, copy synthesis needs " << shortest << "\n";
        else
          mine << i << "\tok\t" << n << "\n";
      } catch (const Error& e) {
        mine << i << "\tskip\t" << one_line(e.what()) << "\n";
      }
      group.progress();
    }
    std::vector<std::string> lines;
    for (const auto& part : group.allgather_text(mine.str(), "input lengths")) {
      std::istringstream in(part);
      for (std::string line; std::getline(in, line);) lines.push_back(line);
    }
    std::vector<std::pair<size_t, std::string>> parsed;
    for (const auto& line : lines) {
      const auto t1 = line.find('\t');
      parsed.emplace_back(std::stoull(line.substr(0, t1)), line.substr(t1 + 1));
    }
    std::sort(parsed.begin(), parsed.end());
    for (const auto& [i, rest] : parsed) {
      const auto& f = files[i];
      const auto tab = rest.find('\t');
      if (rest.substr(0, tab) != "ok") {
        notes_.push_back(fmt::format("skipped {}: {}", f.path, rest.substr(tab + 1)));
        continue;
      }
      const int64_t samples = std::stoll(rest.substr(tab + 1));
      items_.push_back({f.id, samples / hop_ + 1});  // the centred STFT's frame count
      paths_.push_back(f.path);
    }
    if (items_.empty()) throw DataError("copy synthesis: none of the audio files could be read");
  }

  at::Tensor mel(size_t i) const override { return mel_(load(paths_.at(i))); }
  at::Tensor reference(size_t i) const override { return load(paths_.at(i)); }

 private:
  // As diffwave-prep stores it: resampled, clamped, rounded to the int16 grid.
  at::Tensor load(const std::string& path) const {
    auto audio = load_audio(path, sample_rate_);
    for (auto& x : audio.samples) x = from_pcm16(to_pcm16(std::clamp(x, -1.0f, 1.0f)));
    return at::tensor(audio.samples, at::kFloat);
  }
  int sample_rate_, hop_;
  MelSpectrogram mel_;
  std::vector<std::string> paths_;
};

class UnconditionalInputs : public SampleInputs {
 public:
  UnconditionalInputs(int64_t count, const Config& config) {
    if (count <= 0) throw ConfigError(fmt::format("--num-samples must be positive, not {}", count));
    for (int64_t k = 0; k < count; ++k) items_.push_back({fmt::format("sample_{:05d}", k), config.train.audio_len});
  }
  at::Tensor mel(size_t) const override { return {}; }
};

}  // namespace

std::unique_ptr<SampleInputs> shard_inputs(const std::string& prep_dir, const std::string& split, const Config& config) {
  return std::make_unique<ShardInputs>(prep_dir, split, config);
}
std::unique_ptr<SampleInputs> wav_inputs(const std::vector<AudioInput>& files, const Config& config, ProcessGroup& group) {
  return std::make_unique<WavInputs>(files, config, group);
}
std::unique_ptr<SampleInputs> unconditional_inputs(int64_t count, const Config& config) {
  return std::make_unique<UnconditionalInputs>(count, config);
}

}  // namespace diffwave
