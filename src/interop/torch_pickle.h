// Files in torch.save's layout (a zip holding a pickle and the tensors' bytes) that Python reads
// with torch.load(path, weights_only=True), and reading such files back in C++.
#pragma once
#include <ATen/core/ivalue.h>

#include <string>
#include <vector>

namespace diffwave {

// Dicts, generic lists, numbers, bools, strings and tensors only. Unlike torch::pickle_save it
// writes no torch.jit type tags, which weights_only refuses.
std::vector<char> torch_save_bytes(const c10::IValue& value);
void torch_save_file(const c10::IValue& value, const std::string& path);  // throws DataError naming it

// torch::pickle_load of the file; throws what it throws (the caller explains it).
c10::IValue torch_load_file(const std::string& path);

}  // namespace diffwave
