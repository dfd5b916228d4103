// Shards from elsewhere: attributes of the wrong shape or type. Damaged files are made with
// HDF5's C API directly (the library itself never writes them), so these tests need hdf5.h:
// Debian keeps it in hdf5/serial/.
#include <gtest/gtest.h>

#include "common/error.h"
#include "data/shard_format.h"
#include "data/shard_reader.h"
#include "data/shard_writer.h"
#include "support/prep_corpus.h"

#if __has_include(<hdf5.h>)
#include <hdf5.h>
#define DIFFWAVE_TEST_HDF5 1
#elif __has_include(<hdf5/serial/hdf5.h>)
#include <hdf5/serial/hdf5.h>
#define DIFFWAVE_TEST_HDF5 1
#endif

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

#ifdef DIFFWAVE_TEST_HDF5
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
#endif

}  // namespace

TEST(ShardHostile, AStringAttributeOfManyElementsIsRefusedNamingIt) {
#ifndef DIFFWAVE_TEST_HDF5
  GTEST_SKIP() << "hdf5.h not found: cannot make the damaged shard";
#else
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
#endif
}
