#include "checkpoint/checkpoint_file.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>
#include <zlib.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <tuple>

#include "checkpoint/atomic_file.h"
#include "common/error.h"

namespace diffwave {

namespace {

const std::map<at::ScalarType, std::string>& dtype_names() {
  static const std::map<at::ScalarType, std::string> names{
      {at::kFloat, "F32"}, {at::kDouble, "F64"}, {at::kBFloat16, "BF16"}, {at::kHalf, "F16"},
      {at::kLong, "I64"},  {at::kInt, "I32"},    {at::kByte, "U8"},       {at::kChar, "I8"}};
  return names;
}

std::optional<at::ScalarType> dtype_from(const std::string& name) {
  for (const auto& [type, n] : dtype_names())
    if (n == name) return type;
  return std::nullopt;
}

}  // namespace

const at::Tensor& Checkpoint::tensor(const std::string& name) const {
  auto it = tensors.find(name);
  if (it == tensors.end()) throw DataError(fmt::format("{}: no tensor '{}'", path.empty() ? "checkpoint" : path, name));
  return it->second;
}

const at::Tensor& Checkpoint::tensor_like(const std::string& name, const at::Tensor& like) const {
  const auto& t = tensor(name);
  if (!t.sizes().equals(like.sizes()) || t.scalar_type() != like.scalar_type())
    throw DataError(fmt::format("{}: tensor '{}' is {} of shape [{}], but {} of shape [{}] is expected here",
                                path.empty() ? "checkpoint" : path, name, c10::toString(t.scalar_type()),
                                fmt::join(t.sizes(), ", "), c10::toString(like.scalar_type()),
                                fmt::join(like.sizes(), ", ")));
  return t;
}

const std::string& Checkpoint::meta(const std::string& key) const {
  auto it = metadata.find(key);
  if (it == metadata.end())
    throw DataError(fmt::format("{}: no metadata '{}'", path.empty() ? "checkpoint" : path, key));
  return it->second;
}

void write_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  nlohmann::json header = nlohmann::json::object();
  std::vector<at::Tensor> contiguous;
  uint64_t offset = 0;
  uLong crc = crc32(0L, Z_NULL, 0);
  for (const auto& [name, t] : checkpoint.tensors) {
    auto it = dtype_names().find(t.scalar_type());
    if (it == dtype_names().end()) throw DataError(fmt::format("{}: tensor '{}' has an unsupported dtype", path, name));
    auto c = t.detach().cpu().contiguous();
    header[name] = {{"dtype", it->second}, {"shape", c.sizes().vec()}, {"data_offsets", {offset, offset + c.nbytes()}}};
    offset += c.nbytes();
    crc = crc32(crc, static_cast<const Bytef*>(c.data_ptr()), static_cast<uInt>(c.nbytes()));
    contiguous.push_back(std::move(c));
  }
  nlohmann::json meta = checkpoint.metadata;
  meta["format"] = kCheckpointFormat;
  meta["data_crc32"] = std::to_string(crc);
  header["__metadata__"] = meta;
  std::string text = header.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');  // safetensors pads the header to 8 bytes
  const uint64_t length = text.size();          // little-endian on every platform we build for
  std::vector<std::pair<const void*, size_t>> pieces{{&length, sizeof length}, {text.data(), text.size()}};
  for (const auto& c : contiguous) pieces.emplace_back(c.data_ptr(), c.nbytes());
  atomic_write(path, pieces);
}

namespace {

// One tensor as the header describes it, checked against the file before anything is allocated.
struct Entry {
  std::string name;
  at::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // within the data, which is `data_size` bytes
};

Entry parse_entry(const std::string& path, const std::string& name, const nlohmann::json& j, uint64_t data_size) {
  auto bad = [&](const std::string& why) {
    return DataError(fmt::format("{}: tensor '{}' {}", path, name, why));
  };
  if (!j.is_object()) throw bad("is not described by an object");
  const auto dtype = j.find("dtype");
  const auto shape = j.find("shape");
  const auto offsets = j.find("data_offsets");
  if (dtype == j.end() || !dtype->is_string()) throw bad("has no dtype");
  if (shape == j.end() || !shape->is_array()) throw bad("has no shape");
  if (offsets == j.end() || !offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
      !(*offsets)[1].is_number_unsigned())
    throw bad("has no data_offsets [begin, end]");
  const auto type = dtype_from(dtype->get<std::string>());
  if (!type) throw bad(fmt::format("has the unsupported dtype '{}'", dtype->get<std::string>()));
  Entry e{name, *type, {}, (*offsets)[0].get<uint64_t>(), (*offsets)[1].get<uint64_t>()};
  uint64_t bytes = c10::elementSize(e.dtype);
  for (const auto& d : *shape) {
    if (!d.is_number_unsigned()) throw bad(fmt::format("has shape {}, not of sizes >= 0", shape->dump()));
    const auto size = d.get<uint64_t>();
    if (size > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) || __builtin_mul_overflow(bytes, size, &bytes))
      throw bad(fmt::format("has shape {}, too large for any file", shape->dump()));
    e.shape.push_back(static_cast<int64_t>(size));
  }
  if (e.begin > e.end || e.end > data_size)
    throw bad(fmt::format("has the byte range [{}, {}), outside the {} bytes of data (truncated file?)", e.begin, e.end,
                          data_size));
  if (e.end - e.begin != bytes)
    throw bad(fmt::format("has {} bytes [{}, {}) for shape {} of {} ({} bytes)", e.end - e.begin, e.begin, e.end,
                          shape->dump(), dtype->get<std::string>(), bytes));
  return e;
}

}  // namespace

Checkpoint read_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(fmt::format("{}: cannot open checkpoint", path));
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  uint64_t length = 0;
  if (file_size < 8 || !in.read(reinterpret_cast<char*>(&length), 8) || length > file_size - 8)
    throw DataError(fmt::format("{}: not a checkpoint (bad header length)", path));
  std::string text(length, '\0');
  in.read(text.data(), static_cast<std::streamsize>(length));
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw DataError(fmt::format("{}: corrupt checkpoint header: {}", path, e.what()));
  }
  if (!header.is_object()) throw DataError(fmt::format("{}: the checkpoint header is not a JSON object", path));
  Checkpoint ck;
  ck.path = path;
  if (const auto meta = header.find("__metadata__"); meta != header.end()) {
    if (!meta->is_object()) throw DataError(fmt::format("{}: __metadata__ is not an object of strings", path));
    for (const auto& [k, v] : meta->items()) {
      if (!v.is_string()) throw DataError(fmt::format("{}: metadata '{}' is not a string", path, k));
      ck.metadata[k] = v.get<std::string>();
    }
  }
  if (ck.metadata["format"] != kCheckpointFormat)
    throw DataError(fmt::format("{}: format '{}' is not {}", path, ck.metadata["format"], kCheckpointFormat));
  // The whole header is checked before any tensor is allocated: types, sizes, and byte ranges
  // inside the file that do not overlap. Tensors are read in file order, as the CRC was computed.
  const uint64_t data_start = 8 + length;
  std::vector<Entry> entries;
  for (const auto& [name, entry] : header.items())
    if (name != "__metadata__") entries.push_back(parse_entry(path, name, entry, file_size - data_start));
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  for (size_t i = 1; i < entries.size(); ++i)
    if (entries[i].begin < entries[i - 1].end)
      throw DataError(fmt::format("{}: tensor '{}' [{}, {}) overlaps tensor '{}' [{}, {})", path, entries[i].name,
                                  entries[i].begin, entries[i].end, entries[i - 1].name, entries[i - 1].begin,
                                  entries[i - 1].end));
  uLong crc = crc32(0L, Z_NULL, 0);
  for (const auto& e : entries) {
    auto t = at::empty(e.shape, at::TensorOptions().dtype(e.dtype));
    in.seekg(static_cast<std::streamoff>(data_start + e.begin));
    if (!in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(t.nbytes())))
      throw DataError(fmt::format("{}: cannot read tensor '{}'", path, e.name));
    crc = crc32(crc, static_cast<const Bytef*>(t.data_ptr()), static_cast<uInt>(t.nbytes()));
    ck.tensors[e.name] = t;
  }
  if (ck.metadata["data_crc32"] != std::to_string(crc))
    throw DataError(fmt::format("{}: checksum mismatch: the file is corrupt", path));
  return ck;
}

}  // namespace diffwave
