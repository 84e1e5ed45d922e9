#include "ops.h"

#ifndef LDMATTE_VERSION
#define LDMATTE_VERSION "unknown"
#endif

namespace ldmatte {

const char* version() { return LDMATTE_VERSION; }

bool cuda_built() {
#ifdef LDMATTE_WITH_CUDA
  return true;
#else
  return false;
#endif
}

}  // namespace ldmatte
