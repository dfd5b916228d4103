#include <gtest/gtest.h>
#include <torch/torch.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "checkpoint/checkpoint_store.h"

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

// A writer killed mid-file (SIGKILL as it passes 1 MiB) leaves its temporary; the previous
// checkpoint stays the latest, and the next start removes the dead writer's leftover.
TEST(CheckpointStore, AWriterKilledMidFileLeavesThePreviousCheckpointAndItsLeftoverIsPruned) {
  auto run = fresh_dir("kill");
  const auto dir = run + "/checkpoints";
  CheckpointStore(run, 3).save(5, sample_checkpoint());
  auto big = sample_checkpoint();
  big.tensors["big"] = torch::zeros({int64_t{4} << 20});  // 16 MiB
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Past 1 MiB the kernel raises SIGXFSZ, whose handler kills the writer outright.
    const rlimit no_core{0, 0}, one_mib{1 << 20, 1 << 20};
    ::setrlimit(RLIMIT_CORE, &no_core);
    ::setrlimit(RLIMIT_FSIZE, &one_mib);
    ::signal(SIGXFSZ, [](int) { ::kill(::getpid(), SIGKILL); });
    CheckpointStore(run, 3).save(6, big);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the writer was not killed: status " << status;
  const auto leftover = dir + "/step-000000006.safetensors.tmp." + std::to_string(child);
  ASSERT_TRUE(fs::exists(leftover));
  EXPECT_EQ(fs::file_size(leftover), 1u << 20);
  EXPECT_FALSE(fs::exists(dir + "/step-000000006.safetensors"));
  EXPECT_EQ(*CheckpointStore::resolve(run), dir + "/step-000000005.safetensors");
  EXPECT_NO_THROW(read_checkpoint(*CheckpointStore::resolve(run)));
  // A live writer's temporary (this process's) is kept; one untouched for two hours is not.
  const auto live = dir + "/step-000000007.safetensors.tmp." + std::to_string(::getpid());
  const auto old = dir + "/latest.tmp." + std::to_string(::getppid());
  std::ofstream(live) << "partial";
  std::ofstream(old) << "partial";
  fs::last_write_time(old, fs::file_time_type::clock::now() - std::chrono::hours(2));
  CheckpointStore restarted(run, 3);
  EXPECT_FALSE(fs::exists(leftover));
  EXPECT_FALSE(fs::exists(old));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_EQ(*restarted.latest(), dir + "/step-000000005.safetensors");
}

namespace {

// The checkpoint layout written by hand: `header` (with metadata naming the format and the CRC-32
// of `checksummed`, the bytes the reader checksums, unless it has metadata), then `data`.
// `pad` more spaces end the header.
std::string write_raw(const std::string& path, nlohmann::json header, const std::string& data,
                      const std::string& checksummed, size_t pad = 0) {
  if (header.is_object() && !header.contains("__metadata__"))
    header["__metadata__"] = {
        {"format", kCheckpointFormat},
        {"data_crc32", std::to_string(crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(checksummed.data()),
                                            static_cast<uInt>(checksummed.size())))}};
  std::string text = header.dump() + std::string(pad, ' ');
  text.resize((text.size() + 7) / 8 * 8, ' ');
  const uint64_t length = text.size();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(&length), 8);
  out << text << data;
  return path;
}

void expect_refused(const std::string& path, const std::string& names) {
  try {
    read_checkpoint(path);
    ADD_FAILURE() << path << " was read; expected an error naming " << names;
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(names), std::string::npos) << e.what();
  }
}

}  // namespace

// Every header that does not describe its data is refused naming the file and the tensor or key,
// before anything the size of a tensor is allocated.
TEST(Checkpoint, AHeaderThatDoesNotDescribeItsDataIsRefused) {
  using nlohmann::json;
  const auto dir = fresh_dir("header");
  const std::string data(32, '\x01');
  const auto f32 = [](json shape, json offsets) { return json{{"dtype", "F32"}, {"shape", shape}, {"data_offsets", offsets}}; };
  auto path = [&](const std::string& name) { return dir + "/" + name + ".safetensors"; };
  expect_refused(write_raw(path("one-offset"), {{"w", f32({4}, {0})}}, data, data.substr(0, 16)), "'w'");
  expect_refused(write_raw(path("no-shape"), {{"w", {{"dtype", "F32"}, {"data_offsets", {0, 16}}}}}, data, data), "'w'");
  expect_refused(write_raw(path("no-dtype"), {{"w", {{"shape", {4}}, {"data_offsets", {0, 16}}}}}, data, data), "'w'");
  expect_refused(write_raw(path("not-an-entry"), {{"w", 5}}, data, data), "'w'");
  expect_refused(write_raw(path("unknown-dtype"), {{"w", {{"dtype", "Q7"}, {"shape", {4}}, {"data_offsets", {0, 16}}}}},
                           data, data),
                 "'w'");
  expect_refused(write_raw(path("64-gib"), {{"w", f32({int64_t{17179869184}}, {0, 16})}}, data, data), "'w'");
  expect_refused(write_raw(path("negative"), {{"w", f32({-1}, {0, 16})}}, data, data), "'w'");
  expect_refused(write_raw(path("overflow"), {{"w", f32({int64_t{1} << 62, 4}, {0, 16})}}, data, data), "'w'");
  expect_refused(write_raw(path("fraction"), {{"w", f32({4.5}, {0, 16})}}, data, data), "'w'");
  // Two tensors over the same bytes, with a CRC that matches what a reader checksums.
  expect_refused(write_raw(path("overlap"), {{"a", f32({4}, {0, 16})}, {"b", f32({4}, {8, 24})}}, data,
                           data.substr(0, 16) + data.substr(8, 16)),
                 "'b'");
  // Offsets that wrap past 2^64 back into the header (whose last bytes are spaces).
  const uint64_t top = ~uint64_t{0};
  expect_refused(write_raw(path("wrap"), {{"w", f32({4}, {top - 16, top})}}, data, std::string(16, ' '), 24), "'w'");
  expect_refused(write_raw(path("past-end"), {{"w", f32({16}, {0, 64})}}, data, data), "'w'");
  // Metadata must be strings.
  expect_refused(write_raw(path("meta"), {{"__metadata__", {{"format", 1}}}}, data, data), "'format'");
  expect_refused(write_raw(path("meta-list"), {{"__metadata__", {1, 2}}}, data, data), "__metadata__");
  expect_refused(write_raw(path("array"), json::array({1, 2}), data, data), "header");
}
