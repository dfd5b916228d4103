// diffwave-sample and diffwave-export end to end on CPU: identical files from 1 and 2 ranks,
// batching, copy synthesis metrics, unconditional samples, lmnt's own DiffWave running an
// exported model, and fine-tuning imported weights. The SampleMpi suite trains one tiny model
// for one step (ctest runs each test in its own process, so keep that set-up short).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "audio/audio_io.h"
#include "interop/torch_pickle.h"
#include "checkpoint/checkpoint_model.h"
#include "support/prep_corpus.h"
#include "checkpoint/checkpoint_file.h"

namespace fs = std::filesystem;
using namespace diffwave;
using namespace diffwave::test;

namespace {

class SampleMpi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    corpus_ = new TempDir();
    fs::create_directories(*corpus_ / "wavs");
    // Three lengths, so that batches of equal lengths form.
    for (unsigned i = 0; i < 8; ++i) write_tone(*corpus_ / ("wavs/utt" + std::to_string(100 + i) + ".wav"), 0.6 + 0.05 * (i % 3), i);
    auto r = run_prep("--input " + *corpus_ / "wavs" + " --output " + *corpus_ / "prep" + " --config " +
                      source_path("configs/tiny.yaml") + " --set prep.validation_fraction=0.15");
    ASSERT_EQ(r.status, 0) << r.output;
    r = run_command(bin_path("diffwave-train") + " --config " + source_path("configs/tiny.yaml") + " --data " +
                    *corpus_ / "prep" + " --run-dir " + *corpus_ / "run" +
                    " --max-steps 1 --log-interval 1 --set train.validation_interval=0 --set train.quality_interval=0");
    ASSERT_EQ(r.status, 0) << r.output;
  }
  static void TearDownTestSuite() {
    delete corpus_;
    corpus_ = nullptr;
  }
  static std::string mpirun(int ranks) {
    return ranks <= 1 ? std::string()
                      : "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np " + std::to_string(ranks) +
                            " --oversubscribe --bind-to none ";
  }
  static CommandResult sample(int ranks, const std::string& args) {
    return run_command(mpirun(ranks) + bin_path("diffwave-sample") + " " + args);
  }
  static std::string run_dir() { return *corpus_ / "run"; }
  static std::string prep_dir() { return *corpus_ / "prep"; }
  static std::string wav_dir() { return *corpus_ / "wavs"; }

  static TempDir* corpus_;
  TempDir out_;
};
TempDir* SampleMpi::corpus_ = nullptr;

std::vector<std::string> wav_names(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".wav") names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Both folders hold the same WAV files, byte for byte; returns their names.
std::vector<std::string> expect_identical_wavs(const std::string& a, const std::string& b) {
  const auto names = wav_names(a);
  EXPECT_EQ(names, wav_names(b));
  for (const auto& name : names)
    EXPECT_EQ(run_command("cmp " + a + "/" + name + " " + b + "/" + name).status, 0) << name;
  return names;
}

}  // namespace

TEST_F(SampleMpi, OneAndTwoRanksWriteIdenticalFilesAndBatchingChangesNothing) {
  // Chunks of 0.3 s (26 frames) cut every utterance into windows, so they are covered as well.
  const std::string args = " --checkpoint " + run_dir() + " --mel " + prep_dir() + " --chunk-seconds 0.3 --seed 9";
  auto one = sample(1, args + " --batch 2 --output " + out_ / "np1");
  ASSERT_EQ(one.status, 0) << one.output;
  auto two = sample(2, args + " --batch 2 --output " + out_ / "np2");
  ASSERT_EQ(two.status, 0) << two.output;
  EXPECT_NE(two.output.find("rank 1:"), std::string::npos) << two.output;
  EXPECT_NE(two.output.find("total: 8 files"), std::string::npos) << two.output;
  EXPECT_NE(two.output.find("real-time factor"), std::string::npos) << two.output;
  const auto names = expect_identical_wavs(out_ / "np1", out_ / "np2");
  ASSERT_EQ(names.size(), 8u);
  // Three batches in flight at once (--streams): the same bytes again.
  auto concurrent = sample(1, args + " --batch 2 --streams 3 --output " + out_ / "streams3");
  ASSERT_EQ(concurrent.status, 0) << concurrent.output;
  EXPECT_EQ(expect_identical_wavs(out_ / "np1", out_ / "streams3"), names);
  // Batches of 2 (three lengths: 3 + 3 + 2 utterances) give the audio of one by one, up to an int16 step.
  auto single = sample(1, args + " --batch 1 --output " + out_ / "b1");
  ASSERT_EQ(single.status, 0) << single.output;
  EXPECT_NE(one.output.find("in 5 batches"), std::string::npos) << one.output;
  double worst = 0;
  for (const auto& name : names) {
    const auto a = read_audio(out_ / ("b1/" + name)).samples, b = read_audio(out_ / ("np1/" + name)).samples;
    ASSERT_EQ(a.size(), b.size()) << name;
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, double(std::abs(a[i] - b[i])));
  }
  EXPECT_LE(worst, 2.0 / 32768) << "batched and one-by-one differ by more than an int16 step";
  // Another seed gives other audio.
  auto other = sample(1, " --checkpoint " + run_dir() + " --mel " + prep_dir() + " --split valid --seed 10 --output " + out_ / "seed10");
  ASSERT_EQ(other.status, 0) << other.output;
  for (const auto& name : wav_names(out_ / "seed10"))
    EXPECT_NE(run_command("cmp -s " + out_ / ("np1/" + name) + " " + out_ / ("seed10/" + name)).status, 0) << name;
}

TEST_F(SampleMpi, ConcurrentCopySynthesisWritesTheSameMetrics) {
  const std::string copy = " --checkpoint " + run_dir() + " --wav " + wav_dir() + " --chunk-seconds 0.3";
  ASSERT_EQ(sample(1, copy + " --output " + out_ / "copy1").status, 0);
  ASSERT_EQ(sample(1, copy + " --streams 3 --output " + out_ / "copy3").status, 0);
  EXPECT_EQ(run_command("cmp " + out_ / "copy1/metrics.tsv " + out_ / "copy3/metrics.tsv").status, 0);
  auto bad = sample(1, copy + " --streams 0 --output " + out_ / "streams0");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("--streams"), std::string::npos) << bad.output;
}

TEST_F(SampleMpi, CopySynthesisWritesMetrics) {
  auto r = sample(2, " --checkpoint " + run_dir() + " --wav " + wav_dir() + " --output " + out_ / "copy");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("copy synthesis, 8 files: mean log-mel L1"), std::string::npos) << r.output;
  std::ifstream in(out_ / "copy/metrics.tsv");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_EQ(lines[0], "id\tlog_mel_l1_db\tmr_stft\tspectral_convergence\tlog_magnitude_l1\tenvelope_correlation\t"
                      "mr_stft_quarter_hop\tmcd_db\tlog_f0_rmse_cents\tvuv_error");
  EXPECT_EQ(lines[1].substr(0, 7), "utt100\t");
  EXPECT_EQ(lines[9].substr(0, 5), "mean\t");
  for (unsigned i = 0; i < 8; ++i) {  // as long as the originals
    const auto name = "utt" + std::to_string(100 + i) + ".wav";
    EXPECT_EQ(probe_audio(out_ / ("copy/" + name)).frames, probe_audio(wav_dir() + "/" + name).frames) << name;
  }
}

// Width and height from a PNG file's IHDR chunk; {0, 0} when the file is not a PNG.
std::pair<uint32_t, uint32_t> png_size(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string head(24, '\0');
  if (!in.read(head.data(), 24) || head.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0 || head.compare(12, 4, "IHDR") != 0)
    return {0, 0};
  auto be32 = [&](size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(head[at + i]);
    return v;
  };
  return {be32(16), be32(20)};
}

// A prepared split is scored against its stored audio like copy synthesis; --spectrograms draws
// each output above its original; --weights picks the EMA (default) or the trained weights.
TEST_F(SampleMpi, PreparedSplitIsScoredAndDrawnWithTheChosenWeights) {
  const std::string args = " --checkpoint " + run_dir() + " --mel " + prep_dir() + " --split valid --spectrograms";
  auto ema = sample(2, args + " --output " + out_ / "ema");
  ASSERT_EQ(ema.status, 0) << ema.output;
  EXPECT_NE(ema.output.find("(step 1, EMA weights)"), std::string::npos) << ema.output;
  auto raw = sample(1, args + " --weights raw --output " + out_ / "raw");
  ASSERT_EQ(raw.status, 0) << raw.output;
  EXPECT_NE(raw.output.find("(step 1, trained weights)"), std::string::npos) << raw.output;
  const auto names = wav_names(out_ / "ema");
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names, wav_names(out_ / "raw"));
  for (const auto& name : names) {
    EXPECT_NE(run_command("cmp -s " + out_ / ("ema/" + name) + " " + out_ / ("raw/" + name)).status, 0)
        << name << ": the EMA and the trained weights gave the same audio";
    const auto stem = name.substr(0, name.size() - 4);
    const auto frames = static_cast<uint32_t>(probe_audio(out_ / ("ema/" + name)).frames / 256 + 1);
    // Two 80-mel pictures, each row drawn twice, a 2-pixel line between them; a frame per column.
    EXPECT_EQ(png_size(out_ / ("ema/" + stem + ".png")), std::make_pair(frames, uint32_t{2 * 80 * 2 + 2})) << stem;
  }
  std::ifstream in(out_ / "ema/metrics.tsv");
  size_t lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  EXPECT_EQ(lines, names.size() + 2) << "a header, a row per utterance and the mean";
  auto bad = sample(1, args + " --weights best --output " + out_ / "bad");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("--weights"), std::string::npos) << bad.output;
}

// Needs no corpus and no training: a checkpoint of an unconditional model with perturbed weights.
TEST(SampleUnconditional, WritesKFilesOfAudioLen) {
  TempDir out_;
  auto config = Config::load(source_path("configs/tiny.yaml"), {"model.unconditional=true", "train.audio_len=3000"});
  torch::manual_seed(1);
  auto model = make_model(config);
  Checkpoint ck;
  for (const auto& p : model->named_parameters()) {
    ck.tensors["model/" + p.key()] = p.value().detach() + 0.05 * torch::randn(p.value().sizes());
    ck.tensors["ema/" + p.key()] = ck.tensors["model/" + p.key()];
  }
  ck.metadata = {{"step", "0"}, {"config", config.to_yaml()}};
  write_checkpoint(out_ / "unc.safetensors", ck);
  auto sample = [](int ranks, const std::string& args) {
    return run_command((ranks > 1 ? "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np " +
                                        std::to_string(ranks) + " --oversubscribe --bind-to none "
                                  : std::string()) +
                       bin_path("diffwave-sample") + " " + args);
  };
  auto r = sample(2, " --checkpoint " + out_ / "unc.safetensors" + " --unconditional --num-samples 3 --weights ema --chunk-seconds 0.05 --output " +
                         out_ / "unc");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(wav_names(out_ / "unc"), (std::vector<std::string>{"sample_00000.wav", "sample_00001.wav", "sample_00002.wav"}));
  for (const auto& name : wav_names(out_ / "unc")) EXPECT_EQ(probe_audio(out_ / ("unc/" + name)).frames, 3000) << name;
  // The mode must match the model.
  auto wrong = sample(1, " --checkpoint " + out_ / "unc.safetensors" + " --mel " + out_ / "no-such-prep" + " --output " + out_ / "x");
  EXPECT_NE(wrong.status, 0);
  EXPECT_NE(wrong.output.find("unconditional"), std::string::npos) << wrong.output;
}

TEST_F(SampleMpi, LmntRunsTheExportedModel) {
  if (const auto why = reference_python_lacks("diffwave.model"); !why.empty()) GTEST_SKIP() << why;
  const std::string python = reference_python();
  auto r = run_command(bin_path("diffwave-export") + " --checkpoint " + run_dir() + " --output " + out_ / "m.pt");
  ASSERT_EQ(r.status, 0) << r.output;
  torch::manual_seed(5);
  const int64_t frames = 12, length = frames * 256;
  const auto audio = torch::randn({2, length}), mel = torch::rand({2, 80, frames});
  const auto steps = torch::tensor({3, 41}, torch::kLong);
  c10::impl::GenericDict inputs(c10::StringType::get(), c10::TensorType::get());
  inputs.insert("audio", audio);
  inputs.insert("mel", mel);
  inputs.insert("steps", steps);
  torch_save_file(inputs, out_ / "inputs.pt");
  r = run_command(python + " " + source_path("tests/reference/check_export.py") + " " + out_ / "m.pt" + " " +
                  out_ / "inputs.pt" + " " + out_ / "outputs.pt");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto theirs = torch_load_file(out_ / "outputs.pt").toGenericDict().at("output").toTensor();
  auto loaded = load_checkpoint_model(run_dir(), /*ema=*/true);  // what the export writes by default
  torch::NoGradGuard no_grad;
  const auto ours = loaded.model->forward(audio, steps, mel);
  ASSERT_EQ(ours.sizes(), theirs.sizes());
  std::cout << "lmnt vs ours on the exported model: relative error " << relative_error(ours, theirs) << "\n";
  EXPECT_TRUE(RelativelyClose(ours, theirs, 1e-5));
}

TEST_F(SampleMpi, ImportedWeightsFineTuneAndSample) {
  auto r = run_command(bin_path("diffwave-export") + " --checkpoint " + run_dir() + " --output " + out_ / "m.pt");
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_command(bin_path("diffwave-export") + " --from-lmnt " + out_ / "m.pt" + " --output " + out_ / "ft");
  ASSERT_EQ(r.status, 0) << r.output;
  r = sample(1, " --checkpoint " + out_ / "ft" + " --mel " + prep_dir() + " --split valid --output " + out_ / "ftout");
  ASSERT_EQ(r.status, 0) << r.output;
  r = run_command(bin_path("diffwave-train") + " --config " + source_path("configs/tiny.yaml") + " --data " + prep_dir() +
                  " --run-dir " + out_ / "ft" + " --max-steps 1 --set train.validation_interval=0 --set train.quality_interval=0");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("resumed from"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(out_ / "ft/checkpoints/step-000000001.safetensors")) << r.output;
}

// Ids from a list are paths as written: an absolute one, or one with "..", named a file outside
// --output, which was the input itself. Outputs stay inside --output and never replace an input.
TEST_F(SampleMpi, OutputsStayInsideTheOutputFolderAndNeverReplaceAnInput) {
  fs::create_directories(out_ / "data");
  fs::create_directories(out_ / "lists");
  fs::copy_file(wav_dir() + "/utt100.wav", out_ / "data/a.wav");
  fs::copy_file(wav_dir() + "/utt101.wav", out_ / "data/b.wav");
  std::ofstream(out_ / "lists/list.txt") << out_ / "data/a.wav" << "\n../data/b.wav\n";
  const auto unchanged = [&] {
    return run_command("cmp " + wav_dir() + "/utt100.wav " + out_ / "data/a.wav").status == 0 &&
           run_command("cmp " + wav_dir() + "/utt101.wav " + out_ / "data/b.wav").status == 0;
  };
  const std::string args = " --checkpoint " + run_dir() + " --chunk-seconds 0 --wav ";
  auto r = sample(1, args + out_ / "lists/list.txt" + " --output " + out_ / "copy");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(unchanged()) << "an input was overwritten\n" << r.output;
  EXPECT_TRUE(fs::is_regular_file(out_ / "copy" + (out_ / "data/a.wav"))) << r.output;  // mirrored below --output
  EXPECT_TRUE(fs::is_regular_file(out_ / "copy/__/data/b.wav")) << r.output;
  // An output folder that holds the inputs: the outputs would be the inputs themselves.
  r = sample(2, args + out_ / "data" + " --output " + out_ / "data");
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("id 'a'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("is the input"), std::string::npos) << r.output;
  EXPECT_TRUE(unchanged()) << "an input was overwritten\n" << r.output;
}
