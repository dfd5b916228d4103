#include "checkpoint/checkpoint_store.h"

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "checkpoint/atomic_file.h"
#include "common/error.h"

namespace fs = std::filesystem;

namespace diffwave {

CheckpointStore::CheckpointStore(std::string run_dir, int keep) : dir_(std::move(run_dir) + "/checkpoints"), keep_(keep) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw DataError(fmt::format("{}: cannot create: {}", dir_, ec.message()));
  remove_stale_temporaries();
}

// A temporary NAME.tmp.PID (atomic_write) outlives its writer only when the writer died mid-file.
// It is stale when no process PID is alive on this machine, or when it has not changed for an
// hour (the PID was reused, or the writer ran on another node). This never removes a live
// writer's file: diffwave-train writes checkpoints from rank 0 only, and only after start-up
// collectives that every rank joins after constructing its store, so no rank prunes while a
// writer of its job is at work; another process writing here (diffwave-export) is alive here.
void CheckpointStore::remove_stale_temporaries() const {
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    const auto tmp = name.rfind(".tmp.");
    if (tmp == std::string::npos) continue;
    const auto digits = name.substr(tmp + 5);
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const auto pid = static_cast<pid_t>(std::stol(digits));
    std::error_code time_ec;
    const auto written = fs::last_write_time(it->path(), time_ec);
    const bool dead = pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH;
    const bool old = !time_ec && now - written > std::chrono::hours(1);
    if (!dead && !old) continue;
    std::error_code remove_ec;  // another rank may have removed it first
    if (fs::remove(it->path(), remove_ec))
      std::cerr << fmt::format("diffwave: removed {}, left by a checkpoint writer that did not finish\n",
                               it->path().string());
  }
}

std::string CheckpointStore::save(int64_t step, const Checkpoint& checkpoint, std::optional<double> validation_loss) {
  Checkpoint ck = checkpoint;
  if (validation_loss) ck.metadata["validation_loss"] = fmt::format("{}", *validation_loss);
  const auto name = fmt::format("step-{:09d}.safetensors", step);
  const auto path = dir_ + "/" + name;
  write_checkpoint(path, ck);
  const std::string pointer = name + "\n";
  atomic_write(dir_ + "/latest", {{pointer.data(), pointer.size()}});
  if (validation_loss) {
    // The best checkpoint by validation loss survives pruning.
    std::ifstream best_in(dir_ + "/best");
    std::string best_name;
    double best_loss = 0;
    const bool have = static_cast<bool>(best_in >> best_name >> best_loss);
    if (!have || *validation_loss < best_loss || !fs::exists(dir_ + "/" + best_name)) {
      const auto line = fmt::format("{} {}\n", name, *validation_loss);
      atomic_write(dir_ + "/best", {{line.data(), line.size()}});
    }
  }
  prune();
  return path;
}

void CheckpointStore::prune() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_)) {
    const auto n = e.path().filename().string();
    if (n.rfind("step-", 0) == 0 && e.path().extension() == ".safetensors") names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  std::string best;
  std::ifstream(dir_ + "/best") >> best;
  const int excess = static_cast<int>(names.size()) - keep_;
  for (int i = 0; i < excess; ++i)
    if (names[static_cast<size_t>(i)] != best) fs::remove(dir_ + "/" + names[static_cast<size_t>(i)]);
}

std::optional<std::string> CheckpointStore::latest() const { return resolve(fs::path(dir_).parent_path().string()); }

std::optional<std::string> CheckpointStore::resolve(const std::string& run_dir_or_file) {
  if (fs::is_regular_file(run_dir_or_file)) return run_dir_or_file;
  for (const auto& dir : {run_dir_or_file + "/checkpoints", run_dir_or_file}) {
    std::ifstream in(dir + "/latest");
    std::string name;
    if (in >> name) {
      const auto path = dir + "/" + name;
      if (!fs::is_regular_file(path))
        throw DataError(fmt::format("{}/latest names {}, which does not exist", dir, name));
      return path;
    }
  }
  return std::nullopt;
}

}  // namespace diffwave
