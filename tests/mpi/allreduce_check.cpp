// Run under mpirun by test_allreduce_mpi: checks the MPI communicator and the gradient reducer
// against values every rank can compute alone. Prints one line per failure; exit 0 = all good.
#include <torch/torch.h>

#include <fmt/format.h>

#include <cstdio>

#include "distributed/communicator.h"
#include "distributed/device.h"
#include "distributed/gradient_reducer.h"
#include "distributed/process_group.h"
#include "model/diffwave.h"
#include "support/fixtures.h"

using namespace diffwave;

namespace {
int failures = 0;
void expect(bool ok, const std::string& what, int rank) {
  if (!ok) {
    std::fprintf(stderr, "rank %d: FAILED %s\n", rank, what.c_str());
    ++failures;
  }
}

DiffWave model_for_test() { return test::perturbed_model(8, 3, 2, 11); }  // the same weights on every rank

// Rank r's loss on its own data, reproducible on any rank.
torch::Tensor loss_for_rank(DiffWave& m, int r) {
  torch::manual_seed(1000 + r);
  auto audio = torch::randn({2, 512});
  auto mel = torch::rand({2, 80, 2});
  return m->forward(audio, torch::tensor({r % 50, (7 * r) % 50}), mel).abs().mean();
}
}  // namespace

int main(int argc, char** argv) {
  auto& group = ProcessGroup::world();
  const int rank = group.rank(), world = group.size();
  if (argc > 1 && std::string(argv[1]) == "--layout") {
    // Which GPU each rank would take on nodes of argv[2] GPUs (nodes may be simulated).
    const auto [local_rank, local_size] = group.local_rank_and_size();
    std::string line;
    try {
      line = fmt::format("rank {} local {} of {} device {}", rank, local_rank, local_size,
                         plan_device("cuda", local_rank, local_size, rank, std::stoi(argv[2])).str());
    } catch (const std::exception& e) {
      line = fmt::format("rank {} refused: {}", rank, e.what());
    }
    const auto lines = group.gather_text(line, 0, "gather");
    for (const auto& l : lines) std::printf("%s\n", l.c_str());
    return 0;
  }
  auto comm = make_communicator(group, c10::Device(c10::kCPU));
  expect(comm->name() == (world > 1 ? "mpi" : "single"), "transport choice", rank);

  // Mean of rank-dependent values, odd sizes included; every rank ends with the same bits.
  for (int64_t n : {1, 7, 1000, 100003}) {
    auto t = torch::arange(n, torch::kFloat) * (rank + 1) + 0.1 * rank;
    comm->all_reduce_mean(t);
    double mean_factor = 0, mean_offset = 0;
    for (int r = 0; r < world; ++r) {
      mean_factor += (r + 1.0) / world;
      mean_offset += 0.1 * r / world;
    }
    auto expected = torch::arange(n, torch::kDouble) * mean_factor + mean_offset;
    expect(torch::allclose(t.to(torch::kDouble), expected, 1e-6, 1e-4), "all-reduce mean of " + std::to_string(n), rank);
    const auto sums = group.allgather_text(std::to_string(t.sum().item<double>()), "allgather");
    for (const auto& s : sums) expect(s == sums[0], "identical all-reduce result on every rank", rank);
  }

  auto b = torch::full({5}, static_cast<float>(rank));
  comm->broadcast(b, 0);
  expect(torch::equal(b, torch::zeros({5})), "broadcast from rank 0", rank);

  // The reducer over MPI: each rank's gradients become the mean of all ranks' gradients.
  for (size_t cap : {size_t{4096}, size_t{1} << 24}) {
    auto m = model_for_test();
    std::vector<torch::Tensor> expected;
    for (auto& p : m->parameters()) expected.push_back(torch::zeros_like(p));
    for (int r = 0; r < world; ++r) {
      m->zero_grad(true);
      loss_for_rank(m, r).backward();
      auto params = m->parameters();
      for (size_t i = 0; i < params.size(); ++i) expected[i] += params[i].grad() / world;
    }
    m->zero_grad(true);
    GradientReducer reducer(m->parameters(), *comm, cap);
    reducer.prepare(true);
    loss_for_rank(m, rank).backward();
    reducer.finish();
    auto params = m->parameters();
    for (size_t i = 0; i < params.size(); ++i)
      expect(torch::allclose(params[i].grad(), expected[i], 1e-5, 1e-7),
             "reduced gradient " + std::to_string(i) + " with bucket cap " + std::to_string(cap), rank);
  }
  const auto all_failures = group.allreduce(static_cast<long long>(failures), ReduceOp::max, "max");
  if (rank == 0) std::printf("allreduce_check: %d rank(s), %s\n", world, all_failures ? "FAILED" : "all checks passed");
  return all_failures ? 1 : 0;
}
