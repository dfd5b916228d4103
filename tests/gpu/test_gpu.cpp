// CUDA paths against the CPU ones. Skipped (not failed) where no GPU is visible.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "audio/mel.h"
#include "common/config.h"
#include "diffusion/diffusion.h"
#include "model/bf16_autocast.h"
#include "sample/chunked_sampler.h"
#include "train/graphed_step.h"
#include "train/optimizer.h"
#include "support/fixtures.h"

using namespace diffwave;

// A macro, not a function: GTEST_SKIP must return from the test body itself.
#define REQUIRE_GPU() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device visible"

TEST(Gpu, ModelForwardAndBackwardMatchCpu) {
  REQUIRE_GPU();
  auto cpu = test::perturbed_model(16, 6, 3, 0);
  auto gpu = test::perturbed_model(16, 6, 3, 0);
  gpu->to(torch::kCUDA);
  torch::manual_seed(1);
  auto audio = torch::rand({2, 2048}) * 2 - 1;
  auto mel = torch::rand({2, 80, 8});
  auto t = torch::tensor({3, 40});
  auto noise = torch::randn({2, 2048});
  auto level = noise_levels(NoiseSchedule(Config{}.diffusion.noise_schedule.betas));
  auto loss_cpu = diffusion_loss(cpu, audio, mel, t, noise, level, LossKind::l1);
  auto loss_gpu = diffusion_loss(gpu, audio.cuda(), mel.cuda(), t.cuda(), noise.cuda(), level, LossKind::l1);
  EXPECT_NEAR(loss_cpu.item<double>(), loss_gpu.item<double>(), 1e-4);
  loss_cpu.backward();
  loss_gpu.backward();
  auto gc = cpu->parameters();
  auto gg = gpu->parameters();
  for (size_t i = 0; i < gc.size(); ++i)
    EXPECT_TRUE(torch::allclose(gg[i].grad().cpu(), gc[i].grad(), 1e-3, 1e-5)) << i;
}

TEST(Gpu, MelMatchesCpu) {
  REQUIRE_GPU();
  MelSpectrogram mel(AudioConfig{}, torch::kCUDA);
  auto audio = torch::rand({2, 22050}) * 2 - 1;
  EXPECT_TRUE(torch::allclose(mel(audio.cuda()).cpu(), mel(audio), 0, 1e-4));
}

// The fused CUDA residual-layer kernels against the reference ops, both on the GPU in float32
// (TF32 off), each measured against the reference ops in float64: outputs and every gradient.
// (Gradients are sums over batch x time, so two float32 orders differ by more than their
// distance to the truth says; the CPU test in test_fused_layer.cpp uses the same rule.)
TEST(Gpu, FusedLayersMatchTheReferenceOps) {
  REQUIRE_GPU();
  const bool tf32 = at::globalContext().allowTF32CuBLAS(), tf32_conv = at::globalContext().allowTF32CuDNN();
  at::globalContext().setAllowTF32CuBLAS(false);
  at::globalContext().setAllowTF32CuDNN(false);
  for (bool unconditional : {false, true}) {
    SCOPED_TRACE(unconditional ? "unconditional" : "conditional");
    auto run = [&](LayerKernels kernels, torch::Dtype dtype) {
      auto model = test::perturbed_model(16, 6, 3, 0, unconditional);
      model->set_kernels(kernels);
      model->to(torch::kCUDA, dtype);
      torch::manual_seed(2);
      auto audio = (torch::rand({3, 4096}) * 2 - 1).to(torch::kCUDA, dtype);
      auto mel = unconditional ? torch::Tensor() : torch::rand({3, 80, 16}).to(torch::kCUDA, dtype);
      EXPECT_EQ(model->uses_fused_layers(audio), kernels == LayerKernels::fused);
      auto out = model->forward(audio, torch::tensor({3, 17, 40}).cuda(), mel);
      (out * out).sum().backward();
      std::vector<torch::Tensor> all{out.detach().cpu().to(torch::kDouble)};
      for (auto& p : model->parameters()) all.push_back(p.grad().cpu().to(torch::kDouble));
      // Inference with cached conditioner terms gives the fused forward's values.
      torch::NoGradGuard no_grad;
      if (kernels == LayerKernels::fused) {
        auto cached = model->conditioner_terms(mel, 3, 4096);
        auto again = model->forward(audio, torch::tensor({3, 17, 40}).cuda(), mel, cached);
        EXPECT_LT(test::relative_error(again.cpu().to(torch::kDouble), all[0]), 1e-6);
      }
      return all;
    };
    const auto truth = run(LayerKernels::reference, torch::kDouble);
    const auto ref = run(LayerKernels::reference, torch::kFloat);
    const auto got = run(LayerKernels::fused, torch::kFloat);
    double worst_fused = 0, worst_ref = 0;
    for (size_t i = 0; i < truth.size(); ++i) {
      const double err_fused = test::relative_error(got[i], truth[i]), err_ref = test::relative_error(ref[i], truth[i]);
      worst_fused = std::max(worst_fused, err_fused);
      worst_ref = std::max(worst_ref, err_ref);
      // Floor: 1e-5 of the tensor's largest value (the CPU test's 2e-6 was exceeded by 4 % on an
      // H100, where cuBLAS/cuDNN reductions split differently).
      EXPECT_LT(err_fused, std::max(2 * err_ref, 1e-5)) << "tensor " << i << " (reference ops: " << err_ref << ")";
    }
    std::printf("max rel error against float64: fused %.3g, reference ops %.3g\n", worst_fused, worst_ref);
  }
  at::globalContext().setAllowTF32CuBLAS(tf32);
  at::globalContext().setAllowTF32CuDNN(tf32_conv);
}

// The sampler with each window's forward replayed as a CUDA graph gives the eager result.
TEST(Gpu, CudaGraphSamplingEqualsEager) {
  REQUIRE_GPU();
  auto model = test::perturbed_model(16, 6, 3, 0);
  model->to(torch::kCUDA);
  const auto plan = SamplerPlan::fast(NoiseSchedule(Config{}.diffusion.noise_schedule.betas),
                                      Config{}.diffusion.inference_noise_schedule.betas);
  torch::manual_seed(4);
  const auto mel = torch::rand({2, 80, 24}).cuda();
  const auto windows = plan_windows(24 * 256, 8 * 256, 3 * 256);
  const auto options = torch::TensorOptions().device(torch::kCUDA);
  const std::vector<std::string> ids{"a", "b"};
  auto eager = sample_windows(model, plan, mel, 2, 0, row_generators(1, ids), windows, options);
  auto graphed = sample_windows(model, plan, mel, 2, 0, row_generators(1, ids), windows, options, false,
                                int64_t{2} << 30, /*cuda_graphs=*/true);
  EXPECT_LT((eager - graphed).abs().max().item<double>(), 1e-6);
}

// The training step replayed as a CUDA graph does what the eager step does, in fp32 and bf16:
// from the same state and batch, the same loss, gradient norm and update (fused vs multi-tensor
// Adam: rounding apart), and on a non-finite step nothing changes (the eager trainer skips it).
// Each step starts both from the eager state: compared over several steps, bf16's rounding would
// amplify the Adam implementations' last-bit differences.
TEST(Gpu, GraphedTrainingStepFollowsTheEagerStep) {
  REQUIRE_GPU();
  // Deterministic kernels, no TF32: eager and graph then compute the same gradients.
  auto& ctx = at::globalContext();
  const bool det = ctx.deterministicCuDNN(), bench = ctx.benchmarkCuDNN(), tf32 = ctx.allowTF32CuDNN();
  ctx.setDeterministicCuDNN(true);
  ctx.setBenchmarkCuDNN(false);
  ctx.setAllowTF32CuDNN(false);
  const auto level = noise_levels(NoiseSchedule(Config{}.diffusion.noise_schedule.betas)).cuda();
  const double lr = 2e-4;
  auto batch_for = [](int i, bool poisoned) {
    torch::manual_seed(100 + i);
    TrainingBatch b;
    b.audio = torch::rand({4, 16 * 256}) * 2 - 1;
    if (poisoned) b.audio[1][7] = std::numeric_limits<float>::quiet_NaN();
    b.mel = torch::rand({4, 80, 16});
    b.t = torch::randint(0, 50, {4}, torch::kLong);
    b.noise = torch::randn({4, 16 * 256});
    return b;
  };
  struct Run {
    DiffWave model = test::perturbed_model(16, 6, 3, 0);
    std::vector<torch::Tensor> params;
    std::unique_ptr<Adam> adam;
    std::unique_ptr<Ema> ema;
    Run() {
      model->to(torch::kCUDA);
      params = model->parameters();
      AdamOptions o;
      o.lr = 2e-4;
      adam = std::make_unique<Adam>(params, o);
      ema = std::make_unique<Ema>(params, 0.9);
    }
    // Every tensor of the training state, in a fixed order.
    std::vector<torch::Tensor> state() {
      auto all = params;
      for (auto* list : {&adam->exp_avg(), &adam->exp_avg_sq(), &ema->weights()}) all.insert(all.end(), list->begin(), list->end());
      return all;
    }
  };
  for (bool bf16 : {false, true}) {
    SCOPED_TRACE(bf16 ? "bf16" : "fp32");
    Run eager, graphed;
    // One eager step; returns [loss, norm].
    auto eager_step = [&](Run& r, const TrainingBatch& b) {
      torch::Tensor loss;
      {
        Bf16Autocast autocast(bf16);
        loss = diffusion_loss(r.model, b.audio.cuda(), b.mel.cuda(), b.t.cuda(), b.noise.cuda(), level, LossKind::l1);
      }
      loss.backward();
      const auto norm = clip_grad_norm(r.params, 1e9);
      if (std::isfinite(norm.item<double>())) {
        r.adam->step();
        r.ema->update(r.params, r.adam->steps());
      }
      r.model->zero_grad(true);
      return torch::stack({loss.detach().to(torch::kDouble), norm.to(torch::kDouble)}).cpu();
    };
    // Eager steps before capture, as the trainer takes (the first forward's lazy set-up copies
    // from the host, which a capture refuses).
    for (int i = 0; i < 3; ++i) {
      eager_step(eager, batch_for(i, false));
      eager_step(graphed, batch_for(i, false));
    }
    StepParts parts;
    parts.model = graphed.model;
    parts.params = graphed.params;
    parts.adam = graphed.adam.get();
    parts.ema = graphed.ema.get();
    parts.noise_level = level;
    parts.loss = LossKind::l1;
    parts.max_grad_norm = 1e9;
    parts.bf16 = bf16;
    GraphedStep step(parts, batch_for(0, false));
    for (int i = 3; i < 8; ++i) {
      SCOPED_TRACE(::testing::Message() << "step " << i);
      const bool poisoned = i == 5;
      {
        torch::NoGradGuard no_grad;
        auto from = eager.state(), to = graphed.state();
        for (size_t k = 0; k < from.size(); ++k) to[k].copy_(from[k]);
        graphed.adam->set_steps(eager.adam->steps());
      }
      std::vector<torch::Tensor> before;
      for (auto& t : eager.state()) before.push_back(t.clone());
      const auto want = eager_step(eager, batch_for(i, poisoned));
      const auto got = step.run(batch_for(i, poisoned), lr).cpu();
      EXPECT_EQ(std::isfinite(got[1].item<double>()), !poisoned);
      if (!poisoned) {
        EXPECT_NEAR(got[0].item<double>(), want[0].item<double>(), 1e-6 * want[0].item<double>());
        EXPECT_NEAR(got[1].item<double>(), want[1].item<double>(), 1e-5 * want[1].item<double>());
      }
      const auto a = eager.state(), b = graphed.state();
      const size_t n = eager.params.size();
      double worst_update = 0, worst_moment = 0, unchanged = 0;
      for (size_t k = 0; k < a.size(); ++k) {
        const bool weights = k < n || k >= 3 * n;  // parameters and EMA weights
        const double diff = (a[k] - b[k]).abs().max().item<double>();
        if (weights) worst_update = std::max(worst_update, diff);
        else worst_moment = std::max(worst_moment, test::relative_error(b[k], a[k]));
        if (poisoned) unchanged = std::max(unchanged, (b[k] - before[k]).abs().max().item<double>());
      }
      // An update moves a weight by about lr; the two Adams may round a weight to neighbouring
      // floats (2.4e-7 apart at |w| < 4), far below a missed, doubled or mis-scaled update.
      EXPECT_LT(worst_update, 1e-2 * lr);
      EXPECT_LT(worst_moment, 1e-5);
      if (poisoned) EXPECT_EQ(unchanged, 0.0) << "a non-finite step must leave the state alone";
    }
  }
  ctx.setDeterministicCuDNN(det);
  ctx.setBenchmarkCuDNN(bench);
  ctx.setAllowTF32CuDNN(tf32);
}
