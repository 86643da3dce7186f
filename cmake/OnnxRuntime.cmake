# Imported target onnxruntime::onnxruntime.
# ORT_ROOT may point at any ONNX Runtime with include/ (or include/onnxruntime/)
# and lib/: a system package, an official release tarball (e.g. the GPU build),
# or the default that scripts/fetch_onnxruntime.sh prepares.
set(ORT_ROOT "$ENV{ORT_ROOT}" CACHE PATH "ONNX Runtime root (include/ and lib/)")
if(NOT ORT_ROOT)
  set(ORT_ROOT ${PROJECT_SOURCE_DIR}/build/_deps/onnxruntime CACHE PATH "" FORCE)
endif()

find_path(ORT_INCLUDE_DIR onnxruntime_cxx_api.h
  PATHS ${ORT_ROOT}/include ${ORT_ROOT}/include/onnxruntime
        ${ORT_ROOT}/include/onnxruntime/core/session
  NO_DEFAULT_PATH)
find_library(ORT_LIBRARY NAMES onnxruntime PATHS ${ORT_ROOT}/lib ${ORT_ROOT}/lib64 NO_DEFAULT_PATH)
if(NOT ORT_INCLUDE_DIR OR NOT ORT_LIBRARY)
  message(FATAL_ERROR "ONNX Runtime not found under ORT_ROOT=${ORT_ROOT}. "
                      "Run scripts/setup.sh, or set ORT_ROOT to an ONNX Runtime with include/ and lib/.")
endif()
message(STATUS "ONNX Runtime: ${ORT_LIBRARY} (headers ${ORT_INCLUDE_DIR})")

add_library(onnxruntime::onnxruntime SHARED IMPORTED GLOBAL)
set_target_properties(onnxruntime::onnxruntime PROPERTIES
  IMPORTED_LOCATION ${ORT_LIBRARY}
  IMPORTED_NO_SONAME FALSE
  INTERFACE_INCLUDE_DIRECTORIES ${ORT_INCLUDE_DIR})
get_filename_component(ORT_LIBRARY_DIR ${ORT_LIBRARY} DIRECTORY)
set(CMAKE_BUILD_RPATH ${ORT_LIBRARY_DIR})
set(CMAKE_INSTALL_RPATH ${ORT_LIBRARY_DIR})
