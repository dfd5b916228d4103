// What diffwave-sample conditions on: the utterances of a prepared corpus (their stored mels;
// their stored audio is the reference for the metrics), a folder of audio files (copy synthesis: the mel of each file, which is also the reference for
// the metrics), or nothing (unconditional samples).
#pragma once
#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "sample/batches.h"

namespace diffwave {

class ProcessGroup;
class MelSpectrogram;

class SampleInputs {
 public:
  virtual ~SampleInputs() = default;
  const std::vector<SampleItem>& items() const { return items_; }
  // Item i's mel [n_mels, frames] (float, CPU); undefined for unconditional items.
  virtual at::Tensor mel(size_t i) const = 0;
  // Item i's original audio [samples], the metrics' reference; undefined when there is none.
  virtual at::Tensor reference(size_t i) const { return {}; }
  // Lines worth telling the user (inputs skipped and why).
  const std::vector<std::string>& notes() const { return notes_; }
  // The files the inputs are read from, which no output may replace.
  const std::vector<std::string>& sources() const { return sources_; }

 protected:
  std::vector<SampleItem> items_;
  std::vector<std::string> notes_, sources_;
};

// Every utterance of prep_dir's manifest (split "" ), or those of split "train" / "valid".
// Throws DataError naming the manifest or shard when they do not match `config`.
std::unique_ptr<SampleInputs> shard_inputs(const std::string& prep_dir, const std::string& split, const Config& config);

// An audio file for copy synthesis; `problem` non-empty: skip it and say why.
struct AudioInput {
  std::string path, id, problem;
};

// Audio files (the app finds them and their ids as diffwave-prep does), read at the config's rate, clamped and rounded to int16 as diffwave-prep stores them, so
// the mel equals the one a shard would hold. Lengths are measured once, spread over the ranks.
std::unique_ptr<SampleInputs> wav_inputs(const std::vector<AudioInput>& files, const Config& config, ProcessGroup& group);

// `count` items "sample_00000", ... of train.audio_len samples.
std::unique_ptr<SampleInputs> unconditional_inputs(int64_t count, const Config& config);

}  // namespace diffwave
