// Collective operations on tensors, one implementation per transport: NCCL (CUDA tensors), MPI
// (CPU tensors) and a single-process one. The trainer picks one at start and never asks which.
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <memory>
#include <string>

namespace diffwave {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string name() const = 0;

  // In place: every rank ends with the element-wise mean over ranks of a contiguous float tensor.
  // May return before the result is ready (NCCL enqueues on its own stream); the result is
  // complete once synchronize() returns. Must be called in the same order on every rank.
  virtual void all_reduce_mean(at::Tensor& tensor) = 0;
  // In place: every rank ends with root's values.
  virtual void broadcast(at::Tensor& tensor, int root) = 0;
  // Makes the results of earlier calls visible to work the caller issues afterwards.
  virtual void synchronize() {}
  // Ends pending work without waiting for peers (NCCL abort), before the job is torn down.
  virtual void abort() {}
};

class Watchdog;
// Brackets every collective of `inner` with the watchdog, so a stalled peer ends the job.
std::unique_ptr<Communicator> watched(std::unique_ptr<Communicator> inner, Watchdog& watchdog);

class ProcessGroup;

// The world of one: collectives are identities.
std::unique_ptr<Communicator> make_single_communicator();
// CPU tensors over MPI (the group must be on MPI).
std::unique_ptr<Communicator> make_mpi_communicator(ProcessGroup& group);
// CUDA tensors on `device` over NCCL; throws in a build without NCCL.
std::unique_ptr<Communicator> make_nccl_communicator(ProcessGroup& group, int device);
// The transport for tensors on `device`: single for a world of one, NCCL for CUDA, else MPI;
// its set-up and every collective under the group's watchdog when it has one.
std::unique_ptr<Communicator> make_communicator(ProcessGroup& group, const c10::Device& device);

}  // namespace diffwave
