#include "train/signals.h"

#include <csignal>
#include <initializer_list>

namespace diffwave {

namespace {
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int sig) { g_stop_signal = sig; }
}  // namespace

void install_stop_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int sig : {SIGTERM, SIGUSR1, SIGINT}) sigaction(sig, &action, nullptr);
}

int stop_signal() { return g_stop_signal; }
void clear_stop_signal() { g_stop_signal = 0; }

}  // namespace diffwave
