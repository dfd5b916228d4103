// Shards from elsewhere: attributes of the wrong shape or type, an index whose sums wrap, and
// HDF5 used from two threads. Damaged files are made with HDF5's C API directly (the library
// itself never writes them), so this test links HDF5's C API.
#include <gtest/gtest.h>

#include <atomic>
#include <limits>
#include <thread>

#include "common/error.h"
#include "data/shard_format.h"
#include "data/shard_reader.h"
#include "data/shard_writer.h"
#include "support/prep_corpus.h"

#include <hdf5.h>  // linked for this test alone (tests/CMakeLists.txt)

using namespace diffwave;
using diffwave::test::TempDir;

namespace {

// A valid shard of one utterance of `samples` samples (its mel: `frames` frames, default the
// right number).
void write_shard(const std::string& path, const Config& c, int64_t samples, int64_t frames = -1) {
  if (frames < 0) frames = mel_frames_for(samples, c.audio.hop_samples);
  ShardWriter w(path, c.audio, c.prep);
  auto x = test::test_tone(double(samples) / c.audio.sample_rate + 0.01, c.audio.sample_rate, 1);
  x.resize(static_cast<size_t>(samples));
  const std::vector<float> mel(static_cast<size_t>(frames * c.audio.n_mels), 0.5f);
  w.add("utt", x, mel.data(), frames, false);
  w.finish();
}

void expect_refused(const std::string& path, const Config& c, const std::string& names) {
  try {
    ShardReader reader(path, c.audio);
    ADD_FAILURE() << path << " opened; expected an error naming " << names;
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(names), std::string::npos) << e.what();
  }
}

// Replaces a root attribute by a 1-D array of `count` strings: variable-length, or `width` bytes each.
void replace_with_string_array(const std::string& path, const char* name, size_t count, size_t width) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  H5Adelete_by_name(file, "/", name, H5P_DEFAULT);
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, width ? width : H5T_VARIABLE);
  const hsize_t dims[1] = {count};
  const hid_t space = H5Screate_simple(1, dims, nullptr);
  const hid_t attr = H5Acreate_by_name(file, "/", name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  std::vector<std::string> values(count, "int16");
  std::vector<const char*> pointers;
  std::string fixed;
  for (const auto& v : values) {
    pointers.push_back(v.c_str());
    fixed += v + std::string(width > v.size() ? width - v.size() : 0, '\0');
  }
  EXPECT_GE(H5Awrite(attr, type, width ? static_cast<const void*>(fixed.data()) : pointers.data()), 0);
  H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
  H5Fclose(file);
}

// Replaces a 1-D dataset by `count` elements at `data` (`mem_type` in memory, `file_type` stored).
void replace_dataset(hid_t file, const char* name, hid_t file_type, hid_t mem_type, const void* data, hsize_t count) {
  H5Ldelete(file, name, H5P_DEFAULT);
  const hid_t space = H5Screate_simple(1, &count, nullptr);
  const hid_t d = H5Dcreate2(file, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  EXPECT_GE(H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
  H5Dclose(d);
  H5Sclose(space);
}
void replace_dataset(hid_t file, const char* name, const std::vector<int64_t>& values) {
  replace_dataset(file, name, H5T_STD_I64LE, H5T_NATIVE_INT64, values.data(), values.size());
}
void replace_dataset(hid_t file, const char* name, const std::vector<std::string>& ids) {
  std::vector<const char*> pointers;
  for (const auto& id : ids) pointers.push_back(id.c_str());
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  replace_dataset(file, name, type, type, pointers.data(), ids.size());
  H5Tclose(type);
}

}  // namespace

TEST(ShardHostile, AStringAttributeOfManyElementsIsRefusedNamingIt) {
  TempDir dir;
  Config c;
  for (size_t width : {size_t{0}, size_t{16}}) {  // variable-length, and 16-byte strings
    const auto path = dir / ("dtype" + std::to_string(width) + ".h5");
    write_shard(path, c, 4096);
    replace_with_string_array(path, "audio_dtype", 64, width);
    expect_refused(path, c, "audio_dtype");
  }
  // A number stored as a string.
  const auto path = dir / "rate.h5";
  write_shard(path, c, 4096);
  replace_with_string_array(path, "sample_rate", 1, 0);
  expect_refused(path, c, "sample_rate");
}

// Lengths near 2^63 whose running sums wrap to exactly the sizes of /audio and /mel.
TEST(ShardHostile, IndexSumsThatWrapAreRefused) {
  TempDir dir;
  Config c;
  const auto path = dir / "wrap.h5";
  write_shard(path, c, 256, 514);
  const int64_t huge = std::numeric_limits<int64_t>::max() - 255;  // 2^63 - 256: 2^55 frames
  std::vector<std::string> ids;
  std::vector<int64_t> lengths, frames, audio_offsets, mel_offsets, validation;
  uint64_t audio_end = 0, mel_end = 0;
  for (int i = 0; i <= 512; ++i) {
    const int64_t length = i < 512 ? huge : (int64_t{1} << 17) + 256;
    ids.push_back("u" + std::to_string(i));
    lengths.push_back(length);
    frames.push_back(mel_frames_for(length, 256));
    audio_offsets.push_back(static_cast<int64_t>(audio_end));
    mel_offsets.push_back(static_cast<int64_t>(mel_end));
    validation.push_back(0);
    audio_end += static_cast<uint64_t>(length);
    mel_end += static_cast<uint64_t>(frames.back());
  }
  ASSERT_EQ(audio_end, 256u);  // what /audio holds
  ASSERT_EQ(mel_end, 514u);    // what /mel holds
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  replace_dataset(file, "/index/id", ids);
  replace_dataset(file, "/index/audio_offset", audio_offsets);
  replace_dataset(file, "/index/audio_length", lengths);
  replace_dataset(file, "/index/mel_offset", mel_offsets);
  replace_dataset(file, "/index/mel_frames", frames);
  replace_dataset(file, "/index/validation", validation);
  H5Fclose(file);
  expect_refused(path, c, "index entry 0 ('u0')");
}

// HDF5 keeps one error stack per thread in its thread-safe builds: an error on the batch loader's
// thread must be an exception there too, not HDF5's own report on stderr.
TEST(ShardHostile, HdfErrorsOnAnotherThreadAreExceptionsNotPrinted) {
  TempDir dir;
  Config c;
  write_shard(dir / "ok.h5", c, 4096);
  ShardReader main_thread(dir / "ok.h5", c.audio);
  testing::internal::CaptureStderr();
  std::string error;
  std::thread([&] {
    try {
      H5File::open(dir / "missing.h5");
    } catch (const DataError& e) {
      error = e.what();
    }
  }).join();
  const auto printed = testing::internal::GetCapturedStderr();
  EXPECT_NE(error.find("missing.h5"), std::string::npos) << error;
  EXPECT_EQ(printed, "") << "HDF5 printed its error stack";
}

// Shards read from two threads at once (the trainer's validation and its batch loader) give
// the data they hold.
TEST(ShardHostile, TwoThreadsReadTheirShardsCorrectly) {
  TempDir dir;
  Config c;
  for (int k = 0; k < 2; ++k) write_shard(dir / (std::to_string(k) + ".h5"), c, 40000 + 4096 * k);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 2; ++k)
    threads.emplace_back([&, k] {
      const ShardReader r(dir / (std::to_string(k) + ".h5"), c.audio);
      const auto whole = r.audio(0);
      for (int i = 0; i < 300; ++i) {
        const ShardReader again(dir / (std::to_string(k) + ".h5"), c.audio);
        if (again.audio(0, 1000, 500) != std::vector<float>(whole.begin() + 1000, whole.begin() + 1500)) ++wrong;
        if (again.mel(0, 3, 2).size() != size_t(2 * c.audio.n_mels)) ++wrong;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}
