#pragma once
// GPU utilization for tts_gpu_utilization_percent, read from NVML.
//
// NVML (libnvidia-ml.so.1) comes with the NVIDIA driver, not with the CUDA
// toolkit or ONNX Runtime, so it is loaded at run time: the same binary runs
// on machines without a driver, where the monitor reports why it is off.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace supertonic::service {

// Which device NVML should watch. NVML numbers devices by PCI bus, whatever
// CUDA_VISIBLE_DEVICES says, so the CUDA device is translated: the
// cuda_device_id-th entry of CUDA_VISIBLE_DEVICES (an index or a "GPU-..."
// UUID), or the index itself when the variable is unset.
struct NvmlDeviceSelector {
  std::optional<unsigned> index;
  std::optional<std::string> uuid;

  static NvmlDeviceSelector ForCudaDevice(int cuda_device_id, const char* cuda_visible_devices);
  std::string Describe() const;
};

// One NVML session bound to one device. Construction throws
// std::runtime_error naming what is missing (library, symbol, device).
class NvmlDevice {
 public:
  static constexpr const char* kDefaultLibrary = "libnvidia-ml.so.1";

  NvmlDevice(const NvmlDeviceSelector& selector, const std::string& library = kDefaultLibrary);
  ~NvmlDevice();
  NvmlDevice(const NvmlDevice&) = delete;
  NvmlDevice& operator=(const NvmlDevice&) = delete;

  // Percent of the last sample period in which a kernel ran; throws on an NVML error.
  double UtilizationPercent() const;

 private:
  struct Api;
  std::unique_ptr<Api> api_;
  void* device_ = nullptr;
};

// Samples a device every `interval` on its own thread (an NVML call can take
// milliseconds; /metrics and the network threads never wait for one) and
// hands each reading to `publish`. A failed reading is logged once and
// published as 0 until the device answers again.
class GpuUtilizationMonitor {
 public:
  GpuUtilizationMonitor(std::unique_ptr<NvmlDevice> device, std::chrono::milliseconds interval,
                        std::function<void(double)> publish);
  ~GpuUtilizationMonitor();
  GpuUtilizationMonitor(const GpuUtilizationMonitor&) = delete;
  GpuUtilizationMonitor& operator=(const GpuUtilizationMonitor&) = delete;

 private:
  void Run();

  std::unique_ptr<NvmlDevice> device_;
  std::chrono::milliseconds interval_;
  std::function<void(double)> publish_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace supertonic::service
