#include "data/checksum.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "common/error.h"

namespace diffwave {

struct Sha256::State {
  EVP_MD_CTX* ctx = nullptr;
  ~State() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  if (!state_->ctx || EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr) != 1)
    throw Error("libcrypto: cannot start a SHA-256 digest");
}

Sha256::~Sha256() = default;

Sha256& Sha256::update(const void* data, size_t bytes) {
  if (bytes > 0 && EVP_DigestUpdate(state_->ctx, data, bytes) != 1) throw Error("libcrypto: SHA-256 update failed");
  return *this;
}

std::string Sha256::digest() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(state_->ctx, out, &n) != 1) throw Error("libcrypto: SHA-256 final failed");
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string Sha256::hex_digest() {
  std::string hex;
  for (unsigned char c : digest()) hex += fmt::format("{:02x}", c);
  return hex;
}

std::string sha256_hex(const std::string& bytes) { return Sha256().update(bytes).hex_digest(); }

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(fmt::format("{}: cannot open for checksum: {}", path, std::strerror(errno)));
  Sha256 h;
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    h.update(buffer.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) throw DataError(fmt::format("{}: read error while computing its checksum", path));
  return h.hex_digest();
}

}  // namespace diffwave
