#include "distributed/communicator.h"
#include "distributed/process_group.h"
#include "distributed/watchdog.h"

namespace diffwave {

namespace {
class SingleCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string name() const override { return "single"; }
  void all_reduce_mean(at::Tensor&) override {}
  void broadcast(at::Tensor&, int) override {}
};
class WatchedCommunicator final : public Communicator {
 public:
  WatchedCommunicator(std::unique_ptr<Communicator> inner, Watchdog& w) : inner_(std::move(inner)), w_(w) {}
  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  std::string name() const override { return inner_->name(); }
  void all_reduce_mean(at::Tensor& t) override {
    Watchdog::Scope s(&w_, inner_->name() + " all-reduce", t.nbytes());
    inner_->all_reduce_mean(t);
  }
  void broadcast(at::Tensor& t, int root) override {
    Watchdog::Scope s(&w_, inner_->name() + " broadcast", t.nbytes());
    inner_->broadcast(t, root);
  }
  void synchronize() override {
    Watchdog::Scope s(&w_, inner_->name() + " synchronize");
    inner_->synchronize();
  }
  void abort() override { inner_->abort(); }

 private:
  std::unique_ptr<Communicator> inner_;
  Watchdog& w_;
};

}  // namespace

std::unique_ptr<Communicator> watched(std::unique_ptr<Communicator> inner, Watchdog& watchdog) {
  return std::make_unique<WatchedCommunicator>(std::move(inner), watchdog);
}

std::unique_ptr<Communicator> make_single_communicator() { return std::make_unique<SingleCommunicator>(); }

std::unique_ptr<Communicator> make_communicator(ProcessGroup& group, const c10::Device& device) {
  if (group.size() == 1) return make_single_communicator();
  std::unique_ptr<Communicator> inner;
  {
    const auto scope = group.watched("communicator set-up");  // NCCL's id broadcast and init
    inner = device.is_cuda() ? make_nccl_communicator(group, device.index()) : make_mpi_communicator(group);
  }
  return group.watchdog() ? watched(std::move(inner), *group.watchdog()) : std::move(inner);
}

}  // namespace diffwave
