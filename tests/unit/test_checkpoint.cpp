#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "train/checkpoint.h"

namespace fs = std::filesystem;
using namespace diffwave;

namespace {
std::string fresh_dir(const std::string& name) {
  auto dir = fs::temp_directory_path() / ("diffwave_ckpt_" + name + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}
Checkpoint sample_checkpoint() {
  torch::manual_seed(0);
  Checkpoint ck;
  ck.tensors["model/w"] = torch::randn({3, 4});
  ck.tensors["model/b"] = torch::randn({4}).to(torch::kDouble);
  ck.tensors["rng/cpu"] = torch::randint(0, 255, {32}, torch::kByte);
  ck.tensors["step"] = torch::tensor({int64_t{41}});
  ck.tensors["half"] = torch::randn({5}).to(torch::kBFloat16);
  ck.metadata["step"] = "41";
  ck.metadata["config"] = "train:\n  batch_size: 16\n";
  return ck;
}
}  // namespace

TEST(Checkpoint, RoundTripIsBitExact) {
  auto path = fresh_dir("rt") + "/a.safetensors";
  auto ck = sample_checkpoint();
  write_checkpoint(path, ck);
  auto back = read_checkpoint(path);
  ASSERT_EQ(back.tensors.size(), ck.tensors.size());
  for (const auto& [name, t] : ck.tensors) {
    EXPECT_EQ(back.tensor(name).scalar_type(), t.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(back.tensor(name), t)) << name;
  }
  EXPECT_EQ(back.meta("config"), ck.metadata["config"]);
  EXPECT_THROW(back.tensor("nope"), DataError);
}

TEST(Checkpoint, CorruptionAndTruncationAreDetected) {
  auto path = fresh_dir("bad") + "/a.safetensors";
  write_checkpoint(path, sample_checkpoint());
  const auto size = fs::file_size(path);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size - 3));
    char c;
    f.read(&c, 1);
    f.seekp(static_cast<std::streamoff>(size - 3));
    c ^= 0x10;
    f.write(&c, 1);
  }
  try {
    read_checkpoint(path);
    FAIL() << "flipped bit not detected";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  fs::resize_file(path, size / 2);
  EXPECT_THROW(read_checkpoint(path), DataError);
  std::ofstream(path) << "not a checkpoint";
  EXPECT_THROW(read_checkpoint(path), DataError);
}

TEST(CheckpointStore, LatestPointerRetentionAndBest) {
  auto run = fresh_dir("store");
  CheckpointStore store(run, 2);
  EXPECT_FALSE(store.latest());
  auto ck = sample_checkpoint();
  store.save(10, ck, 0.5);
  store.save(20, ck, 0.3);  // best
  store.save(30, ck, 0.4);
  store.save(40, ck);
  EXPECT_EQ(*store.latest(), run + "/checkpoints/step-000000040.safetensors");
  EXPECT_TRUE(fs::exists(run + "/checkpoints/step-000000020.safetensors")) << "best must survive";
  EXPECT_TRUE(fs::exists(run + "/checkpoints/step-000000030.safetensors"));
  EXPECT_FALSE(fs::exists(run + "/checkpoints/step-000000010.safetensors"));
  EXPECT_EQ(*CheckpointStore::resolve(run), *store.latest());
  EXPECT_EQ(*CheckpointStore::resolve(run + "/checkpoints/step-000000020.safetensors"),
            run + "/checkpoints/step-000000020.safetensors");
  EXPECT_EQ(read_checkpoint(*store.latest()).meta("step"), "41");
}

TEST(CheckpointStore, InterruptedWriteLeavesThePreviousCheckpointUsable) {
  auto run = fresh_dir("kill");
  CheckpointStore store(run, 3);
  store.save(5, sample_checkpoint());
  // What a process killed mid-write leaves: a partial temporary file, `latest` untouched.
  std::ofstream(run + "/checkpoints/step-000000006.safetensors.tmp.999") << "partial";
  auto latest = store.latest();
  ASSERT_TRUE(latest);
  EXPECT_EQ(*latest, run + "/checkpoints/step-000000005.safetensors");
  EXPECT_NO_THROW(read_checkpoint(*latest));
}
