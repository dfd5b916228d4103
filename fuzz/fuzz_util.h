// Shared by the harnesses: the library reads files by path, so each input is written to a file
// in a private folder (on /dev/shm when there is one: no disk I/O per execution).
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace fuzz {

// A folder removed at exit; one per process, so parallel fuzzers (-fork, -jobs) do not collide.
inline const std::string& work_dir() {
  static const std::string dir = [] {
    const char* base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : nullptr;
    std::string pattern = std::string(base ? base : std::filesystem::temp_directory_path().c_str()) +
                          "/diffwave-fuzz-XXXXXX";
    if (!mkdtemp(pattern.data())) std::abort();
    static std::string keep = pattern;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(keep, ec);
    });
    return pattern;
  }();
  return dir;
}

inline std::string path(const std::string& name) { return work_dir() + "/" + name; }

// Writes bytes to work_dir()/name (replacing it) and returns the path.
inline std::string write_file(const std::string& name, const void* data, size_t size) {
  const std::string p = path(name);
  FILE* f = std::fopen(p.c_str(), "wb");
  if (!f) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return p;
}
inline std::string write_file(const std::string& name, const std::string& text) {
  return write_file(name, text.data(), text.size());
}

// An invariant of the code under test does not hold: report it as a crash with the reason.
[[noreturn]] inline void fail(const std::string& why) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", why.c_str());
  std::abort();
}

}  // namespace fuzz
