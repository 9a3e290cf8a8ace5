# The same addon as CMakeLists.txt, for node-gyp users (`npm run build:gyp`). libtorch's location, flags
# and the source list come from scripts/install/libtorch.js, the one discovery both builds share.
{
  "targets": [{
    "target_name": "squisher",
    "sources": ["<!@(node scripts/install/libtorch.js --gyp-sources)"],
    "include_dirs": [
      "<!(node -p \"require('node-addon-api').include_dir\")",
      "<!@(node scripts/install/libtorch.js --gyp-include)",
      "native",
      "native/distributed/gloo-headers"
    ],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
    "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter",
                  "<!@(node scripts/install/libtorch.js --gyp-cflags)"],
    "libraries": ["<!@(node scripts/install/libtorch.js --gyp-libs)"],
    "xcode_settings": { "GCC_ENABLE_CPP_EXCEPTIONS": "YES", "CLANG_CXX_LANGUAGE_STANDARD": "c++17" }
  }]
}
