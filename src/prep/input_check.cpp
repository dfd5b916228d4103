#include "prep/input_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "audio/audio_io.h"
#include "common/error.h"
#include "data/checksum.h"
#include "data/shard_format.h"

namespace diffwave::prep {

namespace fs = std::filesystem;

const char* status_name(Status s) {
  switch (s) {
    case Status::ok: return "ok";
    case Status::warning: return "warning";
    case Status::rejected: return "rejected";
  }
  return "?";
}

CheckRules CheckRules::from(const Config& c) {
  CheckRules r;
  r.sample_rate = c.audio.sample_rate;
  r.hop_samples = c.audio.hop_samples;
  r.n_fft = c.audio.n_fft;
  r.min_frames = c.prep.resolved_min_frames(c.train.crop_mel_frames);
  r.int16 = c.prep.audio_dtype == "int16";
  return r;
}

std::string reason_code(const std::string& reason) { return reason.substr(0, reason.find(':')); }

namespace {

CheckedInput reject(std::string reason) {
  CheckedInput r;
  r.reason = std::move(reason);
  return r;
}

// audio_io's messages start "cannot read audio file '<path>': "; the report already has the path.
std::string detail(const std::string& message) {
  const auto pos = message.find("': ");
  return pos == std::string::npos ? message : message.substr(pos + 3);
}

}  // namespace

CheckedInput check_input(const std::string& path, const CheckRules& rules) {
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (!fs::exists(st)) return reject("unreadable: no such file");
  if (!fs::is_regular_file(st)) return reject("unreadable: not a regular file");
  if (!std::ifstream(path, std::ios::binary)) return reject(fmt::format("unreadable: {}", std::strerror(errno)));
  if (fs::file_size(path, ec) == 0) return reject("empty: 0 bytes");

  Audio audio;
  try {
    audio = read_audio(path);
  } catch (const AudioError& e) {
    const std::string why = detail(e.what());
    if (why.find("truncated") != std::string::npos) return reject("truncated: " + why);
    if (why.find("empty") != std::string::npos) return reject("empty: " + why);
    if (why.rfind("unsupported: ", 0) == 0) return reject(why);
    return reject("not-audio: " + why);
  }
  // Before resampling: the filter would smear one bad sample over its neighbours.
  const auto bad = std::find_if(audio.samples.begin(), audio.samples.end(), [](float x) { return !std::isfinite(x); });
  if (bad != audio.samples.end())
    return reject(fmt::format("non-finite: sample {} is {}", bad - audio.samples.begin(), *bad));

  std::vector<float> samples;
  try {
    samples = resample(audio.samples, audio.sample_rate, rules.sample_rate);
  } catch (const AudioError& e) {
    return reject(fmt::format("not-audio: {}", e.what()));
  }
  audio.samples.clear();
  audio.samples.shrink_to_fit();
  // Finite samples near the float limit can overflow in the filter: inf, and NaN, which no clamp
  // below would catch (found by fuzz/fuzz_audio.cpp).
  const auto overflow = std::find_if(samples.begin(), samples.end(), [](float x) { return !std::isfinite(x); });
  if (overflow != samples.end())
    return reject(fmt::format("non-finite: sample {} is {} after resampling to {} Hz (input values near the float limit)",
                              overflow - samples.begin(), *overflow, rules.sample_rate));

  const auto n = static_cast<int64_t>(samples.size());
  const int64_t frames = mel_frames_for(n, rules.hop_samples);
  // The centred STFT reflects n_fft / 2 samples at each end, which needs more than that many.
  if (frames < rules.min_frames || n <= rules.n_fft / 2)
    return reject(fmt::format("too-short: {:.3f} s gives {} mel frames, prep.min_frames is {}", double(n) / rules.sample_rate,
                              frames, rules.min_frames));

  int64_t clipped = 0;
  double energy = 0;
  for (auto& x : samples) {
    if (x > 1.0f || x < -1.0f) {
      ++clipped;
      x = std::clamp(x, -1.0f, 1.0f);
    }
    if (rules.int16) x = from_pcm16(to_pcm16(x));
    energy += double(x) * x;
  }
  const double rms = std::sqrt(energy / double(n));
  if (rms < rules.silence_rms)
    return reject(fmt::format("silent: RMS {:.2g} ({:.1f} dBFS) is below {:.2g}", rms, 20 * std::log10(std::max(rms, 1e-12)),
                              rules.silence_rms));

  CheckedInput r;
  r.status = clipped > 0 ? Status::warning : Status::ok;
  if (clipped > 0)
    r.reason = fmt::format("clipped: {} samples outside [-1, 1] were clamped ({:.3f}%)", clipped, 100.0 * clipped / n);
  Sha256 hash;
  if (rules.int16) {
    std::vector<int16_t> pcm(samples.size());
    std::transform(samples.begin(), samples.end(), pcm.begin(), to_pcm16);
    hash.update(pcm.data(), pcm.size() * sizeof(int16_t));
  } else {
    hash.update(samples.data(), samples.size() * sizeof(float));
  }
  r.content_hash = hash.hex_digest();
  r.samples = std::move(samples);
  return r;
}

}  // namespace diffwave::prep
