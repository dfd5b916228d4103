// Stable, platform-independent keys for seeding per-item randomness: the training batch plan's
// crops and noise, validation crops, and the sampler's per-utterance noise all derive their
// generators' seeds here, so the same seed gives the same numbers on any rank count.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>

namespace diffwave {

// SplitMix64 of a sequence of words: a well-mixed 64-bit key.
uint64_t mix_seed(std::initializer_list<uint64_t> words);

// FNV-1a, 64 bit: a stable hash of an utterance id.
uint64_t fnv1a64(const std::string& text);

}  // namespace diffwave
