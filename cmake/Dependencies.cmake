# Every third-party dependency, found once. All come from Debian 12 packages
# (scripts/install-deps.sh installs them).
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(absl REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(CLI11 REQUIRED)
# Debian's dnnl-config.cmake insists on OpenCL headers for its GPU runtime, which we never use;
# link the library directly instead.
find_library(DNNL_LIBRARY NAMES dnnl REQUIRED)
find_path(DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp REQUIRED)
add_library(tessera_dnnl INTERFACE)
target_link_libraries(tessera_dnnl INTERFACE ${DNNL_LIBRARY})
target_include_directories(tessera_dnnl SYSTEM INTERFACE ${DNNL_INCLUDE_DIR})
find_package(Boost 1.81 REQUIRED CONFIG)  # Beast and Asio: header-only (Boost::headers)
find_package(OpenSSL REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(LibArchive REQUIRED)  # model archives (.tar, .tar.gz) in the registry
find_package(OpenMP REQUIRED)
pkg_check_modules(TURBOJPEG REQUIRED IMPORTED_TARGET libturbojpeg)
# The libjpeg API of libjpeg-turbo (libjpeg62-turbo-dev): what Pillow decodes with.
pkg_check_modules(LIBJPEG REQUIRED IMPORTED_TARGET libjpeg)
pkg_check_modules(SPNG REQUIRED IMPORTED_TARGET spng)
pkg_check_modules(WEBP REQUIRED IMPORTED_TARGET libwebp)
if(TESSERA_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()
if(TESSERA_BUILD_BENCH)
  find_package(benchmark REQUIRED)
endif()
