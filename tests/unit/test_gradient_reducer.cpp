// The reducer's bucketing, ordering and accumulation, with in-process communicators (the MPI
// and NCCL transports are tested under mpirun in tests/mpi).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <mutex>

#include "distributed/gradient_reducer.h"
#include "model/diffwave.h"
#include "support/fixtures.h"

using namespace diffwave;

namespace {

// Pretends to be rank 0 of two whose partner always contributes zeros: the mean halves.
class HalvingComm : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 2; }
  std::string name() const override { return "halving"; }
  void all_reduce_mean(at::Tensor& t) override {
    std::lock_guard<std::mutex> lock(m);
    sizes.push_back(t.numel());
    t.mul_(0.5);
  }
  void broadcast(at::Tensor&, int) override {}
  std::mutex m;
  std::vector<int64_t> sizes;
};

DiffWave small_model() { return test::perturbed_model(8, 3, 2, 3); }

torch::Tensor loss_of(DiffWave& m, int seed) {
  torch::manual_seed(seed);
  auto audio = torch::randn({2, 512});
  auto mel = torch::rand({2, 80, 2});
  return m->forward(audio, torch::tensor({1, 30}), mel).abs().mean();
}

std::vector<torch::Tensor> grads(DiffWave& m) {
  std::vector<torch::Tensor> g;
  for (auto& p : m->parameters()) g.push_back(p.grad().clone());
  return g;
}

}  // namespace

TEST(GradientReducer, BucketsRespectCapAndCoverEveryParameterOnce) {
  auto m = small_model();
  HalvingComm comm;
  GradientReducer reducer(m->parameters(), comm, 64 * 1024);
  std::vector<int> count(m->parameters().size(), 0);
  for (const auto& b : reducer.buckets()) {
    int64_t bytes = b.flat.numel() * 4;
    if (b.params.size() > 1) EXPECT_LE(bytes, 64 * 1024);
    for (size_t k : b.params) ++count[k];
  }
  for (int c : count) EXPECT_EQ(c, 1);
  // Reverse parameter order: the output projection (last registered) opens the first bucket.
  EXPECT_EQ(reducer.buckets().front().params.front(), m->parameters().size() - 1);
}

TEST(GradientReducer, AveragesEveryBucketInOrderOncePerStep) {
  auto m = small_model();
  loss_of(m, 1).backward();
  auto local = grads(m);
  m->zero_grad(true);
  HalvingComm comm;
  GradientReducer reducer(m->parameters(), comm, 16 * 1024);
  reducer.prepare(true);
  loss_of(m, 1).backward();
  EXPECT_EQ(reducer.launched(), reducer.buckets().size()) << "buckets must launch during backward";
  reducer.finish();
  auto reduced = grads(m);
  for (size_t i = 0; i < local.size(); ++i) EXPECT_TRUE(torch::allclose(reduced[i], 0.5 * local[i], 1e-6, 1e-8)) << i;
  ASSERT_EQ(comm.sizes.size(), reducer.buckets().size());
  for (size_t b = 0; b < comm.sizes.size(); ++b) EXPECT_EQ(comm.sizes[b], reducer.buckets()[b].flat.numel()) << b;
}

TEST(GradientReducer, AccumulationCommunicatesOnlyOnTheFinalMicroStep) {
  auto m = small_model();
  loss_of(m, 1).backward();
  loss_of(m, 2).backward();
  auto local_sum = grads(m);
  m->zero_grad(true);
  HalvingComm comm;
  GradientReducer reducer(m->parameters(), comm, 1 << 20);
  reducer.prepare(false);
  loss_of(m, 1).backward();
  reducer.finish();
  EXPECT_TRUE(comm.sizes.empty());
  reducer.prepare(true);
  loss_of(m, 2).backward();
  reducer.finish();
  EXPECT_EQ(comm.sizes.size(), reducer.buckets().size());
  auto reduced = grads(m);
  for (size_t i = 0; i < local_sum.size(); ++i)
    EXPECT_TRUE(torch::allclose(reduced[i], 0.5 * local_sum[i], 1e-5, 1e-7)) << i;
}

TEST(GradientReducer, ParametersWithoutGradientStillReduce) {
  auto m = small_model();
  HalvingComm comm;
  GradientReducer reducer(m->parameters(), comm, 1 << 20);
  reducer.prepare(true);
  // Only the input projection takes part: every other parameter must still be reduced (zeros).
  m->input_projection(torch::randn({1, 1, 16})).sum().backward();
  reducer.finish();
  EXPECT_EQ(comm.sizes.size(), reducer.buckets().size());
  EXPECT_EQ(m->output_projection->weight.grad().abs().sum().item<float>(), 0.0f);
  EXPECT_GT(m->input_projection->weight.grad().abs().sum().item<float>(), 0.0f);
}

TEST(GradientReducer, TwoStepsInARowReuseTheBuckets) {
  auto m = small_model();
  HalvingComm comm;
  GradientReducer reducer(m->parameters(), comm, 8 * 1024);
  for (int step = 0; step < 2; ++step) {
    m->zero_grad(true);
    reducer.prepare(true);
    loss_of(m, 7).backward();
    reducer.finish();
  }
  EXPECT_EQ(comm.sizes.size(), 2 * reducer.buckets().size());
}

// train.cuda_graphs with several ranks: backward runs as a graph replay (no hooks fire), then
// prepare(true) + finish() must average every gradient in place, in the tensors .grad() holds.
TEST(GradientReducer, ReducesGradientsThatNoHookSaw) {
  auto m = small_model();
  HalvingComm comm;
  GradientReducer reducer(m->parameters(), comm, 8 * 1024);
  reducer.prepare(false);  // as during capture: hooks see the backward but do nothing
  loss_of(m, 5).backward();
  reducer.finish();
  auto local = grads(m);
  std::vector<void*> storage;
  for (auto& p : m->parameters()) storage.push_back(p.grad().data_ptr());
  reducer.prepare(true);
  reducer.finish();
  EXPECT_EQ(comm.sizes.size(), reducer.buckets().size());
  auto reduced = grads(m);
  auto params = m->parameters();
  for (size_t i = 0; i < local.size(); ++i) {
    EXPECT_TRUE(torch::equal(reduced[i], 0.5 * local[i])) << i;
    EXPECT_EQ(params[i].grad().data_ptr(), storage[i]) << "gradient " << i << " must be averaged in place";
  }
}
