// Shard open + index + crop reads. The bytes do not mutate an HDF5 file (libhdf5's own parser is
// not ours to fix); they steer a builder that writes a well-formed HDF5 file through the HDF5 API
// whose every attribute and dataset may be missing, of another class, type, rank or length, or
// hold values that disagree. An empty input builds a valid shard, so the fuzzer starts from one.
// ShardReader must refuse what it cannot read with diffwave::Error, and read what it accepts.
#include <fuzzer/FuzzedDataProvider.h>
#include <hdf5.h>

#include <limits>
#include <vector>

#include "common/error.h"
#include "data/shard_format.h"
#include "data/shard_reader.h"
#include "fuzz_util.h"

using namespace diffwave;

namespace {

struct H {
  hid_t id;
  herr_t (*close)(hid_t);
  ~H() {
    if (id >= 0) close(id);
  }
};

int64_t any_int64(FuzzedDataProvider& f) {
  switch (f.ConsumeIntegralInRange<int>(0, 4)) {
    case 0: return std::numeric_limits<int64_t>::max() - f.ConsumeIntegralInRange<int64_t>(0, 4);
    case 1: return std::numeric_limits<int64_t>::min() + f.ConsumeIntegralInRange<int64_t>(0, 4);
    case 2: return -f.ConsumeIntegralInRange<int64_t>(0, 1000);
    case 3: return int64_t{1} << f.ConsumeIntegralInRange<int>(0, 62);
    default: return f.ConsumeIntegral<int64_t>();
  }
}

hid_t vlen_string() {
  const hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

// A dataspace of `count` elements: scalar when count < 0, else 1-D, or 2-D [2, count] when two_d.
hid_t space_of(int64_t count, bool two_d = false) {
  if (count < 0) return H5Screate(H5S_SCALAR);
  if (two_d) {
    const hsize_t dims[2] = {2, static_cast<hsize_t>(count)};
    return H5Screate_simple(2, dims, nullptr);
  }
  const hsize_t dims[1] = {static_cast<hsize_t>(count)};
  return H5Screate_simple(1, dims, nullptr);
}

// An attribute or dataset written as strings (variable or fixed length) or numbers.
struct Writer {
  hid_t file;
  bool dataset;  // else an attribute of the root group
  const char* name;

  void put(hid_t type, hid_t space, const void* data) const {
    if (dataset) {
      H lcpl{H5Pcreate(H5P_LINK_CREATE), H5Pclose};
      H5Pset_create_intermediate_group(lcpl.id, 1);
      H d{H5Dcreate2(file, name, type, space, lcpl.id, H5P_DEFAULT, H5P_DEFAULT), H5Dclose};
      if (d.id >= 0 && data) H5Dwrite(d.id, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    } else {
      H a{H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
      if (a.id >= 0 && data) H5Awrite(a.id, type, data);
    }
  }
  void strings(const std::vector<std::string>& values, int64_t count, bool two_d = false) const {
    H type{vlen_string(), H5Tclose};
    const size_t n = count < 0 ? 1 : static_cast<size_t>(count) * (two_d ? 2 : 1);
    std::vector<const char*> raw(n, "");
    for (size_t i = 0; i < n && i < values.size(); ++i) raw[i] = values[i].c_str();
    H space{space_of(count, two_d), H5Sclose};
    put(type.id, space.id, raw.data());
  }
  void fixed_strings(const std::vector<std::string>& values, int64_t count, size_t width) const {
    H type{H5Tcopy(H5T_C_S1), H5Tclose};
    H5Tset_size(type.id, width);
    const size_t n = count < 0 ? 1 : static_cast<size_t>(count);
    std::string buffer(n * width, '\0');
    for (size_t i = 0; i < n && i < values.size(); ++i) buffer.replace(i * width, std::min(width, values[i].size()), values[i].substr(0, width));
    H space{space_of(count), H5Sclose};
    put(type.id, space.id, buffer.data());
  }
  template <class T>
  void numbers(hid_t type, std::vector<T> values, int64_t count, bool two_d = false) const {
    values.resize(count < 0 ? 1 : static_cast<size_t>(count) * (two_d ? 2 : 1));
    H space{space_of(count, two_d), H5Sclose};
    put(type, space.id, values.data());
  }
  void null_space() const {
    H space{H5Screate(H5S_NULL), H5Sclose};
    put(H5T_NATIVE_INT64, space.id, nullptr);
  }
};

// A root attribute that should hold one number (`value`) or one string (`text`).
void attribute(FuzzedDataProvider& f, hid_t file, const char* name, double value, bool integer, const std::string* text) {
  const Writer w{file, false, name};
  const auto put_right_class = [&](int64_t count, bool two_d = false) {
    if (text) w.strings(std::vector<std::string>(static_cast<size_t>(std::max<int64_t>(count, 1) * 2), *text), count, two_d);
    else if (integer) w.numbers<int64_t>(H5T_NATIVE_INT64, std::vector<int64_t>(1, static_cast<int64_t>(value)), count, two_d);
    else w.numbers<double>(H5T_NATIVE_DOUBLE, std::vector<double>(1, value), count, two_d);
  };
  switch (f.ConsumeIntegralInRange<int>(0, 15)) {
    case 1: return;  // missing
    case 2:          // the other class
      if (text) w.numbers<int64_t>(H5T_NATIVE_INT64, {f.ConsumeIntegral<int64_t>()}, -1);
      else w.strings({f.ConsumeRandomLengthString(16)}, -1);
      return;
    case 3: put_right_class(f.ConsumeIntegralInRange<int64_t>(0, 80)); return;  // an array
    case 4:  // another value
      if (text) w.strings({f.ConsumeRandomLengthString(40)}, -1);
      else if (integer) w.numbers<int64_t>(H5T_NATIVE_INT64, {any_int64(f)}, -1);
      else w.numbers<double>(H5T_NATIVE_DOUBLE, {f.ConsumeFloatingPoint<double>()}, -1);
      return;
    case 5:  // fixed-length strings, or a narrower number type
      if (text) {
        const int64_t count = f.ConsumeIntegralInRange<int64_t>(-1, 70);
        w.fixed_strings(std::vector<std::string>(static_cast<size_t>(std::max<int64_t>(count, 1)), *text), count,
                        f.ConsumeIntegralInRange<size_t>(1, 64));
      } else {
        w.numbers<int8_t>(H5T_NATIVE_INT8, {static_cast<int8_t>(static_cast<int64_t>(value))}, -1);  // wraps
      }
      return;
    case 6: w.null_space(); return;
    case 7: put_right_class(f.ConsumeIntegralInRange<int64_t>(0, 40), true); return;
    default: put_right_class(-1); return;  // as diffwave-prep writes it
  }
}

// A dataset that should be 1-D int64 (or int8) with `values`.
template <class T>
void column(FuzzedDataProvider& f, hid_t file, const char* name, hid_t type, std::vector<T> values) {
  const Writer w{file, true, name};
  const auto n = static_cast<int64_t>(values.size());
  switch (f.ConsumeIntegralInRange<int>(0, 15)) {
    case 1: return;
    case 2:
      if (!values.empty()) values[f.ConsumeIntegralInRange<size_t>(0, values.size() - 1)] = static_cast<T>(any_int64(f));
      w.numbers<T>(type, values, n);
      return;
    case 3: w.numbers<T>(type, values, n + f.ConsumeIntegralInRange<int64_t>(-3, 3) * (n > 0 ? 1 : 0) + (n == 0)); return;
    case 4: w.strings(std::vector<std::string>(values.size(), "7"), n); return;
    case 5: w.numbers<T>(type, values, n, true); return;
    case 6: w.numbers<T>(type, values, -1); return;
    case 7:
      for (auto& v : values) v = static_cast<T>(f.ConsumeIntegralInRange<int64_t>(-2, 600));
      w.numbers<T>(type, values, n);
      return;
    case 8: w.numbers<double>(H5T_NATIVE_DOUBLE, std::vector<double>(values.begin(), values.end()), n); return;
    default: w.numbers<T>(type, values, n); return;
  }
}

// /audio or /mel: `rows` rows of `width` values (width 0: 1-D).
void data_set(FuzzedDataProvider& f, hid_t file, const char* name, hid_t type, int64_t rows, int64_t width) {
  std::vector<hsize_t> dims{static_cast<hsize_t>(rows)};
  if (width > 0) dims.push_back(static_cast<hsize_t>(width));
  bool write_data = true;
  switch (f.ConsumeIntegralInRange<int>(0, 15)) {
    case 1: return;
    case 2: dims[0] = static_cast<hsize_t>(std::max<int64_t>(0, rows + f.ConsumeIntegralInRange<int64_t>(-5, 5))); break;
    case 3: if (width > 0) dims.pop_back(); else dims.push_back(1 + f.ConsumeIntegralInRange<hsize_t>(0, 3)); break;
    case 4: type = f.ConsumeBool() ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE; break;
    case 5:  // declared far larger than the file holds (never written: reads give the fill value)
      dims[0] = hsize_t{1} << f.ConsumeIntegralInRange<int>(20, 50);
      write_data = false;
      break;
    case 6: if (width > 0) dims[1] = static_cast<hsize_t>(f.ConsumeIntegralInRange<int64_t>(0, 9)); break;
    default: break;
  }
  hsize_t total = 1;
  for (auto d : dims) total *= d;
  H space{H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose};
  H lcpl{H5Pcreate(H5P_LINK_CREATE), H5Pclose};
  H d{H5Dcreate2(file, name, type, space.id, lcpl.id, H5P_DEFAULT, H5P_DEFAULT), H5Dclose};
  if (d.id < 0 || !write_data || total == 0) return;
  std::vector<double> values(total);
  for (size_t i = 0; i < values.size(); ++i) values[i] = double(i % 7) / 8.0;
  H5Dwrite(d.id, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider f(data, size);
  AudioConfig audio;  // small mels keep the files small; the reader checks them like any other
  audio.hop_samples = 64;
  audio.n_mels = 4;
  audio.n_fft = 256;
  const std::string path = fuzz::path("shard.h5");
  {
    // The index of a valid shard: 1 to 6 utterances of a few hops each.
    const int n = 1 + f.ConsumeIntegralInRange<int>(0, 5);
    std::vector<std::string> ids;
    std::vector<int64_t> audio_offset, audio_length, mel_offset, mel_frames;
    std::vector<int8_t> validation;
    int64_t samples = 0, frames = 0;
    for (int i = 0; i < n; ++i) {
      ids.push_back("utt" + std::to_string(i));
      const int64_t len = 64 + f.ConsumeIntegralInRange<int64_t>(0, 300);
      audio_offset.push_back(samples);
      audio_length.push_back(len);
      mel_offset.push_back(frames);
      mel_frames.push_back(mel_frames_for(len, audio.hop_samples));
      validation.push_back(static_cast<int8_t>(i % 2));
      samples += len;
      frames += mel_frames.back();
    }
    H file{H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose};
    if (file.id < 0) fuzz::fail("cannot create " + path);
    const std::string int16 = f.ConsumeBool() ? "float32" : "int16", norm = kMelNormalisation;
    attribute(f, file.id, "format_version", double(kShardFormatVersion), true, nullptr);
    attribute(f, file.id, "audio_dtype", 0, false, &int16);
    attribute(f, file.id, "mel_normalisation", 0, false, &norm);
    for (const auto& p : shard_parameters(audio)) attribute(f, file.id, p.name, p.value, p.integer, nullptr);
    // ids: as written, or of another kind
    {
      const Writer w{file.id, true, "/index/id"};
      switch (f.ConsumeIntegralInRange<int>(0, 15)) {
        case 1: break;
        case 2: w.fixed_strings(ids, n, f.ConsumeIntegralInRange<size_t>(1, 8)); break;
        case 3: w.numbers<int64_t>(H5T_NATIVE_INT64, {}, n); break;
        case 4: ids[f.ConsumeIntegralInRange<size_t>(0, ids.size() - 1)] = ids[0]; w.strings(ids, n); break;
        case 5: w.strings(ids, n + f.ConsumeIntegralInRange<int64_t>(-1, 2)); break;
        case 6:
          for (auto& id : ids) id = f.ConsumeRandomLengthString(12);
          w.strings(ids, n);
          break;
        case 7: w.strings(ids, n, true); break;
        default: w.strings(ids, n); break;
      }
    }
    column<int64_t>(f, file.id, "/index/audio_offset", H5T_NATIVE_INT64, audio_offset);
    column<int64_t>(f, file.id, "/index/audio_length", H5T_NATIVE_INT64, audio_length);
    column<int64_t>(f, file.id, "/index/mel_offset", H5T_NATIVE_INT64, mel_offset);
    column<int64_t>(f, file.id, "/index/mel_frames", H5T_NATIVE_INT64, mel_frames);
    column<int8_t>(f, file.id, "/index/validation", H5T_NATIVE_INT8, validation);
    data_set(f, file.id, "/audio", int16 == "int16" ? H5T_STD_I16LE : H5T_IEEE_F32LE, samples, 0);
    data_set(f, file.id, "/mel", H5T_IEEE_F32LE, frames, audio.n_mels);
  }
  try {
    ShardReader r(path, audio, "fuzz");
    if (r.audio_dtype() != "int16" && r.audio_dtype() != "float32") fuzz::fail("accepted audio_dtype " + r.audio_dtype());
    // Crops as training reads them, near and past the ends of an utterance, then whole ones.
    for (int k = 0; k < 4 && r.size() > 0 && f.remaining_bytes() > 0; ++k) {
      const size_t i = f.ConsumeIntegralInRange<size_t>(0, r.size() - 1);
      const int64_t len = r.audio_length(i), frames = r.mel_frames(i);
      const int64_t first = f.ConsumeIntegralInRange<int64_t>(-2, 400), count = f.ConsumeIntegralInRange<int64_t>(-1, 400);
      try {
        if (r.audio(i, first, count).size() != static_cast<size_t>(count)) fuzz::fail("audio crop of the wrong size");
      } catch (const Error&) {
        if (first >= 0 && count >= 0 && first + count <= len) fuzz::fail("a crop inside the utterance was refused");
      }
      const int64_t first_frame = f.ConsumeIntegralInRange<int64_t>(-2, 10), n_frames = f.ConsumeIntegralInRange<int64_t>(-1, 10);
      try {
        if (r.mel(i, first_frame, n_frames).size() != static_cast<size_t>(n_frames * audio.n_mels))
          fuzz::fail("mel crop of the wrong size");
      } catch (const Error&) {
        if (first_frame >= 0 && n_frames >= 0 && first_frame + n_frames <= frames) fuzz::fail("a mel crop inside the utterance was refused");
      }
    }
    for (size_t i = 0; i < r.size(); ++i) {
      if (r.audio(i).size() != static_cast<size_t>(r.audio_length(i))) fuzz::fail("whole utterance of the wrong size");
      if (r.mel(i).size() != static_cast<size_t>(r.mel_frames(i) * audio.n_mels)) fuzz::fail("whole mel of the wrong size");
    }
  } catch (const Error&) {
  }
  return 0;
}
