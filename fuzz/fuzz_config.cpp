// YAML config with --set overrides (common/config.cpp). The input is the YAML file, then each
// --set value after a NUL byte ("audio.f_min=.nan"). Config::load and validate may throw
// diffwave::Error only; a config that validates must print as YAML that reads back to the same
// config, and must be usable: its numbers go through the conversions the code applies to them
// (which UBSan checks) and are finite.
#include <cmath>
#include <cstddef>

#include "common/config.h"
#include "common/error.h"
#include "fuzz_util.h"
#include "prep/input_check.h"

using namespace diffwave;

namespace {

// What the trainer, the model and the reducer compute from the config (trainer.cpp,
// diffwave.cpp, chunked_sampler.cpp), with loops bounded so that the harness stays fast.
void use(const Config& c) {
  const double doubles[] = {c.audio.f_min, c.audio.resolved_f_max(), c.train.learning_rate, c.train.max_grad_norm,
                            c.train.ema_decay, c.train.bucket_cap_mb, c.train.lr_min, c.train.comm_timeout,
                            c.train.max_time, c.prep.validation_fraction, c.prep.shard_hours};
  for (double d : doubles)
    if (!std::isfinite(d)) fuzz::fail("a validated config holds a non-finite number");
  volatile size_t bucket_bytes = static_cast<size_t>(c.train.bucket_cap_mb * (1 << 20));
  (void)bucket_bytes;
  int64_t reach = 0;
  for (int64_t i = 0; i < std::min<int64_t>(c.model.residual_layers, 256); ++i)
    reach += int64_t{1} << (i % c.model.dilation_cycle_length);
  (void)reach;
  (void)prep::CheckRules::from(c);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts;
  for (size_t pos = 0;;) {
    const size_t nul = input.find('\0', pos);
    parts.push_back(input.substr(pos, nul == std::string::npos ? std::string::npos : nul - pos));
    if (nul == std::string::npos || parts.size() > 8) break;
    pos = nul + 1;
  }
  const std::string path = fuzz::write_file("config.yaml", parts[0]);
  const std::vector<std::string> overrides(parts.begin() + 1, parts.end());
  Config c;
  try {
    c = Config::load(path, overrides);
    c.validate(1);
  } catch (const Error&) {
    return 0;
  }
  use(c);
  // As a checkpoint stores it and a resume reads it back.
  const std::string text = c.to_yaml();
  try {
    const Config back = Config::from_yaml(text, "round trip");
    back.validate(1);
    if (back.to_yaml() != text) fuzz::fail("the config changed on a round trip through YAML:\n" + text);
  } catch (const Error& e) {
    fuzz::fail(std::string("a valid config does not read back from its own YAML: ") + e.what() + "\n" + text);
  }
  try {
    c.validate(3);
  } catch (const Error&) {
  }
  return 0;
}
