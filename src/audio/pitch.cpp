#include "audio/pitch.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"
#include "audio/sptk.h"

namespace diffwave {

namespace {

struct Candidate {
  double lag;  // in samples, refined between lags by a parabola through the peak
  double peak;
};

struct Frame {
  std::vector<Candidate> candidates;  // local maxima of the correlation, shortest lag first
  double best = 0;                    // the highest peak
  double energy = 0;
  size_t chosen = 0;
};

// Local maxima of the correlation over lags lo..hi (c[i] is lag lo + i), refined by the
// parabola through each maximum and its neighbours.
std::vector<Candidate> peaks(const std::vector<double>& c, int lo) {
  std::vector<Candidate> out;
  for (size_t i = 1; i + 1 < c.size(); ++i) {
    if (c[i] <= 0 || c[i] < c[i - 1] || c[i] < c[i + 1]) continue;
    const double curvature = c[i - 1] - 2 * c[i] + c[i + 1];
    const double shift = curvature < 0 ? 0.5 * (c[i - 1] - c[i + 1]) / curvature : 0.0;
    out.push_back({lo + double(i) + shift, c[i] - 0.25 * (c[i - 1] - c[i + 1]) * shift});
  }
  return out;
}

// The shortest-lag candidate close to the best: a periodic signal correlates almost as well at
// two and three periods, so the highest peak alone often halves F0.
size_t shortest_strong(const Frame& f) {
  for (size_t i = 0; i < f.candidates.size(); ++i)
    if (f.candidates[i].peak >= 0.85 * f.best) return i;
  return 0;
}

double median(std::vector<double> v) {
  std::nth_element(v.begin(), v.begin() + long(v.size() / 2), v.end());
  return v[v.size() / 2];
}

}  // namespace

std::vector<double> track_f0(const float* x, int64_t n, const PitchOptions& o) {
  const int lo = static_cast<int>(std::floor(o.sample_rate / o.f0_max));
  const int hi = static_cast<int>(std::ceil(o.sample_rate / o.f0_min));
  if (o.hop < 1 || lo < 2 || hi <= lo + 2)
    throw Error(fmt::format("pitch: F0 range {}-{} Hz does not fit sample rate {}", o.f0_min, o.f0_max, o.sample_rate));
  // The correlation window spans the longest period, so every lag compares one full cycle.
  const int window = hi;
  // Near the ends the window and its shifted copy stay inside the signal (zeros would bias the
  // correlation); only a signal shorter than both is zero-padded.
  const int64_t span = window + hi + 1;
  std::vector<double> padded(static_cast<size_t>(std::max(n, span)), 0.0);
  std::copy(x, x + n, padded.begin());

  std::vector<Frame> frames;
  std::vector<double> c(static_cast<size_t>(hi - lo + 1));
  double loudest = 0;
  for (int64_t centre = 0; centre < n; centre += o.hop) {
    const int64_t first = std::clamp<int64_t>(centre - window / 2, 0, int64_t(padded.size()) - span);
    double* start = padded.data() + first;
    Frame f;
    for (int i = 0; i < window; ++i) f.energy += start[i] * start[i];
    // SPTK's nacorr_in_interval correlates samples [(L - U) / 2, (L + U) / 2] with themselves
    // shifted by each lag; L = U = window - 1 makes that the window [0, window).
    {
      std::lock_guard<std::mutex> lock(sptk_mutex());
      f.best = peak_nacorr_in_interval(start, window - 1, window - 1, c.data(), lo, hi);
    }
    f.candidates = peaks(c, lo);
    if (!f.candidates.empty()) {
      f.best = std::max_element(f.candidates.begin(), f.candidates.end(),
                                [](const auto& a, const auto& b) { return a.peak < b.peak; })->peak;
      f.chosen = shortest_strong(f);
    }
    loudest = std::max(loudest, f.energy);
    frames.push_back(std::move(f));
  }

  const double energy_floor = loudest * std::pow(10.0, -o.silence_db / 10);
  std::vector<bool> voiced(frames.size());
  for (size_t t = 0; t < frames.size(); ++t)
    voiced[t] = !frames[t].candidates.empty() && frames[t].best >= o.voicing_threshold &&
                frames[t].energy > energy_floor && frames[t].energy > 0;
  // Continuity: a voiced frame whose F0 is an octave or more off its voiced neighbours' median
  // takes the candidate nearest that median, when one is nearly as strong.
  for (size_t t = 0; t < frames.size(); ++t) {
    if (!voiced[t]) continue;
    std::vector<double> around;
    for (size_t u = t >= 3 ? t - 3 : 0; u <= std::min(frames.size() - 1, t + 3); ++u)
      if (u != t && voiced[u]) around.push_back(frames[u].candidates[frames[u].chosen].lag);
    if (around.size() < 2) continue;
    const double expected = median(around);
    auto& f = frames[t];
    if (std::abs(std::log2(f.candidates[f.chosen].lag / expected)) < 0.5) continue;
    for (size_t i = 0; i < f.candidates.size(); ++i)
      if (std::abs(std::log2(f.candidates[i].lag / expected)) < 0.25 && f.candidates[i].peak >= 0.7 * f.best)
        f.chosen = i;
  }
  std::vector<double> f0(frames.size(), 0.0);
  for (size_t t = 0; t < frames.size(); ++t)
    if (voiced[t]) f0[t] = o.sample_rate / frames[t].candidates[frames[t].chosen].lag;
  return f0;
}

F0Errors f0_errors(const std::vector<double>& ref, const std::vector<double>& out) {
  const size_t frames = std::min(ref.size(), out.size());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  double squares = 0;
  size_t both = 0, disagree = 0;
  for (size_t t = 0; t < frames; ++t) {
    const bool a = ref[t] > 0, b = out[t] > 0;
    disagree += a != b;
    if (a && b) {
      squares += std::pow(1200.0 * std::log2(out[t] / ref[t]), 2);
      ++both;
    }
  }
  return {both ? std::sqrt(squares / double(both)) : nan, frames ? double(disagree) / double(frames) : nan};
}

}  // namespace diffwave
