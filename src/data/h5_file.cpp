#include "data/h5_file.h"

#include <fmt/format.h>
#include <hdf5.h>

#include <algorithm>
#include <limits>
#include <mutex>
#include <utility>

#include "common/error.h"

namespace diffwave {

namespace {

// Every call into HDF5 in this program goes through this file, under this lock: the trainer
// reads validation shards on its main thread while the batch loader reads training shards, and
// the HDF5 builds of many cluster modules are not thread-safe. We lock always, not only when
// H5is_library_threadsafe() says no: a thread-safe HDF5 serialises every API call behind one
// global lock of its own, so ours takes no concurrency away, and every build runs the same code.
// Recursive: methods call each other. It also turns HDF5's error report on stderr off on each
// thread that calls in (a thread-safe HDF5 keeps one error stack, with printing on, per thread);
// we raise DataError instead.
class Hdf5Lock {
 public:
  Hdf5Lock() : lock_(mutex()) {
    thread_local bool silenced = false;
    if (!silenced) silenced = H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr) >= 0;
  }

 private:
  static std::recursive_mutex& mutex() {
    static std::recursive_mutex m;
    return m;
  }
  std::lock_guard<std::recursive_mutex> lock_;
};

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
  const Hdf5Lock lock;
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) throw DataError(fmt::format("{}: cannot open as HDF5 (missing, unreadable or not HDF5)", path));
  return H5File(id, path);
}

H5File H5File::create(const std::string& path) {
  const Hdf5Lock lock;
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (id < 0) throw DataError(fmt::format("{}: cannot create HDF5 file (folder missing or not writable?)", path));
  return H5File(id, path);
}

void H5File::close() {
  const Hdf5Lock lock;
  if (id_ < 0) return;
  const hid_t id = std::exchange(id_, -1);
  const herr_t flushed = H5Fflush(id, H5F_SCOPE_LOCAL);
  if (H5Fclose(id) < 0 || flushed < 0)
    throw DataError(fmt::format("{}: cannot write to disk (disk full or I/O error?)", path_));
}

H5File::H5File(H5File&& o) noexcept : id_(std::exchange(o.id_, -1)), path_(std::move(o.path_)) {}

H5File& H5File::operator=(H5File&& o) noexcept {
  const Hdf5Lock lock;
  if (this != &o) {
    if (id_ >= 0) H5Fclose(id_);
    id_ = std::exchange(o.id_, -1);
    path_ = std::move(o.path_);
  }
  return *this;
}

H5File::~H5File() {
  const Hdf5Lock lock;
  if (id_ >= 0) H5Fclose(id_);
}

bool H5File::exists(const std::string& object) const {
  const Hdf5Lock lock;
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
  const Hdf5Lock lock;
  Handle g{H5Gopen2(id_, group.c_str(), H5P_DEFAULT), H5Gclose};
  if (g.id < 0) throw DataError(fmt::format("{}: no group '{}'", path_, group));
  H5G_info_t info;
  H5Gget_info(g.id, &info);
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t len = H5Lget_name_by_idx(g.id, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len < 0) throw DataError(fmt::format("{}: cannot list group '{}' (corrupt?)", path_, group));
    std::string name(static_cast<size_t>(len), '\0');
    H5Lget_name_by_idx(g.id, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), len + 1, H5P_DEFAULT);
    names.push_back(name);
  }
  return names;
}

std::vector<int64_t> H5File::shape(const std::string& dataset) const {
  const Hdf5Lock lock;
  if (!exists(dataset)) throw DataError(fmt::format("{}: no dataset '{}'", path_, dataset));
  Handle d{H5Dopen2(id_, dataset.c_str(), H5P_DEFAULT), H5Dclose};
  if (d.id < 0) throw DataError(fmt::format("{}: '{}' is not a dataset", path_, dataset));
  Handle space{H5Dget_space(d.id), H5Sclose};
  const int rank = H5Sget_simple_extent_ndims(space.id);
  if (rank < 0) throw DataError(fmt::format("{}: dataset '{}' has no readable shape (corrupt?)", path_, dataset));
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.id, dims.data(), nullptr);
  for (auto d : dims)
    if (d > static_cast<hsize_t>(std::numeric_limits<int64_t>::max()))
      throw DataError(fmt::format("{}: dataset '{}' claims a dimension of {}", path_, dataset, d));
  return std::vector<int64_t>(dims.begin(), dims.end());
}

// Elements of a dataset or attribute of shape `dims`, each `size` bytes; throws naming it when
// they would not fit in memory's address space.
size_t H5File::elements(const std::vector<int64_t>& dims, size_t size, const std::string& what) const {
  size_t count = 1;
  for (auto d : dims)
    if (__builtin_mul_overflow(count, static_cast<size_t>(d), &count))
      throw DataError(fmt::format("{}: {} is too large to read", path_, what));
  size_t bytes = 0;
  if (__builtin_mul_overflow(count, size, &bytes) || bytes > static_cast<size_t>(std::numeric_limits<ptrdiff_t>::max()))
    throw DataError(fmt::format("{}: {} is too large to read", path_, what));
  return count;
}

namespace {
bool is_numeric(hid_t type) {
  const auto c = H5Tget_class(type);
  return c == H5T_INTEGER || c == H5T_FLOAT;
}
}  // namespace

template <class T>
std::vector<T> H5File::read(const std::string& dataset, int64_t mem_type, std::vector<int64_t>* shape_out) const {
  const Hdf5Lock lock;
  const auto dims = shape(dataset);
  const size_t count = elements(dims, sizeof(T), fmt::format("dataset '{}'", dataset));
  Handle d{H5Dopen2(id_, dataset.c_str(), H5P_DEFAULT), H5Dclose};
  Handle type{H5Dget_type(d.id), H5Tclose};
  if (!is_numeric(type.id)) throw DataError(fmt::format("{}: dataset '{}' does not hold numbers", path_, dataset));
  std::vector<T> data(count);
  if (count > 0 && H5Dread(d.id, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data()) < 0)
    throw DataError(fmt::format("{}: cannot read dataset '{}' (corrupt, or not numeric)", path_, dataset));
  if (shape_out) *shape_out = dims;
  return data;
}

std::vector<float> H5File::read_float(const std::string& dataset, std::vector<int64_t>* shape) const {
  const Hdf5Lock lock;
  return read<float>(dataset, H5T_NATIVE_FLOAT, shape);
}
std::vector<double> H5File::read_double(const std::string& dataset, std::vector<int64_t>* shape) const {
  const Hdf5Lock lock;
  return read<double>(dataset, H5T_NATIVE_DOUBLE, shape);
}
std::vector<int64_t> H5File::read_int64(const std::string& dataset, std::vector<int64_t>* shape) const {
  const Hdf5Lock lock;
  return read<int64_t>(dataset, H5T_NATIVE_INT64, shape);
}

std::vector<std::string> H5File::read_strings(const std::string& dataset) const {
  const Hdf5Lock lock;
  const auto dims = shape(dataset);
  if (dims.size() != 1) throw DataError(fmt::format("{}: '{}' is not a 1-D list of strings", path_, dataset));
  Handle d{H5Dopen2(id_, dataset.c_str(), H5P_DEFAULT), H5Dclose};
  Handle type{H5Dget_type(d.id), H5Tclose};
  if (H5Tget_class(type.id) != H5T_STRING)
    throw DataError(fmt::format("{}: '{}' does not hold strings", path_, dataset));
  const size_t n = static_cast<size_t>(dims[0]);
  std::vector<std::string> out;
  out.reserve(n);
  if (n == 0) return out;
  if (H5Tis_variable_str(type.id) > 0) {
    Handle mem{H5Tcopy(H5T_C_S1), H5Tclose};
    H5Tset_size(mem.id, H5T_VARIABLE);
    H5Tset_cset(mem.id, H5Tget_cset(type.id));
    std::vector<char*> raw(n, nullptr);
    if (H5Dread(d.id, mem.id, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()) < 0)
      throw DataError(fmt::format("{}: cannot read strings '{}'", path_, dataset));
    for (char* p : raw) out.emplace_back(p ? p : "");
    Handle space{H5Dget_space(d.id), H5Sclose};
#if H5_VERSION_GE(1, 12, 0)
    H5Treclaim(mem.id, space.id, H5P_DEFAULT, raw.data());
#else
    H5Dvlen_reclaim(mem.id, space.id, H5P_DEFAULT, raw.data());
#endif
    return out;
  }
  const size_t width = H5Tget_size(type.id);
  if (width == 0) throw DataError(fmt::format("{}: cannot read strings '{}'", path_, dataset));
  std::string buffer(elements(dims, width, fmt::format("dataset '{}'", dataset)) * width, '\0');
  if (H5Dread(d.id, type.id, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()) < 0)
    throw DataError(fmt::format("{}: cannot read strings '{}'", path_, dataset));
  for (size_t i = 0; i < n; ++i) {
    std::string s = buffer.substr(i * width, width);
    out.push_back(s.substr(0, s.find('\0')));
  }
  return out;
}

std::vector<float> H5File::read_float_rows(const std::string& dataset, int64_t first, int64_t count) const {
  const Hdf5Lock lock;
  const auto dims = shape(dataset);
  if (dims.empty() || first < 0 || count < 0 || first > dims[0] || count > dims[0] - first)
    throw DataError(fmt::format("{}: rows [{}, {}) are outside dataset '{}' ({} rows)", path_, first,
                                first + count, dataset, dims.empty() ? 0 : dims[0]));
  std::vector<hsize_t> start(dims.size(), 0), extent(dims.begin(), dims.end());
  start[0] = static_cast<hsize_t>(first);
  extent[0] = static_cast<hsize_t>(count);
  const size_t total = elements(std::vector<int64_t>(extent.begin(), extent.end()), sizeof(float),
                                fmt::format("rows [{}, {}) of '{}'", first, first + count, dataset));
  std::vector<float> out(total);
  if (total == 0) return out;
  Handle d{H5Dopen2(id_, dataset.c_str(), H5P_DEFAULT), H5Dclose};
  Handle file_space{H5Dget_space(d.id), H5Sclose};
  H5Sselect_hyperslab(file_space.id, H5S_SELECT_SET, start.data(), nullptr, extent.data(), nullptr);
  Handle mem_space{H5Screate_simple(static_cast<int>(extent.size()), extent.data(), nullptr), H5Sclose};
  if (H5Dread(d.id, H5T_NATIVE_FLOAT, mem_space.id, file_space.id, H5P_DEFAULT, out.data()) < 0)
    throw DataError(fmt::format("{}: cannot read rows [{}, {}) of '{}' (corrupt?)", path_, first, first + count, dataset));
  return out;
}

namespace {
hid_t file_type_of(H5File::Type t) {
  switch (t) {
    case H5File::Type::int8: return H5T_STD_I8LE;
    case H5File::Type::int16: return H5T_STD_I16LE;
    case H5File::Type::int64: return H5T_STD_I64LE;
    case H5File::Type::float32: return H5T_IEEE_F32LE;
  }
  return H5T_IEEE_F32LE;
}

// No modification times in object headers: the same data gives the same bytes, so checksums
// of a rerun or of a run on another number of ranks can be compared.
Handle dataset_properties() {
  Handle p{H5Pcreate(H5P_DATASET_CREATE), H5Pclose};
  H5Pset_obj_track_times(p.id, 0);
  return p;
}

// Link-creation properties that make missing parent groups ("/index" for "/index/id").
Handle intermediate_groups() {
  Handle p{H5Pcreate(H5P_LINK_CREATE), H5Pclose};
  H5Pset_create_intermediate_group(p.id, 1);
  return p;
}
}  // namespace

void H5File::create_growing(const std::string& dataset, Type type, const std::vector<int64_t>& row_shape,
                            int64_t chunk_rows, bool gzip) {
  const Hdf5Lock lock;
  std::vector<hsize_t> dims{0}, max_dims{H5S_UNLIMITED}, chunk{static_cast<hsize_t>(std::max<int64_t>(chunk_rows, 1))};
  for (auto r : row_shape) {
    dims.push_back(static_cast<hsize_t>(r));
    max_dims.push_back(static_cast<hsize_t>(r));
    chunk.push_back(static_cast<hsize_t>(r));
  }
  Handle space{H5Screate_simple(static_cast<int>(dims.size()), dims.data(), max_dims.data()), H5Sclose};
  Handle props = dataset_properties();
  H5Pset_chunk(props.id, static_cast<int>(chunk.size()), chunk.data());
  if (gzip) {
    if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) <= 0)
      throw DataError(fmt::format("{}: this HDF5 library lacks the deflate filter needed for '{}'", path_, dataset));
    H5Pset_shuffle(props.id);
    H5Pset_deflate(props.id, 1);
  }
  Handle links = intermediate_groups();
  Handle d{H5Dcreate2(id_, dataset.c_str(), file_type_of(type), space.id, links.id, props.id, H5P_DEFAULT), H5Dclose};
  if (d.id < 0) throw DataError(fmt::format("{}: cannot create dataset '{}'", path_, dataset));
}

void H5File::append_rows(const std::string& dataset, int64_t mem_type, const void* data, int64_t rows) {
  const Hdf5Lock lock;
  if (rows <= 0) return;
  Handle d{H5Dopen2(id_, dataset.c_str(), H5P_DEFAULT), H5Dclose};
  if (d.id < 0) throw DataError(fmt::format("{}: no dataset '{}' to append to", path_, dataset));
  std::vector<hsize_t> dims;
  {
    Handle space{H5Dget_space(d.id), H5Sclose};
    dims.resize(static_cast<size_t>(H5Sget_simple_extent_ndims(space.id)));
    H5Sget_simple_extent_dims(space.id, dims.data(), nullptr);
  }
  std::vector<hsize_t> start(dims.size(), 0), extent = dims;
  start[0] = dims[0];
  extent[0] = static_cast<hsize_t>(rows);
  dims[0] += static_cast<hsize_t>(rows);
  if (H5Dset_extent(d.id, dims.data()) < 0)
    throw DataError(fmt::format("{}: cannot grow dataset '{}'", path_, dataset));
  Handle file_space{H5Dget_space(d.id), H5Sclose};
  H5Sselect_hyperslab(file_space.id, H5S_SELECT_SET, start.data(), nullptr, extent.data(), nullptr);
  Handle mem_space{H5Screate_simple(static_cast<int>(extent.size()), extent.data(), nullptr), H5Sclose};
  if (H5Dwrite(d.id, mem_type, mem_space.id, file_space.id, H5P_DEFAULT, data) < 0)
    throw DataError(fmt::format("{}: cannot write to dataset '{}' (disk full or I/O error?)", path_, dataset));
}

void H5File::append(const std::string& dataset, const int16_t* data, int64_t rows) {
  const Hdf5Lock lock;
  append_rows(dataset, H5T_NATIVE_INT16, data, rows);
}
void H5File::append(const std::string& dataset, const float* data, int64_t rows) {
  const Hdf5Lock lock;
  append_rows(dataset, H5T_NATIVE_FLOAT, data, rows);
}

void H5File::write_1d(const std::string& dataset, int64_t file_type, int64_t mem_type, const void* data, size_t count) {
  const Hdf5Lock lock;
  const hsize_t dims[1] = {static_cast<hsize_t>(count)};
  Handle space{H5Screate_simple(1, dims, nullptr), H5Sclose};
  Handle links = intermediate_groups();
  Handle props = dataset_properties();
  Handle d{H5Dcreate2(id_, dataset.c_str(), file_type, space.id, links.id, props.id, H5P_DEFAULT), H5Dclose};
  if (d.id < 0) throw DataError(fmt::format("{}: cannot create dataset '{}'", path_, dataset));
  if (count > 0 && H5Dwrite(d.id, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    throw DataError(fmt::format("{}: cannot write dataset '{}' (disk full or I/O error?)", path_, dataset));
}

void H5File::write(const std::string& dataset, const std::vector<int64_t>& values) {
  const Hdf5Lock lock;
  write_1d(dataset, H5T_STD_I64LE, H5T_NATIVE_INT64, values.data(), values.size());
}
void H5File::write(const std::string& dataset, const std::vector<int8_t>& values) {
  const Hdf5Lock lock;
  write_1d(dataset, H5T_STD_I8LE, H5T_NATIVE_INT8, values.data(), values.size());
}

namespace {
Handle utf8_string_type() {
  Handle t{H5Tcopy(H5T_C_S1), H5Tclose};
  H5Tset_size(t.id, H5T_VARIABLE);
  H5Tset_cset(t.id, H5T_CSET_UTF8);
  return t;
}
}  // namespace

void H5File::write_strings(const std::string& dataset, const std::vector<std::string>& values) {
  const Hdf5Lock lock;
  std::vector<const char*> raw;
  raw.reserve(values.size());
  for (const auto& v : values) raw.push_back(v.c_str());
  Handle type = utf8_string_type();
  write_1d(dataset, type.id, type.id, raw.data(), raw.size());
}

void H5File::write_attribute(const std::string& object, const std::string& name, int64_t type, const void* value) {
  const Hdf5Lock lock;
  Handle space{H5Screate(H5S_SCALAR), H5Sclose};
  if (H5Aexists_by_name(id_, object.c_str(), name.c_str(), H5P_DEFAULT) > 0)
    H5Adelete_by_name(id_, object.c_str(), name.c_str(), H5P_DEFAULT);
  Handle a{H5Acreate_by_name(id_, object.c_str(), name.c_str(), type, space.id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
           H5Aclose};
  if (a.id < 0 || H5Awrite(a.id, type, value) < 0)
    throw DataError(fmt::format("{}: cannot write attribute '{}' of '{}'", path_, name, object));
}

void H5File::set_attribute(const std::string& object, const std::string& name, int64_t value) {
  const Hdf5Lock lock;
  write_attribute(object, name, H5T_NATIVE_INT64, &value);
}
void H5File::set_attribute(const std::string& object, const std::string& name, double value) {
  const Hdf5Lock lock;
  write_attribute(object, name, H5T_NATIVE_DOUBLE, &value);
}
void H5File::set_attribute(const std::string& object, const std::string& name, const std::string& value) {
  const Hdf5Lock lock;
  Handle type = utf8_string_type();
  const char* raw = value.c_str();
  write_attribute(object, name, type.id, &raw);
}

bool H5File::has_attribute(const std::string& object, const std::string& name) const {
  const Hdf5Lock lock;
  return exists(object) && H5Aexists_by_name(id_, object.c_str(), name.c_str(), H5P_DEFAULT) > 0;
}

size_t H5File::attribute_points(int64_t attribute, const std::string& object, const std::string& name) const {
  const Hdf5Lock lock;
  Handle space{H5Aget_space(attribute), H5Sclose};
  const hssize_t n = H5Sget_simple_extent_npoints(space.id);
  if (n < 0) throw DataError(fmt::format("{}: attribute '{}' of '{}' has no readable shape", path_, name, object));
  return static_cast<size_t>(n);
}

template <class T>
std::vector<T> H5File::read_attribute(const std::string& object, const std::string& name, int64_t mem_type) const {
  const Hdf5Lock lock;
  if (!has_attribute(object, name))
    throw DataError(fmt::format("{}: '{}' has no attribute '{}'", path_, object, name));
  Handle a{H5Aopen_by_name(id_, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  Handle type{H5Aget_type(a.id), H5Tclose};
  if (!is_numeric(type.id))
    throw DataError(fmt::format("{}: attribute '{}' of '{}' is not a number", path_, name, object));
  std::vector<T> values(attribute_points(a.id, object, name));
  if (H5Aread(a.id, mem_type, values.data()) < 0)
    throw DataError(fmt::format("{}: cannot read attribute '{}' of '{}' as a number", path_, name, object));
  return values;
}

int64_t H5File::attribute_int(const std::string& object, const std::string& name) const {
  const Hdf5Lock lock;
  auto v = read_attribute<int64_t>(object, name, H5T_NATIVE_INT64);
  if (v.size() != 1) throw DataError(fmt::format("{}: attribute '{}' of '{}' is not a scalar", path_, name, object));
  return v[0];
}

std::vector<double> H5File::attribute_doubles(const std::string& object, const std::string& name) const {
  const Hdf5Lock lock;
  return read_attribute<double>(object, name, H5T_NATIVE_DOUBLE);
}

std::string H5File::attribute_string(const std::string& object, const std::string& name) const {
  const Hdf5Lock lock;
  if (!has_attribute(object, name))
    throw DataError(fmt::format("{}: '{}' has no attribute '{}'", path_, object, name));
  Handle a{H5Aopen_by_name(id_, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose};
  Handle type{H5Aget_type(a.id), H5Tclose};
  if (H5Tget_class(type.id) != H5T_STRING)
    throw DataError(fmt::format("{}: attribute '{}' of '{}' is not a string", path_, name, object));
  const size_t points = attribute_points(a.id, object, name);
  if (points != 1)
    throw DataError(fmt::format("{}: attribute '{}' of '{}' holds {} strings, not one", path_, name, object, points));
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
  if (size == 0) throw DataError(fmt::format("{}: cannot read attribute '{}' of '{}'", path_, name, object));
  std::string out(size, '\0');
  if (H5Aread(a.id, type.id, out.data()) < 0)
    throw DataError(fmt::format("{}: cannot read attribute '{}' of '{}'", path_, name, object));
  return out.substr(0, out.find('\0'));
}

}  // namespace diffwave
