#include <gtest/gtest.h>
#include <torch/torch.h>

#include "audio/mel.h"
#include "common/config.h"
#include "support/fixtures.h"

using namespace diffwave;
using namespace diffwave::test;

TEST(Mel, MatchesTorchaudioRecipeOnRealSpeech) {
  auto file = H5File::open(source_path("tests/fixtures/lmnt_reference.h5"));
  auto audio = read_tensor(file, "/mel/audio");
  auto expected = read_tensor(file, "/mel/spectrogram");
  MelSpectrogram mel(AudioConfig{});
  auto got = mel(audio);
  // The bound is 1e-4 on the [0, 1] scale.
  EXPECT_TRUE(AbsolutelyClose(got, expected, 1e-4));
}

TEST(Mel, FrameCountIsFloorOverHopPlusOne) {
  MelSpectrogram mel(AudioConfig{});
  for (int64_t n : {256 * 10, 256 * 10 + 1, 256 * 10 + 255, 4000})
    EXPECT_EQ(mel(torch::zeros({n})).size(-1), n / 256 + 1) << n;
}

TEST(Mel, BatchedEqualsOneByOne) {
  MelSpectrogram mel(AudioConfig{});
  auto audio = torch::rand({3, 5000}) * 2 - 1;
  auto batch = mel(audio);
  ASSERT_EQ(batch.sizes(), (std::vector<int64_t>{3, 80, 5000 / 256 + 1}));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(torch::allclose(batch[i], mel(audio[i]), 0, 1e-6));
}

TEST(Mel, SilenceMapsToZeroAndRangeIsUnit) {
  MelSpectrogram mel(AudioConfig{});
  EXPECT_EQ(mel(torch::zeros({2048})).abs().max().item<float>(), 0.0f);
  auto loud = mel(torch::sin(torch::arange(22050) * 0.3));
  EXPECT_GE(loud.min().item<float>(), 0.0f);
  EXPECT_LE(loud.max().item<float>(), 1.0f);
  EXPECT_GT(loud.max().item<float>(), 0.5f);
}

TEST(Mel, FilterbankIsTriangularAndCoversTheBand) {
  auto fb = mel_filterbank(513, 20.0, 11025.0, 80, 22050);
  ASSERT_EQ(fb.sizes(), (std::vector<int64_t>{513, 80}));
  EXPECT_GE(fb.min().item<float>(), 0.0f);
  EXPECT_LE(fb.max().item<float>(), 1.0f + 1e-6);
  // Every filter has some weight; nothing below f_min (bin 0 is 0 Hz).
  EXPECT_GT(fb.sum(0).min().item<float>(), 0.0f);
  EXPECT_EQ(fb[0].sum().item<float>(), 0.0f);
}

TEST(Mel, ConfigurableRateAndHop) {
  AudioConfig a;
  a.sample_rate = 24000;
  a.hop_samples = 300;
  a.n_fft = 2048;
  a.n_mels = 100;
  MelSpectrogram mel(a);
  EXPECT_EQ(mel(torch::zeros({24000})).sizes(), (std::vector<int64_t>{100, 24000 / 300 + 1}));
}
