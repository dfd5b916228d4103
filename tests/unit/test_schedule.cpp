#include <gtest/gtest.h>

#include "common/config.h"
#include "common/error.h"
#include "diffusion/schedule.h"

using namespace diffwave;

TEST(Schedule, AlphaBarIsCumulativeProduct) {
  NoiseSchedule s({0.1, 0.2, 0.5});
  EXPECT_DOUBLE_EQ(s.alpha_bar[0], 0.9);
  EXPECT_DOUBLE_EQ(s.alpha_bar[1], 0.9 * 0.8);
  EXPECT_DOUBLE_EQ(s.alpha_bar[2], 0.9 * 0.8 * 0.5);
}

TEST(Schedule, FastAlignmentMatchesPaperValues) {
  Config c;
  auto aligned = align_inference_steps(NoiseSchedule(c.diffusion.noise_schedule.betas),
                                       c.diffusion.inference_noise_schedule.betas);
  const std::vector<double> expected{0, 0.894, 4.087, 10.452, 22.992, 42.919};  // reference doc
  ASSERT_EQ(aligned.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(aligned[i], expected[i], 1e-3) << i;
}

TEST(Schedule, FullScheduleAlignsToIntegers) {
  Config c;
  NoiseSchedule train(c.diffusion.noise_schedule.betas);
  auto aligned = align_inference_steps(train, train.betas);
  for (size_t i = 0; i < aligned.size(); ++i) EXPECT_NEAR(aligned[i], static_cast<double>(i), 1e-9);
}

TEST(Schedule, OutOfRangeStepIsNamed) {
  Config c;
  try {
    align_inference_steps(NoiseSchedule(c.diffusion.noise_schedule.betas), {1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.7});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("inference step 5"), std::string::npos) << e.what();
  }
}
