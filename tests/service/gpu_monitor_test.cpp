// tts_gpu_utilization_percent's source: NVML loaded at run time, the CUDA
// device translated to NVML's numbering, failures reported as 0 and logged.
// Runs against tests/support/fake_nvml.cpp (no NVIDIA driver needed).
#include "service/gpu_monitor.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace supertonic::service {
namespace {

using namespace std::chrono_literals;

NvmlDeviceSelector Index(unsigned i) { return NvmlDeviceSelector{i, std::nullopt}; }

// The message of the error opening `selector` through `library` raises ("" if none).
std::string OpenError(const NvmlDeviceSelector& selector, const std::string& library) {
  try {
    NvmlDevice device(selector, library);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

class FakeNvml : public ::testing::Test {
 protected:
  void SetUp() override {
    handle_ = dlopen(FAKE_NVML_PATH, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle_, nullptr) << dlerror();
    set_ = reinterpret_cast<void (*)(unsigned, unsigned, int)>(dlsym(handle_, "fake_nvml_set"));
    init_count_ = reinterpret_cast<int (*)()>(dlsym(handle_, "fake_nvml_init_count"));
    ASSERT_NE(set_, nullptr);
    ASSERT_NE(init_count_, nullptr);
    set_(0, 0, 0);
    set_(1, 0, 0);
  }
  void TearDown() override {
    if (handle_ != nullptr) dlclose(handle_);
  }
  void* handle_ = nullptr;
  void (*set_)(unsigned, unsigned, int) = nullptr;
  int (*init_count_)() = nullptr;
};

TEST(NvmlDeviceSelector, CudaDeviceIsTranslatedThroughCudaVisibleDevices) {
  auto unset = NvmlDeviceSelector::ForCudaDevice(1, nullptr);
  EXPECT_EQ(unset.index, 1u);
  EXPECT_FALSE(unset.uuid);
  EXPECT_EQ(NvmlDeviceSelector::ForCudaDevice(0, "").index, 0u);

  // CUDA device 0 of "3,5" is the machine's GPU 3.
  EXPECT_EQ(NvmlDeviceSelector::ForCudaDevice(0, "3,5").index, 3u);
  EXPECT_EQ(NvmlDeviceSelector::ForCudaDevice(1, "3, 5").index, 5u);

  auto by_uuid = NvmlDeviceSelector::ForCudaDevice(0, "GPU-8f6e2b1a-0000-1111-2222-333344445555");
  EXPECT_EQ(by_uuid.uuid, "GPU-8f6e2b1a-0000-1111-2222-333344445555");
  EXPECT_FALSE(by_uuid.index);
  EXPECT_EQ(by_uuid.Describe(), "GPU GPU-8f6e2b1a-0000-1111-2222-333344445555");
}

TEST_F(FakeNvml, ReadsTheSelectedDevice) {
  set_(0, 17, 0);
  set_(1, 93, 0);
  EXPECT_EQ(NvmlDevice(Index(0), FAKE_NVML_PATH).UtilizationPercent(), 17.0);
  EXPECT_EQ(NvmlDevice(Index(1), FAKE_NVML_PATH).UtilizationPercent(), 93.0);
  const auto selector = NvmlDeviceSelector::ForCudaDevice(0, "GPU-fake-1");
  EXPECT_EQ(NvmlDevice(selector, FAKE_NVML_PATH).UtilizationPercent(), 93.0);
}

TEST_F(FakeNvml, ShutsNvmlDownWhenDone) {
  const int before = init_count_();
  {
    NvmlDevice device(Index(0), FAKE_NVML_PATH);
    EXPECT_EQ(init_count_(), before + 1);
  }
  EXPECT_EQ(init_count_(), before);
}

TEST_F(FakeNvml, MissingDeviceIsAClearError) {
  const std::string error = OpenError(NvmlDeviceSelector::ForCudaDevice(0, "GPU-not-here"), FAKE_NVML_PATH);
  EXPECT_NE(error.find("GPU-not-here"), std::string::npos) << error;
  EXPECT_NE(error.find("Not Found"), std::string::npos) << error;
  EXPECT_NE(OpenError(Index(7), FAKE_NVML_PATH), "");
}

TEST(NvmlDevice, MissingLibraryNamesTheDriver) {
  const std::string error = OpenError(Index(0), "libnvidia-ml-does-not-exist.so.1");
  EXPECT_NE(error.find("libnvidia-ml-does-not-exist.so.1"), std::string::npos) << error;
  EXPECT_NE(error.find("NVIDIA driver"), std::string::npos) << error;
}

TEST(NvmlDevice, LibraryWithoutNvmlIsRefused) {
  // libc is a real shared library that lacks every NVML symbol.
  const std::string error = OpenError(Index(0), "libc.so.6");
  EXPECT_NE(error.find("has no nvmlInit_v2"), std::string::npos) << error;
}

TEST_F(FakeNvml, MonitorPublishesReadingsAndZeroWhileTheDeviceFails) {
  std::atomic<double> last{-1};
  std::atomic<int> readings{0};
  auto wait_for = [&](double value) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (last.load() == value) return true;
      std::this_thread::sleep_for(1ms);
    }
    return false;
  };
  set_(0, 42, 0);
  {
    GpuUtilizationMonitor monitor(std::make_unique<NvmlDevice>(Index(0), FAKE_NVML_PATH), 5ms, [&](double p) {
      last = p;
      ++readings;
    });
    EXPECT_TRUE(wait_for(42));
    set_(0, 42, 15);  // GPU is lost
    EXPECT_TRUE(wait_for(0));
    set_(0, 64, 0);
    EXPECT_TRUE(wait_for(64));
  }
  // Stopped: no reading after destruction.
  const int after = readings.load();
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(readings.load(), after);
}

TEST_F(FakeNvml, MonitorStopsPromptlyWithALongInterval) {
  const auto start = std::chrono::steady_clock::now();
  {
    GpuUtilizationMonitor monitor(std::make_unique<NvmlDevice>(Index(0), FAKE_NVML_PATH), 1h, [](double) {});
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

}  // namespace
}  // namespace supertonic::service
