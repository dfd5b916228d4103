// diffwave-prep: turns a corpus of audio files into checked, mel-annotated HDF5 shards.
//   diffwave-prep --input IN --output OUT [--config configs/base.yaml] [--set key=value]...
//   mpirun -np N diffwave-prep ...        (ranks split the inputs; see src/prep/README.md)
//   diffwave-prep --verify OUT
#include <CLI/CLI.hpp>

#include "distributed/process_group.h"
#include "prep/prep_job.h"
#include "prep/verify.h"

int main(int argc, char** argv) {
  CLI::App app{"diffwave-prep: audio corpus -> HDF5 shards with lmnt-exact mels"};
  diffwave::prep::PrepOptions options;
  std::string verify;
  auto* input = app.add_option("--input", options.input, "folder, LJSpeech folder (metadata.csv + wavs/) or list file");
  auto* output = app.add_option("--output", options.output, "output folder (shards/, manifest.json, report.tsv)");
  app.add_option("--config", options.config_path, "YAML config (audio, train and prep sections)");
  app.add_option("--set", options.overrides, "override a config key, e.g. --set prep.audio_dtype=float32");
  app.add_flag("--force", options.force, "discard an OUT made from other inputs, config or rank count");
  app.add_option("--files-per-round", options.files_per_round, "inputs per rank between duplicate checks")
      ->check(CLI::PositiveNumber);
  app.add_option("--comm-timeout", options.comm_timeout,
                 "seconds a rank may wait in a collective while no other rank finishes an input; then the "
                 "whole job ends naming the ranks behind (exit 70)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  auto* verify_opt = app.add_option("--verify", verify, "recheck OUT's shards against its manifest and exit");
  input->excludes(verify_opt);
  output->excludes(verify_opt);
  CLI11_PARSE(app, argc, argv);

  if (!verify.empty()) return diffwave::prep::run_verify(verify);
  if (options.input.empty() || options.output.empty()) {
    std::fprintf(stderr, "diffwave-prep: --input and --output are required (or --verify OUT)\n%s",
                 app.help().c_str());
    return 2;
  }
  return diffwave::prep::run_prep(options, diffwave::ProcessGroup::world());
}
