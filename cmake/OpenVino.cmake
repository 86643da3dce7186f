# Imported target openvino::runtime for the engine's OpenVINO backend
# (TTS_BACKEND=openvino). OPENVINO_ROOT may point at any OpenVINO with
# include/openvino/openvino.hpp and the libopenvino library under lib/, libs/
# or runtime/lib/intel64 (an unpacked wheel, a release archive), or at the
# default that scripts/fetch_openvino.sh prepares. The CPU plugin and the ONNX
# frontend are loaded at run time from the library's own directory.
# -DSUPERTONIC_OPENVINO=OFF builds without it: the backend then reports that it
# is not compiled in, and its tests skip.
option(SUPERTONIC_OPENVINO "Build the OpenVINO backend (TTS_BACKEND=openvino)" ON)
if(NOT SUPERTONIC_OPENVINO)
  message(STATUS "OpenVINO backend: off (SUPERTONIC_OPENVINO=OFF)")
  return()
endif()
set(OPENVINO_ROOT "$ENV{OPENVINO_ROOT}" CACHE PATH "OpenVINO root (include/ and lib/)")
if(NOT OPENVINO_ROOT)
  set(OPENVINO_ROOT ${PROJECT_SOURCE_DIR}/build/_deps/openvino CACHE PATH "" FORCE)
endif()
find_path(OPENVINO_INCLUDE_DIR openvino/openvino.hpp
  PATHS ${OPENVINO_ROOT}/include ${OPENVINO_ROOT}/runtime/include NO_DEFAULT_PATH)
find_library(OPENVINO_LIBRARY NAMES openvino
  PATHS ${OPENVINO_ROOT}/lib ${OPENVINO_ROOT}/libs ${OPENVINO_ROOT}/runtime/lib/intel64 NO_DEFAULT_PATH)
if(NOT OPENVINO_INCLUDE_DIR OR NOT OPENVINO_LIBRARY)
  message(FATAL_ERROR "OpenVINO not found under OPENVINO_ROOT=${OPENVINO_ROOT}. Run scripts/setup.sh (it runs "
                      "scripts/fetch_openvino.sh), set OPENVINO_ROOT, or configure with -DSUPERTONIC_OPENVINO=OFF.")
endif()
message(STATUS "OpenVINO: ${OPENVINO_LIBRARY} (headers ${OPENVINO_INCLUDE_DIR})")
add_library(openvino::runtime SHARED IMPORTED GLOBAL)
set_target_properties(openvino::runtime PROPERTIES
  IMPORTED_LOCATION ${OPENVINO_LIBRARY}
  INTERFACE_INCLUDE_DIRECTORIES ${OPENVINO_INCLUDE_DIR})
get_filename_component(OPENVINO_LIBRARY_DIR ${OPENVINO_LIBRARY} DIRECTORY)
list(APPEND CMAKE_BUILD_RPATH ${OPENVINO_LIBRARY_DIR})
list(APPEND CMAKE_INSTALL_RPATH ${OPENVINO_LIBRARY_DIR})
