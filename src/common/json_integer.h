// Reading integers from JSON that came from outside (manifests, done-records).
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace diffwave {

// nlohmann's get<integer>() static_casts a JSON float, which is undefined behaviour outside the
// integer's range (1e30 as a count; found by fuzz/fuzz_done_record.cpp): integer fields must hold
// integers, and anything else is the same type_error a string there would give.
template <class T = int64_t>
T json_integer(const nlohmann::json& j) {
  if (!j.is_number_integer())
    throw nlohmann::json::type_error::create(302, std::string("type must be an integer, but is ") + j.type_name(), &j);
  return j.get<T>();
}

}  // namespace diffwave
