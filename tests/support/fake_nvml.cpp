// A stand-in for libnvidia-ml.so.1 with the entry points the GPU monitor
// binds, so the loading, device selection and error paths are tested on
// machines without an NVIDIA driver. Two devices: index 0 and 1, UUIDs
// "GPU-fake-0" and "GPU-fake-1".
#include <atomic>
#include <cstring>

namespace {
struct FakeDevice {
  std::atomic<unsigned> utilization{0};
  std::atomic<int> error{0};
};
FakeDevice devices[2];
std::atomic<int> init_count{0};
}  // namespace

extern "C" {
struct nvmlUtilization_t {
  unsigned int gpu;
  unsigned int memory;
};

// Test controls (not NVML).
void fake_nvml_set(unsigned index, unsigned utilization, int error) {
  devices[index].utilization = utilization;
  devices[index].error = error;
}
int fake_nvml_init_count() { return init_count.load(); }

int nvmlInit_v2() {
  ++init_count;
  return 0;
}
int nvmlShutdown() {
  --init_count;
  return 0;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned index, void** device) {
  if (index >= 2) return 2;  // NVML_ERROR_INVALID_ARGUMENT
  *device = &devices[index];
  return 0;
}
int nvmlDeviceGetHandleByUUID(const char* uuid, void** device) {
  for (unsigned i = 0; i < 2; ++i) {
    const char name[] = {'G', 'P', 'U', '-', 'f', 'a', 'k', 'e', '-', static_cast<char>('0' + i), '\0'};
    if (std::strcmp(uuid, name) == 0) {
      *device = &devices[i];
      return 0;
    }
  }
  return 6;  // NVML_ERROR_NOT_FOUND
}
int nvmlDeviceGetUtilizationRates(void* device, nvmlUtilization_t* u) {
  auto* d = static_cast<FakeDevice*>(device);
  if (d->error != 0) return d->error;
  u->gpu = d->utilization;
  u->memory = 0;
  return 0;
}
const char* nvmlErrorString(int r) {
  switch (r) {
    case 2: return "Invalid Argument";
    case 6: return "Not Found";
    case 15: return "GPU is lost";
    default: return "Unknown Error";
  }
}
}
