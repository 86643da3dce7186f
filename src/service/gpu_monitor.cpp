#include "service/gpu_monitor.h"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace supertonic::service {

namespace {
// The few NVML declarations used, as nvml.h gives them (the header ships with
// the CUDA toolkit, which the CPU build does not have). The ABI of these
// entry points has been stable since NVML 5.
using NvmlReturn = int;  // nvmlReturn_t; 0 is NVML_SUCCESS
using NvmlDeviceHandle = void*;  // nvmlDevice_t
struct NvmlUtilization {  // nvmlUtilization_t
  unsigned int gpu;
  unsigned int memory;
};
constexpr NvmlReturn kNvmlSuccess = 0;

std::vector<std::string> SplitComma(std::string_view s) {
  std::vector<std::string> parts;
  std::string current;
  for (char c : s) {
    if (c == ',') {
      parts.push_back(current);
      current.clear();
    } else if (!std::isspace(static_cast<unsigned char>(c))) {
      current.push_back(c);
    }
  }
  parts.push_back(current);
  return parts;
}

bool AllDigits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}
}  // namespace

NvmlDeviceSelector NvmlDeviceSelector::ForCudaDevice(int cuda_device_id, const char* cuda_visible_devices) {
  NvmlDeviceSelector selector;
  const auto id = static_cast<std::size_t>(cuda_device_id < 0 ? 0 : cuda_device_id);
  if (cuda_visible_devices == nullptr || *cuda_visible_devices == '\0') {
    selector.index = static_cast<unsigned>(id);
    return selector;
  }
  const auto entries = SplitComma(cuda_visible_devices);
  if (id >= entries.size() || entries[id].empty()) {
    // CUDA would not see this device either; index it as given and let NVML say so.
    selector.index = static_cast<unsigned>(id);
  } else if (AllDigits(entries[id])) {
    selector.index = static_cast<unsigned>(std::stoul(entries[id]));
  } else {
    selector.uuid = entries[id];  // "GPU-<uuid>" (or "MIG-..."), as nvidia-smi -L prints it
  }
  return selector;
}

std::string NvmlDeviceSelector::Describe() const {
  if (uuid) return "GPU " + *uuid;
  return "GPU index " + std::to_string(index.value_or(0));
}

struct NvmlDevice::Api {
  void* library = nullptr;
  NvmlReturn (*init)() = nullptr;
  NvmlReturn (*shutdown)() = nullptr;
  NvmlReturn (*by_index)(unsigned, NvmlDeviceHandle*) = nullptr;
  NvmlReturn (*by_uuid)(const char*, NvmlDeviceHandle*) = nullptr;
  NvmlReturn (*utilization)(NvmlDeviceHandle, NvmlUtilization*) = nullptr;
  const char* (*error_string)(NvmlReturn) = nullptr;
  bool initialized = false;

  ~Api() {
    if (initialized) shutdown();
    if (library != nullptr) dlclose(library);
  }

  std::string Error(NvmlReturn r) const {
    const char* s = error_string != nullptr ? error_string(r) : nullptr;
    return (s != nullptr ? std::string(s) : std::string("error")) + " (NVML code " + std::to_string(r) + ")";
  }
};

namespace {
template <typename F>
void Bind(void* library, const char* name, F& out, const std::string& path) {
  out = reinterpret_cast<F>(dlsym(library, name));
  if (out == nullptr) throw std::runtime_error(path + " has no " + name);
}
}  // namespace

NvmlDevice::NvmlDevice(const NvmlDeviceSelector& selector, const std::string& library) : api_(std::make_unique<Api>()) {
  api_->library = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (api_->library == nullptr) {
    const char* why = dlerror();
    throw std::runtime_error("cannot load " + library + " (it comes with the NVIDIA driver): " +
                             (why != nullptr ? why : "unknown reason"));
  }
  Bind(api_->library, "nvmlInit_v2", api_->init, library);
  Bind(api_->library, "nvmlShutdown", api_->shutdown, library);
  Bind(api_->library, "nvmlDeviceGetHandleByIndex_v2", api_->by_index, library);
  Bind(api_->library, "nvmlDeviceGetHandleByUUID", api_->by_uuid, library);
  Bind(api_->library, "nvmlDeviceGetUtilizationRates", api_->utilization, library);
  Bind(api_->library, "nvmlErrorString", api_->error_string, library);

  if (const NvmlReturn r = api_->init(); r != kNvmlSuccess) throw std::runtime_error("nvmlInit: " + api_->Error(r));
  api_->initialized = true;
  NvmlDeviceHandle handle = nullptr;
  const NvmlReturn r = selector.uuid ? api_->by_uuid(selector.uuid->c_str(), &handle)
                                     : api_->by_index(selector.index.value_or(0), &handle);
  if (r != kNvmlSuccess) throw std::runtime_error("NVML has no " + selector.Describe() + ": " + api_->Error(r));
  device_ = handle;
}

NvmlDevice::~NvmlDevice() = default;

double NvmlDevice::UtilizationPercent() const {
  NvmlUtilization u{};
  if (const NvmlReturn r = api_->utilization(device_, &u); r != kNvmlSuccess) {
    throw std::runtime_error("nvmlDeviceGetUtilizationRates: " + api_->Error(r));
  }
  return static_cast<double>(u.gpu);
}

GpuUtilizationMonitor::GpuUtilizationMonitor(std::unique_ptr<NvmlDevice> device, std::chrono::milliseconds interval,
                                             std::function<void(double)> publish)
    : device_(std::move(device)), interval_(interval), publish_(std::move(publish)) {
  thread_ = std::thread([this] { Run(); });
}

GpuUtilizationMonitor::~GpuUtilizationMonitor() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void GpuUtilizationMonitor::Run() {
  bool failing = false;
  std::unique_lock lock(mutex_);
  while (!stop_) {
    lock.unlock();
    double percent = 0;
    try {
      percent = device_->UtilizationPercent();
      if (failing) spdlog::info("GPU utilization readable again");
      failing = false;
    } catch (const std::exception& e) {
      if (!failing) spdlog::warn("GPU utilization unavailable, reporting 0: {}", e.what());
      failing = true;
    }
    publish_(percent);
    lock.lock();
    wake_.wait_for(lock, interval_, [this] { return stop_; });
  }
}

}  // namespace supertonic::service
