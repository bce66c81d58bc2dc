/* The one header the Swift shell sees: the C ABI, unchanged. */
#include "../../../c/include/doorstep/doorstep.h"
