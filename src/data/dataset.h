// One split (train or validation) of a prepared corpus: the manifest's shards opened for
// reading, with every utterance addressable by one index. Only the loader thread reads it
// (libhdf5 is not thread-safe). No LibTorch here.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/config.h"
#include "data/shard_reader.h"

namespace diffwave {

class Dataset {
 public:
  // prep_dir: diffwave-prep's output (manifest.json + shards/). Throws DataError naming the file
  // on a missing manifest or a shard made with other audio parameters than `config`.
  Dataset(const std::string& prep_dir, const Config& config, bool validation);

  size_t size() const { return items_.size(); }
  const std::string& id(size_t i) const;
  int64_t frames(size_t i) const;
  int64_t samples(size_t i) const;

  // audio: frames * hop samples starting at frame `offset`; mel (if not null): [n_mels, frames].
  void read_crop(size_t i, int64_t offset, int64_t frames, float* audio, float* mel) const;
  // Unconditional data: `count` samples from sample `offset`.
  void read_samples(size_t i, int64_t offset, int64_t count, float* audio) const;
  // The whole utterance, for validation audio in TensorBoard.
  std::vector<float> audio(size_t i) const;

 private:
  struct Item {
    size_t shard, index;
  };
  std::vector<std::unique_ptr<ShardReader>> shards_;
  std::vector<Item> items_;
  int hop_, n_mels_;
};

}  // namespace diffwave
