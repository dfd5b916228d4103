// diffwave-prep --verify OUT: rechecks every shard the manifest lists (checksum, format,
// parameters, index consistency, utterance counts) and names each one that differs.
#pragma once
#include <string>

namespace diffwave::prep {

// Prints one line per problem to stderr; returns 0 when every shard matches, 1 otherwise.
int run_verify(const std::string& output);

}  // namespace diffwave::prep
