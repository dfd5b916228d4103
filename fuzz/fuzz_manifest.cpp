// OUT/manifest.json of a prepared corpus (data/manifest.cpp), read by --verify and the trainer.
// Manifest::load may throw diffwave::Error only; what it accepts must save and load back the same.
#include "common/error.h"
#include "data/manifest.h"
#include "fuzz_util.h"

#include <fstream>
#include <sstream>

using namespace diffwave;

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_file("manifest.json", data, size);
  Manifest m;
  try {
    m = Manifest::load(path);
  } catch (const Error&) {
    return 0;
  }
  (void)m.utterances();
  (void)m.hours();
  const std::string first = fuzz::path("saved.json"), second = fuzz::path("saved_again.json");
  try {
    m.save(first);
    Manifest::load(first).save(second);
  } catch (const Error& e) {
    fuzz::fail(std::string("an accepted manifest does not save and load back: ") + e.what());
  }
  if (slurp(first) != slurp(second)) fuzz::fail("a manifest changed on a save/load round trip");
  return 0;
}
