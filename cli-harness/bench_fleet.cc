#include "bench_fleet.h"

#include <chrono>

namespace doorstep::cli {

DeviceFleet::DeviceFleet(size_t n) : lat_(n), st_(n) {
  threads_.reserve(n);
  for (size_t i = 0; i < n; ++i) threads_.emplace_back([this, i] { Loop(i); });
}

DeviceFleet::~DeviceFleet() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  go_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void DeviceFleet::Loop(size_t i) {
  uint64_t seen = 0;
  for (;;) {
    const std::function<Status(size_t)>* session = nullptr;
    {
      std::unique_lock<std::mutex> lock(mu_);
      go_cv_.wait(lock, [&] { return stop_ || round_ != seen; });
      if (stop_) return;
      seen = round_;
      session = session_;
    }
    const auto t0 = std::chrono::steady_clock::now();
    Status s = (*session)(i);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::lock_guard<std::mutex> lock(mu_);
    lat_[i] = ms;
    st_[i] = std::move(s);
    if (++done_ == threads_.size()) done_cv_.notify_one();
  }
}

Result<std::vector<double>> DeviceFleet::AllAtOnce(const std::function<Status(size_t)>& session,
                                                   double* wall_s) {
  std::unique_lock<std::mutex> lock(mu_);
  session_ = &session;
  done_ = 0;
  ++round_;
  const auto start = std::chrono::steady_clock::now();
  go_cv_.notify_all();
  done_cv_.wait(lock, [&] { return done_ == threads_.size(); });
  *wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  session_ = nullptr;
  for (const Status& s : st_) DS_RETURN_IF_ERROR(s);
  return lat_;
}

}  // namespace doorstep::cli
