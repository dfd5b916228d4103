// diffwave-export: our checkpoints to lmnt-com/diffwave weight files, and back.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <iostream>

#include "common/build_info.h"
#include "common/error.h"
#include "interop/lmnt_export.h"
#include "interop/lmnt_import.h"
#include "checkpoint/checkpoint_store.h"

int main(int argc, char** argv) {
  CLI::App app{"Export a checkpoint as an lmnt-com/diffwave .pt (torch.load(path, weights_only=True); "
               "diffwave.model.DiffWave(AttrDict(params)).load_state_dict(model)), or import lmnt weights as a "
               "checkpoint for diffwave-sample and for fine-tuning with diffwave-train."};
  std::string checkpoint, from_lmnt, output, config_path;
  std::string weights = "ema";
  auto* ck = app.add_option("--checkpoint", checkpoint, "export: checkpoint file or run dir (its checkpoints/latest)");
  auto* lmnt = app.add_option("--from-lmnt", from_lmnt, "import: lmnt weights file (plain-dict params)")
                   ->check(CLI::ExistingFile);
  app.add_option("--output", output,
                 "export: MODEL.pt. import: FILE.safetensors, or a run dir (written as its "
                 "checkpoints/step-000000000.safetensors + latest, ready for diffwave-train --run-dir)")
      ->required();
  app.add_option("--weights", weights, "export: ema (the moving average, as diffwave-sample uses by default) or raw "
                 "(the trained weights of the checkpoint's step)")
      ->capture_default_str()
      ->check(CLI::IsMember({"raw", "ema"}))
      ->needs(ck);
  app.add_option("--config", config_path, "import: our YAML config for the weights (default: the file's params)")
      ->check(CLI::ExistingFile)
      ->needs(lmnt);
  ck->excludes(lmnt);
  app.set_version_flag("--version", diffwave::build_summary());
  CLI11_PARSE(app, argc, argv);
  try {
    if (!checkpoint.empty()) {
      const auto source = diffwave::export_lmnt(checkpoint, weights == "ema", output);
      std::cout << fmt::format("wrote {} from {} ({} weights)\n", output, source, weights == "ema" ? "EMA" : "trained");
      return 0;
    }
    if (from_lmnt.empty()) throw diffwave::ConfigError("give --checkpoint (export) or --from-lmnt (import)");
    const auto imported = diffwave::import_lmnt(from_lmnt, config_path.empty() ? std::nullopt
                                                                              : std::optional<std::string>(config_path));
    std::string path = output;
    const std::string ext = ".safetensors";
    if (output.size() > ext.size() && output.compare(output.size() - ext.size(), ext.size(), ext) == 0)
      diffwave::write_checkpoint(output, imported);
    else
      path = diffwave::CheckpointStore(output, 1000000).save(0, imported);
    std::cout << fmt::format("wrote {} from {} (model and EMA weights; step 0, fresh optimiser state)\n", path,
                             from_lmnt);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "diffwave-export: error: " << e.what() << "\n";
    return 1;
  }
}
