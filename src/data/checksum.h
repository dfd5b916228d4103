// SHA-256 on OpenSSL's libcrypto (EVP), for shard checksums, content-duplicate detection and
// fingerprints of a run's inputs. No LibTorch here.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

namespace diffwave {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  Sha256& update(const void* data, size_t bytes);
  Sha256& update(const std::string& text) { return update(text.data(), text.size()); }
  std::string digest();      // 32 raw bytes; the object is spent afterwards
  std::string hex_digest();  // 64 lowercase hex digits

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::string sha256_hex(const std::string& bytes);
// Streams the file; throws DataError naming the path when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace diffwave
