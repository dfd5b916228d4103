// A small RAII view of an HDF5 file: typed reads of datasets and attributes by path, with errors
// that name the file and the object. Used for shards and reference fixtures. No LibTorch here.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace diffwave {

class H5File {
 public:
  // Opens read-only. Throws DataError naming the path when it is missing or not HDF5.
  static H5File open(const std::string& path);
  H5File(H5File&& other) noexcept;
  H5File& operator=(H5File&& other) noexcept;
  H5File(const H5File&) = delete;
  H5File& operator=(const H5File&) = delete;
  ~H5File();

  const std::string& path() const { return path_; }
  bool exists(const std::string& object) const;  // a dataset or group at this path
  std::vector<std::string> members(const std::string& group) const;
  std::vector<int64_t> shape(const std::string& dataset) const;

  // Reads a whole dataset, converting to the requested type; the shape goes to *shape if given.
  std::vector<float> read_float(const std::string& dataset, std::vector<int64_t>* shape = nullptr) const;
  std::vector<double> read_double(const std::string& dataset, std::vector<int64_t>* shape = nullptr) const;
  std::vector<int64_t> read_int64(const std::string& dataset, std::vector<int64_t>* shape = nullptr) const;

  // Attributes on an object ("/" for the file's root).
  bool has_attribute(const std::string& object, const std::string& name) const;
  int64_t attribute_int(const std::string& object, const std::string& name) const;
  std::vector<double> attribute_doubles(const std::string& object, const std::string& name) const;
  std::string attribute_string(const std::string& object, const std::string& name) const;

 private:
  H5File(int64_t id, std::string path) : id_(id), path_(std::move(path)) {}
  template <class T>
  std::vector<T> read(const std::string& dataset, int64_t mem_type, std::vector<int64_t>* shape) const;
  template <class T>
  std::vector<T> read_attribute(const std::string& object, const std::string& name, int64_t mem_type) const;
  int64_t id_ = -1;  // hid_t, kept opaque so callers need no HDF5 headers
  std::string path_;
};

}  // namespace diffwave
