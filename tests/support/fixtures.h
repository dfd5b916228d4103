// Helpers shared by the test suites: paths into the source tree, tensors from HDF5 fixtures,
// and tolerance checks that report the error they measured.
#pragma once
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "data/h5_file.h"
#include "model/diffwave.h"

namespace diffwave::test {

std::string source_path(const std::string& relative);  // relative to the repository root
std::string bin_path(const std::string& program);       // build/bin/<program>

// The Python that runs the tests/reference/ scripts: $DIFFWAVE_REFERENCE_PYTHON (tests/run.sh sets
// it after installing the reference packages), else the set-up's virtualenv in the cache folder
// launch/setup.sh uses.
std::string reference_python();
// Why the reference Python cannot run a check needing `modules` ("h5py, numpy"), or "" when it can.
// Tests skip with this reason; tests/run.sh fails a run in which a non-gpu test skipped.
std::string reference_python_lacks(const std::string& modules);

torch::Tensor read_tensor(const H5File& file, const std::string& dataset);        // float32
torch::Tensor read_long_tensor(const H5File& file, const std::string& dataset);   // int64

// Copies every parameter of `model` from datasets `<group>/<state-dict name>`; fails on a
// missing or mis-shaped one, and on datasets that match no parameter.
void load_parameters(DiffWave& model, const H5File& file, const std::string& group);

// A small DiffWave with every weight perturbed, the same for the same seed: lmnt zero-initialises
// the output projection, which would make every prediction a constant and hide most errors.
DiffWave perturbed_model(int64_t channels, int64_t layers, int64_t cycle, uint64_t seed, bool unconditional = false);

// max |actual - expected| / max |expected|: the relative error the tolerances refer to.
double relative_error(const torch::Tensor& actual, const torch::Tensor& expected);
::testing::AssertionResult RelativelyClose(const torch::Tensor& actual, const torch::Tensor& expected, double rtol);
::testing::AssertionResult AbsolutelyClose(const torch::Tensor& actual, const torch::Tensor& expected, double atol);

// Runs a shell command, returning its exit status and combined stdout/stderr.
struct CommandResult {
  int status;
  std::string output;
};
CommandResult run_command(const std::string& command);

}  // namespace diffwave::test
