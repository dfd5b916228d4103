#include "prep/prep_job.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <unordered_map>

#include "audio/mel.h"
#include "common/config.h"
#include "common/error.h"
#include "data/corpus.h"
#include "data/checksum.h"
#include "data/manifest.h"
#include "data/shard_format.h"
#include "data/shard_writer.h"
#include "distributed/group_watch.h"
#include "distributed/process_group.h"
#include "prep/done_record.h"
#include "prep/input_check.h"
#include "prep/report.h"
#include "prep/run_plan.h"

namespace diffwave::prep {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string shard_name(int rank, int64_t number) { return fmt::format("shard-r{:04}-{:05}.h5", rank, number); }
std::string rank_prefix(int rank) { return fmt::format("shard-r{:04}-", rank); }

// The state one rank keeps while it works through its rounds.
class RankJob {
 public:
  RankJob(const PrepOptions& o, const Config& c, const Plan& p, ProcessGroup& g)
      : options_(o), config_(c), plan_(p), group_(g), rules_(CheckRules::from(c)), mel_(c.audio),
        shard_dir_(fs::path(o.output) / "shards"),
        record_((fs::path(o.output) / ".prep" / fmt::format("rank-{:04}.done.jsonl", g.rank())).string()) {}

  void resume();
  void run_rounds();
  // This rank's results and shards, for rank 0.
  std::string encode_results() const;

 private:
  struct Candidate {
    int64_t index;
    std::string hash;
  };
  void process_round(int64_t round, Progress* progress);
  void write_utterance(const InputFile& file, std::vector<float>& samples);
  void close_shard(int64_t rounds_done);

  const PrepOptions& options_;
  const Config& config_;
  const Plan& plan_;
  ProcessGroup& group_;
  CheckRules rules_;
  MelSpectrogram mel_;
  fs::path shard_dir_;
  DoneRecord record_;

  int64_t rounds_resumed_ = 0;
  std::map<int64_t, InputResult> results_;  // every input of this rank handled so far
  std::vector<InputResult> pending_;         // results since the last finished shard
  std::vector<FinishedShard> shards_;
  std::unique_ptr<ShardWriter> writer_;
  std::string writer_name_;
  int64_t writer_validation_ = 0;
  std::unordered_map<std::string, int64_t> first_with_hash_;  // content hash -> first corpus index
  int64_t processed_ = 0;     // inputs this rank decoded in this run
  int64_t samples_mine_ = 0;  // accepted samples of this rank, resumed ones included
  int64_t files_done_ = 0, processed_all_ = 0;  // over all ranks, for the progress line
};

void RankJob::resume() {
  const auto blocks = record_.load_trusted(shard_dir_.string());
  std::set<std::string> kept;
  for (const auto& b : blocks) {
    rounds_resumed_ = b.rounds_done;
    for (const auto& r : b.results) results_[r.index] = r;
    if (b.shard) {
      shards_.push_back(*b.shard);
      kept.insert(b.shard->name);
    }
  }
  // Shards (or temporaries) this rank started but never recorded are redone from their inputs.
  for (const auto& e : fs::directory_iterator(shard_dir_)) {
    const auto name = e.path().filename().string();
    if (name.rfind(rank_prefix(group_.rank()), 0) == 0 && !kept.count(name)) fs::remove(e.path());
  }
}

void RankJob::write_utterance(const InputFile& file, std::vector<float>& samples) {
  if (!writer_) {
    writer_name_ = shard_name(group_.rank(), static_cast<int64_t>(shards_.size()));
    writer_ = std::make_unique<ShardWriter>((shard_dir_ / (writer_name_ + ".tmp")).string(), config_.audio, config_.prep);
    writer_validation_ = 0;
  }
  const auto n = static_cast<int64_t>(samples.size());
  const at::Tensor mel = mel_(at::from_blob(samples.data(), {n}, at::kFloat)).t().contiguous();
  const bool validation = is_validation_id(file.id, config_.prep.validation_fraction);
  writer_->add(file.id, samples, mel.data_ptr<float>(), mel.size(0), validation);
  writer_validation_ += validation ? 1 : 0;
}

void RankJob::close_shard(int64_t rounds_done) {
  DoneBlock block;
  block.rounds_done = rounds_done;
  block.results = std::move(pending_);
  pending_.clear();
  if (writer_) {
    writer_->finish();
    const auto tmp = shard_dir_ / (writer_name_ + ".tmp"), final_path = shard_dir_ / writer_name_;
    fs::rename(tmp, final_path);
    FinishedShard s{writer_name_, sha256_file(final_path.string()), static_cast<int64_t>(fs::file_size(final_path)),
                    static_cast<int64_t>(writer_->utterances()), writer_validation_, writer_->samples()};
    shards_.push_back(s);
    block.shard = s;
    writer_.reset();
  }
  if (block.shard || !block.results.empty()) record_.append(block);
}

void RankJob::process_round(int64_t round, Progress* progress) {
  const auto& files = plan_.corpus.files;
  const int64_t total = static_cast<int64_t>(files.size());
  const int64_t block = static_cast<int64_t>(options_.files_per_round) * group_.size();
  const bool replay = round < rounds_resumed_;
  std::map<int64_t, CheckedInput> decoded;
  json hashes = json::array();
  int64_t count = 0, processed = 0;
  for (int64_t i = round * block + group_.rank(); i < std::min(total, (round + 1) * block); i += group_.size()) {
    ++count;
    if (replay) {  // finished before the interruption: its result stands, only its hash is needed
      const auto it = results_.find(i);
      if (it == results_.end())
        throw Error(fmt::format("done record of rank {} lacks input {} ({}); delete {}/.prep and rerun", group_.rank(),
                                i, files[static_cast<size_t>(i)].path, options_.output));
      if (!it->second.content_hash.empty()) hashes.push_back({i, it->second.content_hash});
      samples_mine_ += it->second.samples;
      continue;
    }
    ++processed;
    const auto& file = files[static_cast<size_t>(i)];
    CheckedInput checked;
    if (!file.problem.empty()) {
      checked.reason = file.problem;
    } else {
      try {
        checked = check_input(file.path, rules_);
      } catch (const std::exception& e) {  // e.g. out of memory on an absurd header
        checked = CheckedInput{};
        checked.reason = fmt::format("error: {}", e.what());
      }
    }
    if (!checked.content_hash.empty()) hashes.push_back({i, checked.content_hash});
    decoded.emplace(i, std::move(checked));
    group_.progress();
  }

  // Every rank sees every candidate's hash, in corpus order: the first input with given content
  // wins, whatever the number of ranks. The counts feed rank 0's progress line.
  const json msg = {{"count", count}, {"processed", processed}, {"samples", samples_mine_}, {"hashes", hashes}};
  std::vector<Candidate> all;
  int64_t samples_all = 0;
  for (const auto& text : group_.allgather_text(msg.dump(), "content hashes")) {
    const json j = json::parse(text);
    files_done_ += j.at("count").get<int64_t>();
    processed_all_ += j.at("processed").get<int64_t>();
    samples_all += j.at("samples").get<int64_t>();
    for (const auto& c : j.at("hashes")) all.push_back({c.at(0).get<int64_t>(), c.at(1).get<std::string>()});
  }
  std::sort(all.begin(), all.end(), [](const Candidate& a, const Candidate& b) { return a.index < b.index; });
  std::map<int64_t, int64_t> duplicate_of;
  for (const auto& c : all) {
    const auto [it, inserted] = first_with_hash_.emplace(c.hash, c.index);
    if (!inserted && it->second != c.index) duplicate_of[c.index] = it->second;
  }

  for (auto& [i, checked] : decoded) {
    const auto& file = files[static_cast<size_t>(i)];
    InputResult r{i, checked.status, checked.reason, checked.content_hash, 0};
    if (r.status != Status::rejected && duplicate_of.count(i)) {
      r.status = Status::rejected;
      r.reason = fmt::format("duplicate: same audio as {}", files[static_cast<size_t>(duplicate_of[i])].path);
    }
    if (r.status != Status::rejected) {
      write_utterance(file, checked.samples);
      group_.progress();
      r.samples = static_cast<int64_t>(checked.samples.size());
      samples_mine_ += r.samples;
    }
    checked.samples = {};
    results_[i] = r;
    pending_.push_back(r);
  }
  processed_ += processed;
  if (!replay && writer_ && writer_->hours() >= config_.prep.shard_hours) close_shard(round + 1);
  if (progress) progress->update(files_done_, processed_all_, double(samples_all) / config_.audio.sample_rate / 3600.0);
}

void RankJob::run_rounds() {
  const int64_t total = static_cast<int64_t>(plan_.corpus.files.size());
  const int64_t block = static_cast<int64_t>(options_.files_per_round) * group_.size();
  const int64_t rounds = (total + block - 1) / block;
  std::unique_ptr<Progress> progress;
  if (group_.is_root()) progress = std::make_unique<Progress>(total);
  for (int64_t round = 0; round < rounds; ++round) process_round(round, progress.get());
  if (rounds_resumed_ < rounds) close_shard(rounds);
  if (progress) progress->finish();
}

std::string RankJob::encode_results() const {
  RankResults out;
  for (const auto& [i, r] : results_) out.results.push_back(r);
  out.shards = shards_;
  out.processed = processed_;
  return encode(out);
}

// Rank 0: the report, the summary and the manifest, from every rank's results.
int finish_on_root(const PrepOptions& o, const Config& c, const Plan& plan, const std::vector<std::string>& per_rank,
                   double seconds) {
  const auto& files = plan.corpus.files;
  std::vector<ReportRow> rows(files.size());
  std::vector<bool> seen(files.size(), false);
  Summary summary;
  summary.seconds = seconds;
  Manifest m;
  m.format_version = kShardFormatVersion;
  m.inputs_fingerprint = plan.inputs_fp;
  m.config_fingerprint = plan.config_fp;
  m.audio = c.audio;
  m.audio.win_length = c.audio.resolved_win_length();
  m.audio.f_max = c.audio.resolved_f_max();
  m.audio_dtype = c.prep.audio_dtype;
  m.compression = c.prep.compression;
  m.validation_fraction = c.prep.validation_fraction;
  int64_t samples = 0;
  const double hours_per_sample = 1.0 / c.audio.sample_rate / 3600.0;
  for (const auto& text : per_rank) {
    const auto rank = decode_rank_results(text);
    summary.processed += rank.processed;
    for (const auto& r : rank.results) {
      const auto i = static_cast<size_t>(r.index);
      rows.at(i) = {files[i].path, r.status, r.reason};
      seen[i] = true;
      samples += r.samples;
      if (r.status != Status::rejected && is_validation_id(files[i].id, m.validation_fraction))
        m.validation_ids.push_back(files[i].id);
    }
    for (const auto& s : rank.shards)
      m.shards.push_back({"shards/" + s.name, s.sha256, s.bytes, s.utterances, s.validation_utterances,
                          double(s.samples) * hours_per_sample});
  }
  for (size_t i = 0; i < files.size(); ++i) {
    if (!seen[i]) rows[i] = {files[i].path, Status::rejected, "error: no rank reported this input"};
    summary.add(rows[i]);
  }
  std::sort(m.shards.begin(), m.shards.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  std::sort(m.validation_ids.begin(), m.validation_ids.end());
  summary.hours = double(samples) * hours_per_sample;
  m.inputs = static_cast<int64_t>(files.size());
  m.accepted = summary.accepted;
  m.warnings = summary.warnings;
  m.rejected = summary.rejected;

  const fs::path out(o.output);
  write_report((out / "report.tsv").string(), rows);
  if (summary.accepted > 0) m.save((out / "manifest.json").string());
  fmt::print(stderr, "diffwave-prep: {}\n", summary.text());
  if (summary.accepted == 0) {
    fmt::print(stderr, "diffwave-prep: no usable input; nothing written but {} (see its reasons)\n",
               (out / "report.tsv").string());
    return 1;
  }
  fmt::print(stderr, "diffwave-prep: wrote {} shard(s) and {}\n", m.shards.size(), (out / "manifest.json").string());
  return 0;
}

// Threads for ATen's STFT and matmul: the cores of this node shared among its ranks.
void set_threads() {
  int local_ranks = 1;
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"})
    if (const char* v = std::getenv(name)) {
      local_ranks = std::max(1, std::atoi(v));
      break;
    }
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(std::max(1, cores / local_ranks));
}

}  // namespace

int run_prep(const PrepOptions& o, ProcessGroup& group) {
  const auto start = std::chrono::steady_clock::now();
  Config config;
  try {
    config = Config::load(o.config_path, o.overrides);
    config.validate(0);
  } catch (const ConfigError& e) {
    if (group.is_root()) fmt::print(stderr, "diffwave-prep: {}\n", e.what());
    return 2;
  }
  set_threads();
  // Every collective below is watched; a rank stuck on an input (a hung file system) ends the job.
  std::unique_ptr<GroupWatch> watch;
  try {
    watch = std::make_unique<GroupWatch>(group, (fs::path(o.output) / ".prep" / "heartbeat").string(),
                                         o.comm_timeout, "diffwave-prep");
  } catch (const std::exception& e) {
    fmt::print(stderr, "diffwave-prep: rank {}: --output {}: {}\n", group.rank(), o.output, e.what());
    return 2;
  }

  Plan plan;
  std::string encoded;
  if (group.is_root()) {
    Watchdog::Busy discovering(&watch->watchdog());  // the others wait for rank 0's plan
    Plan made;
    try {
      made = make_plan(o, config, group.size());
    } catch (const std::exception& e) {  // e.g. a folder of OUT that cannot be listed
      made = Plan{};
      made.error = e.what();
    }
    encoded = made.encode();
  }
  plan = Plan::decode(group.broadcast_text(encoded, 0, "plan broadcast"));
  if (!plan.error.empty()) {
    if (group.is_root()) fmt::print(stderr, "diffwave-prep: {}\n", plan.error);
    return 2;
  }
  if (plan.action == "up-to-date") {
    if (group.is_root())
      fmt::print(stderr, "diffwave-prep: {} is up to date with these inputs and config; nothing to do\n", o.output);
    return 0;
  }
  if (group.is_root())
    fmt::print(stderr, "diffwave-prep: {} inputs ({}) on {} rank(s){}\n", plan.corpus.files.size(), plan.corpus.kind,
               group.size(), plan.action == "resume" ? ", resuming" : "");

  std::string mine;
  try {
    RankJob job(o, config, plan, group);
    if (plan.action == "resume") job.resume();
    job.run_rounds();
    mine = job.encode_results();
  } catch (const std::exception& e) {
    // Output errors (disk full, permissions) or a broken record: no rank may wait on this one.
    group.abort(fmt::format("diffwave-prep: {}", e.what()), 3);
  }
  const auto per_rank = group.gather_text(mine, 0, "results gather");
  int code = 0;
  if (group.is_root()) {
    Watchdog::Busy finishing(&watch->watchdog());  // the others wait while rank 0 writes the manifest
    try {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      code = finish_on_root(o, config, plan, per_rank, seconds);
    } catch (const std::exception& e) {
      group.abort(fmt::format("diffwave-prep: {}", e.what()), 3);
    }
  }
  return static_cast<int>(group.allreduce(static_cast<long long>(code), ReduceOp::max, "verdict"));  // rank 0's verdict, on every rank
}

}  // namespace diffwave::prep
