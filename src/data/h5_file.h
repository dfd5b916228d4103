// A small RAII view of an HDF5 file: typed reads and writes of datasets and attributes by path,
// with errors that name the file and the object. Used for shards and reference fixtures. Every
// HDF5 call of the program is made here, one thread at a time (h5_file.cpp says why), and the
// type, rank and size of what is read are checked before it is read. No LibTorch here.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace diffwave {

class H5File {
 public:
  // Element types a dataset can be created with.
  enum class Type { int8, int16, int64, float32 };

  // Opens read-only. Throws DataError naming the path when it is missing or not HDF5.
  static H5File open(const std::string& path);
  // Creates a file for writing, replacing any file at `path`. Throws DataError naming the path.
  static H5File create(const std::string& path);
  H5File(H5File&& other) noexcept;
  H5File& operator=(H5File&& other) noexcept;
  H5File(const H5File&) = delete;
  H5File& operator=(const H5File&) = delete;
  ~H5File();
  // Flushes and closes; throws DataError when the data cannot reach the disk (full, I/O error).
  // The destructor closes too, but cannot report such a failure.
  void close();

  const std::string& path() const { return path_; }
  bool exists(const std::string& object) const;  // a dataset or group at this path
  std::vector<std::string> members(const std::string& group) const;
  std::vector<int64_t> shape(const std::string& dataset) const;

  // Reads a whole dataset, converting to the requested type; the shape goes to *shape if given.
  std::vector<float> read_float(const std::string& dataset, std::vector<int64_t>* shape = nullptr) const;
  std::vector<double> read_double(const std::string& dataset, std::vector<int64_t>* shape = nullptr) const;
  std::vector<int64_t> read_int64(const std::string& dataset, std::vector<int64_t>* shape = nullptr) const;
  std::vector<std::string> read_strings(const std::string& dataset) const;  // 1-D, any string type
  // Rows [first, first + count) along the first dimension, converted to float.
  std::vector<float> read_float_rows(const std::string& dataset, int64_t first, int64_t count) const;

  // Writing (files from create()). Parent groups are created as needed.
  // A dataset of shape [0, row_shape...] that grows along its first dimension, stored in chunks
  // of `chunk_rows` rows; `gzip` adds the shuffle filter and deflate level 1.
  void create_growing(const std::string& dataset, Type type, const std::vector<int64_t>& row_shape,
                      int64_t chunk_rows, bool gzip);
  // Appends `rows` rows to a growing dataset. HDF5 converts to the dataset's element type, so
  // pass that type to store values exactly.
  void append(const std::string& dataset, const int16_t* data, int64_t rows);
  void append(const std::string& dataset, const float* data, int64_t rows);
  // Fixed-size 1-D datasets.
  void write(const std::string& dataset, const std::vector<int64_t>& values);
  void write(const std::string& dataset, const std::vector<int8_t>& values);
  void write_strings(const std::string& dataset, const std::vector<std::string>& values);  // UTF-8, variable length
  void set_attribute(const std::string& object, const std::string& name, int64_t value);
  void set_attribute(const std::string& object, const std::string& name, double value);
  void set_attribute(const std::string& object, const std::string& name, const std::string& value);  // UTF-8

  // Attributes on an object ("/" for the file's root).
  bool has_attribute(const std::string& object, const std::string& name) const;
  int64_t attribute_int(const std::string& object, const std::string& name) const;
  std::vector<double> attribute_doubles(const std::string& object, const std::string& name) const;
  std::string attribute_string(const std::string& object, const std::string& name) const;

 private:
  H5File(int64_t id, std::string path) : id_(id), path_(std::move(path)) {}
  template <class T>
  std::vector<T> read(const std::string& dataset, int64_t mem_type, std::vector<int64_t>* shape) const;
  void append_rows(const std::string& dataset, int64_t mem_type, const void* data, int64_t rows);
  void write_1d(const std::string& dataset, int64_t file_type, int64_t mem_type, const void* data, size_t count);
  void write_attribute(const std::string& object, const std::string& name, int64_t type, const void* value);
  template <class T>
  std::vector<T> read_attribute(const std::string& object, const std::string& name, int64_t mem_type) const;
  size_t attribute_points(int64_t attribute, const std::string& object, const std::string& name) const;
  size_t elements(const std::vector<int64_t>& dims, size_t size, const std::string& what) const;
  int64_t id_ = -1;  // hid_t, kept opaque so callers need no HDF5 headers
  std::string path_;
};

}  // namespace diffwave
