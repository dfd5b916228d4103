// Shard format v1: writer/reader round trip, refusal of a shard made with other parameters,
// mel parity of diffwave-prep's output with the lmnt recipe, and a check of the layout by h5py.
#include "audio/mel.h"
#include "common/error.h"
#include "data/manifest.h"
#include "data/shard_format.h"
#include "data/shard_reader.h"
#include "data/shard_writer.h"
#include "support/prep_corpus.h"

using namespace diffwave;
using diffwave::test::TempDir;

namespace {

namespace fs = std::filesystem;

// The mel MelSpectrogram computes for `samples`, as [frames, n_mels] like a shard stores it.
std::vector<float> recipe_mel(const std::vector<float>& samples, const AudioConfig& audio) {
  auto x = torch::tensor(samples);
  auto mel = MelSpectrogram(audio)(x).t().contiguous();
  return std::vector<float>(mel.data_ptr<float>(), mel.data_ptr<float>() + mel.numel());
}

torch::Tensor as_tensor(const std::vector<float>& v) { return torch::tensor(v); }

}  // namespace

TEST(Shard, WriterReaderRoundTrip) {
  TempDir dir;
  Config c;
  for (const std::string dtype : {"int16", "float32"}) {
    c.prep.audio_dtype = dtype;
    const auto path = dir / (dtype + ".h5");
    std::vector<std::vector<float>> utterances;
    {
      ShardWriter w(path, c.audio, c.prep);
      for (unsigned i = 0; i < 3; ++i) {
        auto x = test::test_tone(0.5 + 0.25 * i, 22050, i);
        if (dtype == "int16")
          for (auto& v : x) v = from_pcm16(to_pcm16(v));
        const auto mel = recipe_mel(x, c.audio);
        w.add("utt" + std::to_string(i), x, mel.data(), mel_frames_for(int64_t(x.size()), 256), i == 1);
        utterances.push_back(x);
      }
      w.finish();
    }
    ShardReader r(path, c.audio);
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r.audio_dtype(), dtype);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(r.ids()[i], "utt" + std::to_string(i));
      EXPECT_EQ(r.is_validation(i), i == 1);
      EXPECT_EQ(r.audio(i), utterances[i]) << dtype << " " << i;  // exact
      EXPECT_EQ(r.mel(i), recipe_mel(utterances[i], c.audio));
      EXPECT_EQ(r.mel_frames(i), int64_t(utterances[i].size()) / 256 + 1);
      // A crop reads only its part, and matches the whole utterance's values.
      const auto part = r.audio(i, 300, 1000);
      EXPECT_EQ(part, std::vector<float>(utterances[i].begin() + 300, utterances[i].begin() + 1300));
      const auto whole_mel = r.mel(i);
      EXPECT_EQ(r.mel(i, 2, 5), std::vector<float>(whole_mel.begin() + 2 * 80, whole_mel.begin() + 7 * 80));
      EXPECT_THROW(r.audio(i, r.audio_length(i) - 10, 11), DataError);
      EXPECT_THROW(r.mel(i, -1, 2), DataError);
    }
  }
}

TEST(Shard, ReaderRefusesOtherParametersNamingBoth) {
  TempDir dir;
  Config c;
  {
    ShardWriter w(dir / "s.h5", c.audio, c.prep);
    const auto x = test::test_tone(0.5, 22050, 1);
    const auto mel = recipe_mel(x, c.audio);
    w.add("a", x, mel.data(), mel_frames_for(int64_t(x.size()), 256), false);
    w.finish();
  }
  AudioConfig other = c.audio;
  other.n_mels = 64;
  try {
    ShardReader r(dir / "s.h5", other, "my.yaml");
    FAIL() << "accepted a shard with 80 mels under a 64-mel config";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("n_mels = 80"), std::string::npos) << msg;
    EXPECT_NE(msg.find("audio.n_mels = 64"), std::string::npos) << msg;
    EXPECT_NE(msg.find("my.yaml"), std::string::npos) << msg;
    EXPECT_NE(msg.find("s.h5"), std::string::npos) << msg;
  }
  other = c.audio;
  other.sample_rate = 24000;
  EXPECT_THROW(ShardReader(dir / "s.h5", other), DataError);
}

TEST(Shard, PrepMelMatchesTheRecipeAndTheLmntFixture) {
  TempDir dir;
  fs::create_directories(dir / "in");
  fs::copy_file(test::source_path("tests/fixtures/speech_22050.wav"), dir / "in/speech.wav");
  // A float file off the int16 grid: the shard's mel must follow the rounded audio it stores.
  auto x = test::test_tone(1.5, 22050, 3, 0.001f);
  write_wav(dir / "in/quiet_float.wav", x.data(), x.size(), 22050, WavFormat::float32);
  ASSERT_EQ(test::run_prep("--input " + dir / "in" + " --output " + dir / "out").status, 0);
  const auto m = Manifest::load(dir / "out/manifest.json");
  ASSERT_EQ(m.shards.size(), 1u);
  ShardReader shard(dir / ("out/" + m.shards[0].path), m.audio);
  ASSERT_EQ(shard.size(), 2u);

  for (size_t i = 0; i < shard.size(); ++i) {
    const auto audio = shard.audio(i);
    EXPECT_TRUE(test::AbsolutelyClose(as_tensor(shard.mel(i)), as_tensor(recipe_mel(audio, m.audio)), 1e-6))
        << shard.ids()[i];
  }
  const size_t speech = shard.ids()[0] == "speech" ? 0 : 1;
  const auto fixture = H5File::open(test::source_path("tests/fixtures/lmnt_reference.h5"));
  const auto expected = test::read_tensor(fixture, "/mel/spectrogram");  // [80, frames]
  const auto got = as_tensor(shard.mel(speech)).reshape({shard.mel_frames(speech), 80}).t();
  EXPECT_TRUE(test::AbsolutelyClose(got, expected, 1e-4));
  EXPECT_TRUE(test::AbsolutelyClose(as_tensor(shard.audio(speech)), test::read_tensor(fixture, "/mel/audio"), 0.0));
}

TEST(Shard, H5pyReadsTheDocumentedLayout) {
  if (const auto why = test::reference_python_lacks("h5py, numpy"); !why.empty()) GTEST_SKIP() << why;
  const std::string python = test::reference_python();
  TempDir dir;
  fs::create_directories(dir / "in");
  for (unsigned i = 0; i < 3; ++i) test::write_tone(dir / ("in/é" + std::to_string(i) + ".wav"), 1.0, i);
  ASSERT_EQ(test::run_prep("--input " + dir / "in" + " --output " + dir / "out").status, 0);
  const auto r = test::run_command(python + " " + test::source_path("tests/reference/check_shard.py") + " " +
                                   dir / "out/shards/shard-r0000-00000.h5 --manifest " + dir / "out/manifest.json");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("3 utterances"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("'é0'"), std::string::npos) << r.output;  // UTF-8 ids survive
  std::printf("%s", r.output.c_str());
}
