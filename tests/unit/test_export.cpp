// diffwave-export's library: our checkpoint -> lmnt .pt -> our checkpoint keeps every weight bit
// for bit and the architecture; lmnt's params map onto our config; unreadable files say how to
// make a plain copy.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "common/config.h"
#include "common/error.h"
#include "interop/lmnt_export.h"
#include "interop/lmnt_import.h"
#include "interop/torch_pickle.h"
#include "checkpoint/checkpoint_model.h"
#include "support/prep_corpus.h"
#include "checkpoint/checkpoint_file.h"

using namespace diffwave;
using namespace diffwave::test;

namespace {

Checkpoint perturbed_checkpoint(const Config& config) {
  torch::manual_seed(3);
  auto model = make_model(config);
  Checkpoint ck;
  torch::NoGradGuard no_grad;
  for (const auto& p : model->named_parameters()) {
    ck.tensors["model/" + p.key()] = p.value() + 0.05 * torch::randn(p.value().sizes());
    ck.tensors["ema/" + p.key()] = p.value() - 0.05 * torch::randn(p.value().sizes());
  }
  ck.metadata = {{"step", "42"}, {"config", config.to_yaml()}};
  return ck;
}

}  // namespace

TEST(Export, RoundTripIsBitIdentical) {
  TempDir dir;
  auto config = Config::load(source_path("configs/tiny.yaml"), {"model.upsample_factors=[8,32]"});
  const auto ck = perturbed_checkpoint(config);
  write_checkpoint(dir / "ck.safetensors", ck);
  for (bool ema : {false, true}) {
    export_lmnt(dir / "ck.safetensors", ema, dir / "m.pt");
    const auto back = import_lmnt(dir / "m.pt", std::nullopt);
    const auto stored = Config::from_yaml(back.meta("config"), "imported");
    EXPECT_EQ(stored.model.residual_channels, 16);
    EXPECT_EQ(stored.model.residual_layers, 6);
    EXPECT_EQ(stored.model.dilation_cycle_length, 3);
    EXPECT_EQ(stored.model.upsample_factors, (std::vector<int>{8, 32}));  // read from the kernel widths
    EXPECT_EQ(stored.diffusion.noise_schedule.betas, config.diffusion.noise_schedule.betas);
    EXPECT_EQ(stored.diffusion.inference_noise_schedule.betas, config.diffusion.inference_noise_schedule.betas);
    EXPECT_EQ(stored.train.crop_mel_frames, config.train.crop_mel_frames);
    EXPECT_EQ(back.meta("imported_step"), "42");
    size_t compared = 0;
    for (const auto& [name, t] : ck.tensors) {
      if (name.rfind(ema ? "ema/" : "model/", 0) != 0) continue;
      const auto key = name.substr(name.find('/') + 1);
      EXPECT_TRUE(torch::equal(back.tensor("model/" + key), t)) << key;
      EXPECT_TRUE(torch::equal(back.tensor("ema/" + key), t)) << key;
      EXPECT_EQ(back.tensor("adam/exp_avg/" + key).abs().max().item<float>(), 0.0f);
      ++compared;
    }
    EXPECT_EQ(compared, make_model(config)->named_parameters().size());
    // The imported checkpoint loads as a model like any other.
    write_checkpoint(dir / "back.safetensors", back);
    EXPECT_NO_THROW(load_checkpoint_model(dir / "back.safetensors", true));
  }
}

TEST(Export, ParamsHoldEveryKeyLmntReads) {
  const auto params = lmnt_params(Config::load(source_path("configs/base.yaml")));
  for (const char* key : {"batch_size", "learning_rate", "max_grad_norm", "sample_rate", "n_mels", "n_fft",
                          "hop_samples", "crop_mel_frames", "residual_layers", "residual_channels",
                          "dilation_cycle_length", "unconditional", "noise_schedule", "inference_noise_schedule",
                          "audio_len"})
    EXPECT_TRUE(params.contains(key)) << key;
  EXPECT_EQ(params.at("residual_channels").toInt(), 64);
  EXPECT_EQ(params.at("noise_schedule").toListRef().size(), 50u);
}

TEST(Export, ImportWithAConfigThatDoesNotFitNamesTheWeight) {
  TempDir dir;
  const auto tiny = Config::load(source_path("configs/tiny.yaml"));
  write_checkpoint(dir / "ck.safetensors", perturbed_checkpoint(tiny));
  export_lmnt(dir / "ck.safetensors", false, dir / "m.pt");
  try {
    import_lmnt(dir / "m.pt", source_path("configs/base.yaml"));
    FAIL() << "a tiny model imported as BASE";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("configs/base.yaml"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("m.pt"), std::string::npos) << e.what();
  }
}

TEST(Export, AnUnreadableFileGetsThePythonStep) {
  TempDir dir;
  std::ofstream(dir / "weights.pt") << "not a torch.save file";
  try {
    import_lmnt(dir / "weights.pt", std::nullopt);
    FAIL() << "garbage imported";
  } catch (const std::exception& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("weights.pt"), std::string::npos) << what;
    EXPECT_NE(what.find("dict(c['params'])"), std::string::npos) << what;
    EXPECT_NE(what.find("weights_plain.pt"), std::string::npos) << what;
    // weights_only=False unpickles with Python's pickle, which runs code the file names.
    EXPECT_NE(what.find("runs code from the file"), std::string::npos) << what;
    EXPECT_NE(what.find("only for files you trust"), std::string::npos) << what;
  }
}

// A pickle may declare any shape over a storage record of any size: a record smaller than its
// tensor must be refused before a byte of it is read.
TEST(Export, AStorageSmallerThanItsTensorIsRefusedNamingTheWeight) {
  TempDir dir;
  const auto tiny = Config::load(source_path("configs/tiny.yaml"));
  std::map<std::string, at::Tensor> state;
  for (const auto& p : make_model(tiny)->named_parameters()) state[p.key()] = p.value().detach().clone();
  const std::string name = "output_projection.weight";
  auto lying = torch::zeros({1});  // a 4-byte record ...
  lying.unsafeGetTensorImpl()->set_sizes_contiguous(state.at(name).sizes());  // ... claiming the weight's shape
  state[name] = lying;
  const auto bytes = lmnt_weights_bytes(state, tiny, 0);
  std::ofstream(dir / "lying.pt", std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  try {
    import_lmnt(dir / "lying.pt", std::nullopt);
    FAIL() << "a tensor larger than its storage was imported";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("lying.pt"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'" + name + "'"), std::string::npos) << e.what();
  }
}
