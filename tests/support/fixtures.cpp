#include "support/fixtures.h"

#include <cstdio>
#include <cstdlib>
#include <set>
#include <sys/wait.h>

namespace diffwave::test {

std::string source_path(const std::string& relative) { return std::string(DIFFWAVE_SOURCE_DIR) + "/" + relative; }
std::string bin_path(const std::string& program) { return std::string(DIFFWAVE_BIN_DIR) + "/" + program; }

std::string reference_python() {
  if (const char* python = std::getenv("DIFFWAVE_REFERENCE_PYTHON"); python && *python) return python;
  // Same cache folder as launch/setup.sh.
  std::string cache;
  if (const char* c = std::getenv("DIFFWAVE_CACHE"); c && *c) cache = c;
  else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) cache = std::string(x) + "/diffwave-cpp";
  else if (const char* h = std::getenv("HOME")) cache = std::string(h) + "/.cache/diffwave-cpp";
  return cache + "/venv/bin/python";
}

std::string reference_python_lacks(const std::string& modules) {
  const auto python = reference_python();
  const auto probe = run_command("'" + python + "' -c 'import " + modules + "'");
  if (probe.status == 0) return "";
  return python + " cannot import " + modules + " (./tests/run.sh installs the reference packages): " + probe.output;
}

torch::Tensor read_tensor(const H5File& file, const std::string& dataset) {
  std::vector<int64_t> shape;
  auto data = file.read_float(dataset, &shape);
  return torch::from_blob(data.data(), shape, torch::kFloat).clone();
}

torch::Tensor read_long_tensor(const H5File& file, const std::string& dataset) {
  std::vector<int64_t> shape;
  auto data = file.read_int64(dataset, &shape);
  return torch::from_blob(data.data(), shape, torch::kLong).clone();
}

void load_parameters(DiffWave& model, const H5File& file, const std::string& group) {
  torch::NoGradGuard no_grad;
  std::set<std::string> unused;
  for (const auto& name : file.members(group)) unused.insert(name);
  for (auto& item : model->named_parameters()) {
    const auto dataset = group + "/" + item.key();
    ASSERT_TRUE(file.exists(dataset)) << "fixture lacks parameter " << item.key();
    auto value = read_tensor(file, dataset);
    ASSERT_EQ(value.sizes(), item.value().sizes()) << "shape of " << item.key();
    item.value().copy_(value);
    unused.erase(item.key());
  }
  EXPECT_TRUE(unused.empty()) << "fixture has " << unused.size() << " tensors our model lacks, e.g. "
                              << (unused.empty() ? "" : *unused.begin());
}

DiffWave perturbed_model(int64_t channels, int64_t layers, int64_t cycle, uint64_t seed, bool unconditional) {
  DiffWaveOptions o;
  o.residual_channels = channels;
  o.residual_layers = layers;
  o.dilation_cycle_length = cycle;
  o.unconditional = unconditional;
  torch::manual_seed(seed);
  DiffWave model(o);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.add_(0.05 * torch::randn(p.sizes()));
  return model;
}

double relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  auto a = actual.to(torch::kDouble).cpu(), e = expected.to(torch::kDouble).cpu();
  const double scale = e.abs().max().item<double>();
  const double err = (a - e).abs().max().item<double>();
  return scale > 0 ? err / scale : err;
}

::testing::AssertionResult RelativelyClose(const torch::Tensor& actual, const torch::Tensor& expected, double rtol) {
  if (actual.sizes() != expected.sizes())
    return ::testing::AssertionFailure() << "shape " << actual.sizes() << " != " << expected.sizes();
  const double err = relative_error(actual, expected);
  std::printf("[ measured ] relative error %.3g (bound %.3g)\n", err, rtol);
  if (err <= rtol) return ::testing::AssertionSuccess() << "relative error " << err;
  return ::testing::AssertionFailure() << "relative error " << err << " > " << rtol;
}

::testing::AssertionResult AbsolutelyClose(const torch::Tensor& actual, const torch::Tensor& expected, double atol) {
  if (actual.sizes() != expected.sizes())
    return ::testing::AssertionFailure() << "shape " << actual.sizes() << " != " << expected.sizes();
  const double err = (actual.to(torch::kDouble).cpu() - expected.to(torch::kDouble).cpu()).abs().max().item<double>();
  std::printf("[ measured ] max abs error %.3g (bound %.3g)\n", err, atol);
  if (err <= atol) return ::testing::AssertionSuccess() << "max abs error " << err;
  return ::testing::AssertionFailure() << "max abs error " << err << " > " << atol;
}

CommandResult run_command(const std::string& command) {
  CommandResult result{-1, ""};
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace diffwave::test
