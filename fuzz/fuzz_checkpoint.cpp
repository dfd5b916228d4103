// Safetensors checkpoint read (checkpoint/checkpoint_file.cpp). Two layouts of the input, chosen by its first
// byte, so that mutations of the JSON header need not keep the length prefix right:
//   'R' + bytes          the file, verbatim (length prefix, header, data)
//   anything else        the header JSON up to the first NUL, then the data bytes; the harness
//                        writes the 8-byte length and pads nothing
// read_checkpoint must throw diffwave::Error on anything it cannot use, and what it returns must
// hold the tensors its header names, each of the size its dtype and shape give.
#include <ATen/ATen.h>

#include <cstring>

#include "common/error.h"
#include "fuzz_util.h"
#include "checkpoint/checkpoint_file.h"

using namespace diffwave;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string file;
  if (size > 0 && data[0] == 'R') {
    file.assign(reinterpret_cast<const char*>(data) + 1, size - 1);
  } else {
    const char* begin = reinterpret_cast<const char*>(data);
    const char* nul = static_cast<const char*>(std::memchr(begin, '\0', size));
    const size_t header = nul ? static_cast<size_t>(nul - begin) : size;
    const uint64_t length = header;
    file.assign(reinterpret_cast<const char*>(&length), 8);
    file.append(begin, header);
    if (nul) file.append(nul + 1, size - header - 1);
  }
  const std::string path = fuzz::write_file("checkpoint.safetensors", file);
  try {
    const Checkpoint ck = read_checkpoint(path);
    for (const auto& [name, t] : ck.tensors) {
      if (!t.defined() || !t.is_contiguous() || t.device().type() != at::kCPU) fuzz::fail("tensor '" + name + "' is unusable");
      if (t.nbytes() > file.size()) fuzz::fail("tensor '" + name + "' is larger than the file");
      if (t.numel() > 0) (void)t.sum().item<double>();  // touches every byte
    }
    if (ck.meta("format") != kCheckpointFormat) fuzz::fail("accepted a checkpoint of another format");
  } catch (const Error&) {
  }
  return 0;
}
