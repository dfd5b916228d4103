// Error types shared by the library. Messages name the file, key or rank at fault,
// so that a user can act on them without reading the source.
#pragma once
#include <stdexcept>
#include <string>

namespace diffwave {

// Base for every error the library raises on bad input or environment.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A configuration key has a wrong type, an impossible value, or does not exist.
struct ConfigError : Error {
  using Error::Error;
};

// An audio file cannot be read or written, or its content is unusable.
struct AudioError : Error {
  using Error::Error;
};

// A data file (shard, fixture, manifest, checkpoint) is missing or malformed.
struct DataError : Error {
  using Error::Error;
};

}  // namespace diffwave
