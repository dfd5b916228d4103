// The MPI communicator and gradient reducer with 2 and 3 real ranks (tests/mpi/allreduce_check).
#include <gtest/gtest.h>

#include "support/fixtures.h"

using namespace diffwave::test;

namespace {
CommandResult run_ranks(int ranks) {
  return run_command("OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np " + std::to_string(ranks) +
                     " --oversubscribe --bind-to none " + std::string(DIFFWAVE_TEST_BIN_DIR) + "/allreduce_check");
}
}  // namespace

TEST(AllReduceMpi, TwoRanks) {
  auto r = run_ranks(2);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("2 rank(s), all checks passed"), std::string::npos) << r.output;
}

TEST(AllReduceMpi, ThreeRanks) {
  auto r = run_ranks(3);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("3 rank(s), all checks passed"), std::string::npos) << r.output;
}

// Four simulated nodes of two ranks each (grouped by DIFFWAVE_NODE_KEY): the rank-to-GPU mapping
// of a multi-node job, and the refusal of more ranks than GPUs on a node.
TEST(NodeLayoutMpi, RanksMapToTheirNodesGpus) {
  const std::string launch = "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np 8 --oversubscribe "
                             "--bind-to none bash -c 'DIFFWAVE_NODE_KEY=node$((OMPI_COMM_WORLD_RANK / 2)) exec " +
                             std::string(DIFFWAVE_TEST_BIN_DIR) + "/allreduce_check --layout ";
  auto r = run_command(launch + "2'");
  ASSERT_EQ(r.status, 0) << r.output;
  for (int rank = 0; rank < 8; ++rank)
    EXPECT_NE(r.output.find("rank " + std::to_string(rank) + " local " + std::to_string(rank % 2) +
                            " of 2 device cuda:" + std::to_string(rank % 2)),
              std::string::npos)
        << rank << "\n" << r.output;
  auto refused = run_command(launch + "1'");
  EXPECT_NE(refused.output.find("rank 5 refused: rank 5: 2 ranks on this node but only 1 GPU(s) visible"),
            std::string::npos)
      << refused.output;
}

TEST(NodeLayoutMpi, SharedMemorySplitFindsOneNode) {
  auto r = run_command("OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np 3 --oversubscribe "
                       "--bind-to none " + std::string(DIFFWAVE_TEST_BIN_DIR) + "/allreduce_check --layout 4");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("rank 2 local 2 of 3 device cuda:2"), std::string::npos) << r.output;
}
