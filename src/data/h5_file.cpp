#include "data/h5_file.h"

#include <fmt/format.h>
#include <hdf5.h>

#include <mutex>
#include <utility>

#include "common/error.h"

namespace diffwave {

namespace {

// HDF5 prints its own error stack to stderr by default; we raise DataError instead.
void silence_hdf5() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

// Closes an HDF5 handle of any kind when it goes out of scope.
struct Handle {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Handle() {
    if (id >= 0) close(id);
  }
};

}  // namespace

H5File H5File::open(const std::string& path) {
  silence_hdf5();
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) throw DataError(fmt::format("{}: cannot open as HDF5 (missing, unreadable or not HDF5)", path));
  return H5File(id, path);
}

H5File::H5File(H5File&& o) noexcept : id_(std::exchange(o.id_, -1)), path_(std::move(o.path_)) {}

H5File& H5File::operator=(H5File&& o) noexcept {
  if (this != &o) {
    if (id_ >= 0) H5Fclose(id_);
    id_ = std::exchange(o.id_, -1);
    path_ = std::move(o.path_);
  }
  return *this;
}

H5File::~H5File() {
  if (id_ >= 0) H5Fclose(id_);
}

bool H5File::exists(const std::string& object) const {
  if (object == "/") return true;
  // Each component must exist before H5Lexists may be asked about the next one.
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = object.find('/', pos + 1);
    const auto prefix = object.substr(0, pos);
    if (prefix.empty() || prefix == "/") continue;
    if (H5Lexists(id_, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return true;
}

std::vector<std::string> H5File::members(const std::string& group) const {
  Handle g{H5Gopen2(id_, group.c_str(), H5P_DEFAULT), H5Gclose};
  if (g.id < 0) throw DataError(fmt::format("{}: no group '{}'", path_, group));
  H5G_info_t info;
  H5Gget_info(g.id, &info);
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t len = H5Lget_name_by_idx(g.id, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    std::string name(static_cast<size_t>(len), '\0');
    H5Lget_name_by_idx(g.id, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), len + 1, H5P_DEFAULT);
    names.push_back(name);
  }
  return names;
}

std::vector<int64_t> H5File::shape(const std::string& dataset) const {
  if (!exists(dataset)) throw DataError(fmt::format("{}: no dataset '{}'", path_, dataset));
  Handle d{H5Dopen2(id_, dataset.c_str(), H5P_DEFAULT), H5Dclose};
  if (d.id < 0) throw DataError(fmt::format("{}: '{}' is not a dataset", path_, dataset));
  Handle space{H5Dget_space(d.id), H5Sclose};
  const int rank = H5Sget_simple_extent_ndims(space.id);
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.id, dims.data(), nullptr);
  return std::vector<int64_t>(dims.begin(), dims.end());
}

template <class T>
std::vector<T> H5File::read(const std::string& dataset, int64_t mem_type, std::vector<int64_t>* shape_out) const {
  const auto dims = shape(dataset);
  size_t count = 1;
  for (auto d : dims) count *= static_cast<size_t>(d);
  std::vector<T> data(count);
  Handle d{H5Dopen2(id_, dataset.c_str(), H5P_DEFAULT), H5Dclose};
  if (count > 0 && H5Dread(d.id, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()) < 0)
    throw DataError(fmt::format("{}: cannot read dataset '{}' (corrupt, or not numeric)", path_, dataset));
  if (shape_out) *shape_out = dims;
  return data;
}

std::vector<float> H5File::read_float(const std::string& dataset, std::vector<int64_t>* shape) const {
  return read<float>(dataset, H5T_NATIVE_FLOAT, shape);
}
std::vector<double> H5File::read_double(const std::string& dataset, std::vector<int64_t>* shape) const {
  return read<double>(dataset, H5T_NATIVE_DOUBLE, shape);
}
std::vector<int64_t> H5File::read_int64(const std::string& dataset, std::vector<int64_t>* shape) const {
  return read<int64_t>(dataset, H5T_NATIVE_INT64, shape);
}

bool H5File::has_attribute(const std::string& object, const std::string& name) const {
  return exists(object) && H5Aexists_by_name(id_, object.c_str(), name.c_str(), H5P_DEFAULT) > 0;
}

template <class T>
std::vector<T> H5File::read_attribute(const std::string& object, const std::string& name, int64_t mem_type) const {
  if (!has_attribute(object, name))
    throw DataError(fmt::format("{}: '{}' has no attribute '{}'", path_, object, name));
  Handle a{H5Aopen_by_name(id_, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  Handle space{H5Aget_space(a.id), H5Sclose};
  const hssize_t n = H5Sget_simple_extent_npoints(space.id);
  std::vector<T> values(static_cast<size_t>(n));
  if (H5Aread(a.id, mem_type, values.data()) < 0)
    throw DataError(fmt::format("{}: cannot read attribute '{}' of '{}' as a number", path_, name, object));
  return values;
}

int64_t H5File::attribute_int(const std::string& object, const std::string& name) const {
  auto v = read_attribute<int64_t>(object, name, H5T_NATIVE_INT64);
  if (v.size() != 1) throw DataError(fmt::format("{}: attribute '{}' of '{}' is not a scalar", path_, name, object));
  return v[0];
}

std::vector<double> H5File::attribute_doubles(const std::string& object, const std::string& name) const {
  return read_attribute<double>(object, name, H5T_NATIVE_DOUBLE);
}

std::string H5File::attribute_string(const std::string& object, const std::string& name) const {
  if (!has_attribute(object, name))
    throw DataError(fmt::format("{}: '{}' has no attribute '{}'", path_, object, name));
  Handle a{H5Aopen_by_name(id_, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  Handle type{H5Aget_type(a.id), H5Tclose};
  if (H5Tget_class(type.id) != H5T_STRING)
    throw DataError(fmt::format("{}: attribute '{}' of '{}' is not a string", path_, name, object));
  if (H5Tis_variable_str(type.id) > 0) {
    Handle mem{H5Tcopy(H5T_C_S1), H5Tclose};
    H5Tset_size(mem.id, H5T_VARIABLE);
    H5Tset_cset(mem.id, H5Tget_cset(type.id));
    char* value = nullptr;
    if (H5Aread(a.id, mem.id, &value) < 0 || !value)
      throw DataError(fmt::format("{}: cannot read attribute '{}' of '{}'", path_, name, object));
    std::string out(value);
    H5free_memory(value);
    return out;
  }
  const size_t size = H5Tget_size(type.id);
  std::string out(size, '\0');
  if (H5Aread(a.id, type.id, out.data()) < 0)
    throw DataError(fmt::format("{}: cannot read attribute '{}' of '{}'", path_, name, object));
  return out.substr(0, out.find('\0'));
}

}  // namespace diffwave
