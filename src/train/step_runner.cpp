#include "train/step_runner.h"

#include <ATen/ATen.h>

#include <cmath>
#include <optional>

#include "common/error.h"
#include "distributed/communicator.h"
#include "distributed/gradient_reducer.h"
#include "model/bf16_autocast.h"
#include "train/graphed_step.h"

namespace diffwave {

namespace {

StepResult read_back(const at::Tensor& loss_and_norm) {
  const auto host = loss_and_norm.cpu();
  StepResult r;
  r.loss = host[0].item<double>();
  r.grad_norm = host[1].item<double>();
  r.applied = std::isfinite(r.grad_norm);
  return r;
}

class EagerStep final : public StepRunner {
 public:
  EagerStep(const StepParts& parts, Communicator& comm, size_t bucket_cap_bytes) : p_(parts) {
    // Alone, a rank has nothing to average: gradients stay where backward leaves them.
    if (comm.size() > 1) reducer_.emplace(p_.params, comm, bucket_cap_bytes);
  }

  StepResult run(const TrainingBatch& batch, double lr) override {
    const auto result = read_back(accumulate(batch, true));
    // Gradients are averaged over ranks and identical everywhere, so every rank takes the same
    // decision on a non-finite norm without another collective.
    if (result.applied) {
      p_.adam->set_lr(lr);
      p_.adam->step();
      p_.ema->update(p_.params, p_.adam->steps());
    }
    p_.model->zero_grad(/*set_to_none=*/true);
    return result;
  }

  // Forward and backward over the micro-batches, the average over ranks, clipping; returns
  // [loss, norm] on the device. reduce: average here (the graphed step averages between graphs).
  at::Tensor accumulate(const TrainingBatch& batch, bool reduce) {
    p_.model->train();
    const int64_t micro = batch.audio.size(0) / p_.grad_accumulation;
    const auto device = p_.params.front().device();
    at::Tensor loss_sum;
    for (int m = 0; m < p_.grad_accumulation; ++m) {
      auto take = [&](const at::Tensor& x) {
        return x.defined() ? x.slice(0, m * micro, (m + 1) * micro).to(device, /*non_blocking=*/true) : x;
      };
      const bool last = m == p_.grad_accumulation - 1;
      if (reducer_ && reduce) reducer_->prepare(last);
      at::Tensor loss;
      {
        Bf16Autocast autocast(p_.bf16);
        loss = diffusion_loss(p_.model, take(batch.audio), take(batch.mel), take(batch.t), take(batch.noise),
                              p_.noise_level, p_.loss);
      }
      (loss / static_cast<double>(p_.grad_accumulation)).backward();
      if (reducer_ && reduce) {
        reducer_->finish();
        comm_wait_ += reducer_->last_wait_seconds();
      }
      const auto part = loss.detach().to(at::kDouble) / p_.grad_accumulation;
      loss_sum = loss_sum.defined() ? loss_sum + part : part;
    }
    return at::stack({loss_sum, clip_grad_norm(p_.params, p_.max_grad_norm).to(at::kDouble)});
  }

  // Every bucket at once, after a backward whose hooks did not run (a graph replay).
  void reduce_all() {
    if (!reducer_) return;
    reducer_->prepare(true);
    reducer_->finish();
    comm_wait_ += reducer_->last_wait_seconds();
  }
  bool reduces() const { return reducer_.has_value(); }

 private:
  StepParts p_;
  std::optional<GradientReducer> reducer_;
};

class GraphedStepRunner final : public StepRunner {
 public:
  GraphedStepRunner(const StepParts& parts, Communicator& comm, size_t bucket_cap_bytes)
      : p_(parts), eager_(parts, comm, bucket_cap_bytes) {}

  StepResult run(const TrainingBatch& batch, double lr) override {
    if (!graph_) {
      const auto result = eager_.run(batch, lr);
      comm_wait_ += eager_.take_comm_wait();
      if (++eager_steps_ >= kEagerStepsBeforeCapture) {
        std::function<void()> between;
        if (eager_.reduces())
          between = [this] {
            eager_.reduce_all();
            comm_wait_ += eager_.take_comm_wait();
          };
        graph_ = std::make_unique<GraphedStep>(p_, batch, std::move(between));
      }
      return result;
    }
    const auto result = read_back(graph_->run(batch, lr));
    if (result.applied) p_.adam->count_step();  // the graph applied Adam and the EMA on the device
    return result;
  }

 private:
  static constexpr int kEagerStepsBeforeCapture = 3;
  StepParts p_;
  EagerStep eager_;
  int eager_steps_ = 0;
  std::unique_ptr<GraphedStep> graph_;
};

}  // namespace

std::unique_ptr<StepRunner> make_eager_step(const StepParts& parts, Communicator& comm, size_t bucket_cap_bytes) {
  return std::make_unique<EagerStep>(parts, comm, bucket_cap_bytes);
}

std::unique_ptr<StepRunner> make_graphed_step(const StepParts& parts, Communicator& comm, size_t bucket_cap_bytes) {
  if (!parts.params.front().device().is_cuda()) throw Error("train.cuda_graphs needs the model on a GPU");
  return std::make_unique<GraphedStepRunner>(parts, comm, bucket_cap_bytes);
}

}  // namespace diffwave
