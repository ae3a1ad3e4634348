// libFuzzer's driver (compiler-rt, FuzzerInterface.h): runs the fuzzing loop over `callback`
// with libFuzzer's command-line flags. The fuzz targets call it from their own `main`, since
// SwiftPM gives every executable a `main` of its own.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
