// Writes the generated seed corpora: fuzz_make_seeds OUT_DIR [SOURCE_DIR] makes OUT_DIR/<harness>/*.
// The committed seeds in fuzz/seeds/ came from this program (README.md); rerun it when a format
// changes. Small files only: libFuzzer's speed falls with input size.
#include <ATen/ATen.h>
#include <caffe2/serialize/in_memory_adapter.h>
#include <caffe2/serialize/inline_container.h>

#include <filesystem>
#include <fstream>
#include <sndfile.h>

#include <cmath>
#include <cstring>

#include "audio/audio_io.h"
#include "common/config.h"
#include "data/manifest.h"
#include "prep/done_record.h"
#include "interop/torch_pickle.h"
#include "checkpoint/checkpoint_model.h"
#include "checkpoint/checkpoint_file.h"

using namespace diffwave;
namespace fs = std::filesystem;

namespace {

fs::path out_root;

void put(const std::string& harness, const std::string& name, const std::string& bytes) {
  fs::create_directories(out_root / harness);
  std::ofstream(out_root / harness / name, std::ios::binary) << bytes;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<float> tone(size_t n, int channels = 1) {
  std::vector<float> x(n * static_cast<size_t>(channels));
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.3f * std::sin(0.05f * float(i / channels));
  return x;
}

// Any libsndfile format, written to a temporary file and read back as bytes.
void audio_seed(const std::string& name, int format, int rate, int channels, size_t frames) {
  const auto tmp = out_root / ("tmp-" + name);
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  SNDFILE* f = sf_open(tmp.c_str(), SFM_WRITE, &info);
  if (!f) {
    fprintf(stderr, "skipping %s: %s\n", name.c_str(), sf_strerror(nullptr));
    return;
  }
  const auto x = tone(frames, channels);
  sf_writef_float(f, x.data(), static_cast<sf_count_t>(frames));
  sf_close(f);
  put("fuzz_audio", name, slurp(tmp));
  fs::remove(tmp);
}

void audio_seeds(const fs::path& source) {
  audio_seed("pcm16.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 22050, 1, 1200);
  audio_seed("float.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 22050, 1, 700);
  audio_seed("stereo16k.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 2, 900);
  audio_seed("pcm24.wavex", SF_FORMAT_WAVEX | SF_FORMAT_PCM_24, 22050, 1, 700);
  audio_seed("u8.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 8000, 1, 600);
  audio_seed("ulaw.wav", SF_FORMAT_WAV | SF_FORMAT_ULAW, 8000, 1, 600);
  audio_seed("pcm16.aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 22050, 1, 1000);
  audio_seed("pcm16.au", SF_FORMAT_AU | SF_FORMAT_PCM_16, 44100, 1, 1200);
  audio_seed("pcm16.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 22050, 1, 1200);
  audio_seed("vorbis.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 22050, 1, 1200);
  audio_seed("pcm16.caf", SF_FORMAT_CAF | SF_FORMAT_PCM_16, 22050, 1, 700);
  // The fixture's first 0.06 s (real speech), and the same cut short of what its header says.
  Audio speech = read_audio((source / "tests/fixtures/speech_22050.wav").string());
  speech.samples.resize(1400);
  const auto tmp = out_root / "tmp-speech.wav";
  write_wav(tmp.string(), speech);
  const std::string wav = slurp(tmp);
  fs::remove(tmp);
  put("fuzz_audio", "speech_cut.wav", wav);
  put("fuzz_audio", "speech_truncated.wav", wav.substr(0, wav.size() - 300));
}

void checkpoint_seeds() {
  Checkpoint ck;
  ck.tensors["model/w"] = at::arange(6, at::kFloat).reshape({2, 3});
  ck.tensors["model/b"] = at::ones({2}, at::kDouble);
  ck.tensors["rng/cpu"] = at::arange(5, at::kByte);
  ck.tensors["steps"] = at::arange(3, at::kLong);
  ck.tensors["half"] = at::ones({2}, at::kHalf);
  ck.tensors["empty"] = at::empty({0, 3}, at::kFloat);
  ck.metadata = {{"step", "7"}, {"config", "audio:\n  n_mels: 4\n"}};
  const auto tmp = out_root / "tmp.safetensors";
  write_checkpoint(tmp.string(), ck);
  const std::string file = slurp(tmp);
  fs::remove(tmp);
  put("fuzz_checkpoint", "raw.bin", "R" + file);
  // The split form: header text, NUL, data.
  uint64_t length = 0;
  std::memcpy(&length, file.data(), 8);
  put("fuzz_checkpoint", "split.bin", file.substr(8, length) + std::string(1, '\0') + file.substr(8 + length));
  Checkpoint one;
  one.tensors["x"] = at::full({4}, 0.5f);
  write_checkpoint(tmp.string(), one);
  const std::string small = slurp(tmp);
  fs::remove(tmp);
  std::memcpy(&length, small.data(), 8);
  put("fuzz_checkpoint", "one.bin", small.substr(8, length) + std::string(1, '\0') + small.substr(8 + length));
}

// An lmnt-style file of a tiny model: {"model": state dict, "params": dict, "step": int}.
void lmnt_seed(const std::string& name, bool unconditional) {
  Config c;
  c.audio.hop_samples = 4;
  c.audio.n_mels = 4;
  c.audio.n_fft = 16;
  c.model.residual_channels = 2;
  c.model.residual_layers = 2;
  c.model.dilation_cycle_length = 1;
  c.model.upsample_factors = {2, 2};
  c.model.unconditional = unconditional;
  auto model = make_model(c);
  c10::impl::GenericDict state(c10::StringType::get(), c10::AnyType::get());
  for (const auto& p : model->named_parameters()) state.insert(p.key(), p.value().detach().clone());
  c10::impl::GenericDict params(c10::StringType::get(), c10::AnyType::get());
  params.insert("hop_samples", int64_t{4});
  params.insert("n_mels", int64_t{4});
  params.insert("n_fft", int64_t{16});
  params.insert("residual_channels", int64_t{2});
  params.insert("residual_layers", int64_t{2});
  params.insert("dilation_cycle_length", int64_t{1});
  params.insert("unconditional", unconditional);
  params.insert("noise_schedule", c10::List<double>({1e-4, 0.02, 0.05}));
  params.insert("inference_noise_schedule", c10::List<double>({1e-4, 0.05}));
  params.insert("learning_rate", 2e-4);
  params.insert("max_grad_norm", c10::IValue());
  c10::impl::GenericDict root(c10::StringType::get(), c10::AnyType::get());
  root.insert("model", state);
  root.insert("params", params);
  root.insert("step", int64_t{5});
  const auto bytes = torch_save_bytes(root);
  caffe2::serialize::PyTorchStreamReader reader(
      std::make_shared<caffe2::serialize::MemoryReadAdapter>(bytes.data(), bytes.size()));
  auto record = [&](const std::string& n) {
    auto [ptr, size] = reader.getRecord(n);
    return std::string(static_cast<const char*>(ptr.get()), size);
  };
  std::string out = record("data.pkl");
  // Records over 64 bytes as "#size=N" (fuzz_lmnt.cpp fills them in); small ones as they are.
  for (size_t i = 0; reader.hasRecord("data/" + std::to_string(i)); ++i) {
    const std::string r = record("data/" + std::to_string(i));
    out += "\n@@rec@@" + (r.size() > 64 ? "#size=" + std::to_string(r.size()) : r);
  }
  put("fuzz_lmnt", name, out);
}

void config_seeds(const fs::path& source) {
  for (const auto& e : fs::directory_iterator(source / "configs")) put("fuzz_config", e.path().filename().string(), slurp(e.path()));
  const std::string nul(1, '\0');
  put("fuzz_config", "sets.bin", "audio:\n  sample_rate: 16000\n" + nul + "train.batch_size=32" + nul + "audio.f_max=8000" + nul +
                                     "diffusion.noise_schedule={linear: {start: 1e-4, end: 0.05, steps: 50}}");
  put("fuzz_config", "only_sets.bin", nul + "model.upsample_factors=[8, 32]" + nul + "prep.min_frames=null" + nul + "train.lr_decay=cosine");
}

void manifest_seeds() {
  Manifest m;
  m.inputs_fingerprint = std::string(64, 'a');
  m.config_fingerprint = std::string(64, 'b');
  m.audio.win_length = 1024;
  m.audio.f_max = 11025;
  m.audio_dtype = "int16";
  m.compression = "none";
  m.validation_fraction = 0.05;
  m.validation_ids = {"LJ001-0001", "b/c"};
  m.shards = {{"shards/shard-r0000-00000.h5", std::string(64, 'c'), 1234, 3, 1, 0.01},
              {"shards/shard-r0001-00000.h5", std::string(64, 'd'), 99, 1, 0, 0.002}};
  m.inputs = 5;
  m.accepted = 4;
  m.warnings = 1;
  m.rejected = 1;
  const auto tmp = out_root / "tmp.json";
  m.save(tmp.string());
  put("fuzz_manifest", "manifest.json", slurp(tmp));
  fs::remove(tmp);
}

void done_record_seeds() {
  using namespace diffwave::prep;
  DoneBlock a;
  a.rounds_done = 2;
  a.shard = FinishedShard{"shard-r0000-00000.h5", std::string(64, 'e'), 10, 2, 1, 4096};
  a.results = {{0, Status::ok, "", std::string(64, 'f'), 2048}, {2, Status::warning, "clipped: 3 samples", std::string(64, '0'), 2048},
               {4, Status::rejected, "too-short: 0.01 s", "", 0}};
  DoneBlock tail;
  tail.rounds_done = 3;
  tail.results = {{6, Status::rejected, "not-audio: x", "", 0}};
  put("fuzz_done_record", "record.jsonl", to_json_line(a) + "\n" + to_json_line(tail) + "\n");
  put("fuzz_done_record", "torn.jsonl", to_json_line(a) + "\n" + to_json_line(tail).substr(0, 20));
  RankResults r;
  r.results = a.results;
  r.shards = {*a.shard};
  r.processed = 3;
  put("fuzz_done_record", "rank_results.json", encode(r));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s OUT_DIR [SOURCE_DIR]\n", argv[0]);
    return 2;
  }
  out_root = argv[1];
  const fs::path source = argc > 2 ? argv[2] : ".";
  fs::create_directories(out_root);
  audio_seeds(source);
  checkpoint_seeds();
  lmnt_seed("conditional.bin", false);
  lmnt_seed("unconditional.bin", true);
  config_seeds(source);
  manifest_seeds();
  done_record_seeds();
  put("fuzz_shard", "valid_baseline.bin", "");  // the builder's defaults: a valid shard
  put("fuzz_shard", "float32.bin", std::string(8, '\x01'));
  return 0;
}
