#include "common/output_paths.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <sstream>
#include <utility>

#include "common/error.h"

namespace fs = std::filesystem;

namespace diffwave {

std::string output_relative_path(const std::string& id) {
  std::string out;
  std::istringstream parts(id);
  for (std::string part; std::getline(parts, part, '/');) {
    if (part.empty() || part == ".") continue;
    if (part == "..") part = "__";
    out += (out.empty() ? "" : "/") + part;
  }
  if (out.empty()) throw DataError(fmt::format("id '{}' names no file: it has no part to write it under", id));
  return out;
}

std::vector<std::string> output_paths(const std::string& base, const std::vector<std::string>& ids,
                                      const std::string& extension, const std::vector<std::string>& inputs) {
  // Inputs by (device, inode): an output is refused when it is an input under any name.
  std::map<std::pair<dev_t, ino_t>, std::string> input_names;
  for (const auto& path : inputs) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) input_names.emplace(std::make_pair(st.st_dev, st.st_ino), path);
  }
  std::map<std::string, std::string> id_of;  // relative output -> the id that took it
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (const auto& id : ids) {
    const auto relative = output_relative_path(id) + extension;
    const auto [it, fresh] = id_of.emplace(relative, id);
    if (!fresh)
      throw DataError(fmt::format("ids '{}' and '{}' would both be written to {}; rename one of the inputs",
                                  it->second, id, (fs::path(base) / relative).string()));
    out.push_back((fs::path(base) / relative).string());
    struct stat st {};
    if (::stat(out.back().c_str(), &st) != 0) continue;
    const auto input = input_names.find({st.st_dev, st.st_ino});
    if (input != input_names.end())
      throw DataError(fmt::format("id '{}': its output {} is the input {}; choose an output folder apart from the "
                                  "inputs",
                                  id, out.back(), input->second));
  }
  return out;
}

}  // namespace diffwave
