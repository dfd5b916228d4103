// lmnt .pt import (interop/lmnt_import.cpp). A .pt file is a zip whose records carry CRCs, so
// mutated zip bytes would only test the CRC check. The input is instead the zip's content:
//   data.pkl  <SEP>  record data/0  <SEP>  record data/1 ...       (SEP: the 8 bytes "\n@@rec@@")
// which the harness writes as torch.save does (PyTorchStreamWriter), then imports. A record
// written "#size=N" stands for N zero bytes (N up to 16 MiB), so a seed of a real
// model stays a few KB; any other record is used as it is, whatever size the pickle declares.
// import_lmnt must throw diffwave::Error on anything it cannot use.
#include <caffe2/serialize/inline_container.h>

#include <string_view>

#include "common/error.h"
#include "fuzz_util.h"
#include "interop/lmnt_import.h"

using namespace diffwave;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr std::string_view sep = "\n@@rec@@";
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  for (size_t pos = 0;;) {
    const size_t next = input.find(sep, pos);
    parts.push_back(input.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
    if (next == std::string_view::npos) break;
    pos = next + sep.size();
  }
  std::string zip;
  {
    caffe2::serialize::PyTorchStreamWriter writer([&](const void* p, size_t n) {
      zip.append(static_cast<const char*>(p), n);
      return n;
    });
    constexpr std::string_view sized = "#size=";
    std::string filler;
    for (size_t i = 1; i < parts.size(); ++i) {
      std::string_view record = parts[i];
      if (record.substr(0, sized.size()) == sized && record.size() > sized.size() && record.size() <= sized.size() + 8 &&
          record.find_first_not_of("0123456789", sized.size()) == std::string_view::npos) {
        filler.assign(std::min<size_t>(std::stoul(std::string(record.substr(sized.size()))), size_t{16} << 20), '\0');
        record = filler;
      }
      writer.writeRecord("data/" + std::to_string(i - 1), record.data(), record.size());
    }
    writer.writeRecord("data.pkl", parts[0].data(), parts[0].size());
    writer.writeEndOfFile();
  }
  const std::string path = fuzz::write_file("weights.pt", zip);
  try {
    const Checkpoint ck = import_lmnt(path, std::nullopt);
    if (ck.tensors.empty()) fuzz::fail("an import without tensors");
  } catch (const Error&) {
  }
  return 0;
}
