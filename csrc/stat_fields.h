// The per-image statistics of the alpha refinement, in the order of their int64 vector.
// This list and python/ldmatte/_stats.py are the two spellings of one contract: the
// native module exposes it as stat_fields() and a test compares the two wherever the
// extension is built (with or without the CUDA kernels).
#pragma once

// X(enumerator, "field name"). The classes band .. isolated stay adjacent and in this
// order: the CUDA kernel adds them as one block indexed by the touch flags.
#define LDMATTE_STAT_FIELDS(X)                        \
  X(kRaised, "pixels_raised")                         \
  X(kLowered, "pixels_lowered")                       \
  X(kBand, "band_components")                         \
  X(kInterior, "interior_components")                 \
  X(kFloating, "floating_components")                 \
  X(kIsolated, "isolated_components")                 \
  X(kIslands, "islands_removed")                      \
  X(kIslandPixels, "island_pixels_removed")           \
  X(kTransBefore, "transition_pixels_before")         \
  X(kTransAfter, "transition_pixels_after")           \
  X(kUncertain, "uncertain_pixels")                   \
  X(kUncertainKept, "uncertain_pixels_kept")

namespace ldmatte {

#define LDMATTE_STAT_ENUMERATOR(name, text) name,
enum Stat { LDMATTE_STAT_FIELDS(LDMATTE_STAT_ENUMERATOR) kNumStats };
#undef LDMATTE_STAT_ENUMERATOR

#define LDMATTE_STAT_NAME(name, text) text,
inline constexpr const char* kStatNames[kNumStats] = {LDMATTE_STAT_FIELDS(LDMATTE_STAT_NAME)};
#undef LDMATTE_STAT_NAME

}  // namespace ldmatte
