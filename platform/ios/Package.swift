// swift-tools-version:5.7
// Doorstep's iOS shell: one Swift class over the C ABI (../c/include/doorstep/doorstep.h).
// Not compiled on the Linux build machines (no Swift toolchain there): see README.md.
import PackageDescription

let package = Package(
  name: "Doorstep",
  platforms: [.iOS(.v15), .macOS(.v12)],
  products: [
    .library(name: "Doorstep", targets: ["Doorstep"]),
  ],
  targets: [
    // The C ABI as a Clang module; links libdoorstep (built for the target
    // platform from this repository's CMake project, see README.md).
    .systemLibrary(name: "CDoorstep", path: "Sources/CDoorstep"),
    .target(name: "Doorstep", dependencies: ["CDoorstep"], path: "Sources/Doorstep"),
  ]
)
