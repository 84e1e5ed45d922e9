// Arithmetic of the LayerDiffuse padding pyramid, float for float as the OpenCV
// reference computes it (see python/ldmatte/_kernels/pad.py for how each rule was
// established): INTER_AREA tap tables (computeResizeAreaTab) with the row-then-column
// accumulation order and OpenCV's 2x2 -> 1x1 fast path; INTER_LINEAR through IPP
// (double coordinates, fma(b - a, t, a)) when both source sides are >= 2, otherwise
// OpenCV's own rule (float coordinates, a * w0 + b * w1, fraction zeroed at the
// horizontal borders only); numpy's summation orders for the coarsest fill. All float
// and double operations use explicit round-to-nearest intrinsics so that nvcc cannot
// contract them into FMAs (which would move tap boundaries and round differently).
#pragma once

#include <cmath>

#include "common.cuh"

namespace ldmatte {
namespace cuda {

// ---------------------------------------------------------------- pixel sources

// Straight RGBA input -> premultiplied (C * a, a), as reference/pad.py forms level 0.
struct InputU8 {
  const uint8_t* p;
  int w;
  long long hw;
  LD_DEV float4 at(long long img, int y, int x) const {
    const uint8_t* q = p + (img * hw + static_cast<long long>(y) * w + x) * 4;
    const float a = __fdiv_rn(static_cast<float>(q[3]), 255.0f);
    return make_float4(__fmul_rn(__fdiv_rn(static_cast<float>(q[0]), 255.0f), a),
                       __fmul_rn(__fdiv_rn(static_cast<float>(q[1]), 255.0f), a),
                       __fmul_rn(__fdiv_rn(static_cast<float>(q[2]), 255.0f), a), a);
  }
};

struct InputF32 {
  const float* p;
  int w;
  long long hw;
  LD_DEV float4 at(long long img, int y, int x) const {
    const float* q = p + (img * hw + static_cast<long long>(y) * w + x) * 4;
    const float a = q[3];
    return make_float4(__fmul_rn(q[0], a), __fmul_rn(q[1], a), __fmul_rn(q[2], a), a);
  }
};

// A stored pyramid level: premultiplied colour + alpha, later the fill in .xyz.
struct Level {
  const float4* p;
  int w;
  long long hw;
  LD_DEV float4 at(long long img, int y, int x) const { return p[img * hw + static_cast<long long>(y) * w + x]; }
};

// The 1 x 1 coarsest fill of each image.
struct Seed {
  const float4* p;
  LD_DEV float4 at(long long img, int, int) const { return p[img]; }
};

// ---------------------------------------------------------------- INTER_AREA

struct AreaTaps {
  int n;
  int idx[4];
  float wt[4];
};

// Taps of output index d along an axis of ssize -> dsize (computeResizeAreaTab).
// The scale is at most 2 here, so there are at most 3 taps.
LD_DEV AreaTaps area_taps(int d, int ssize, int dsize) {
  const double scale = 1.0 / (static_cast<double>(dsize) / ssize);
  AreaTaps t{};
  const double f1 = __dmul_rn(d, scale), f2 = __dadd_rn(f1, scale);
  const double cell = fmin(scale, __dsub_rn(ssize, f1));
  int s2 = static_cast<int>(floor(f2));
  s2 = s2 < ssize - 1 ? s2 : ssize - 1;
  int s1 = static_cast<int>(ceil(f1));
  s1 = s1 < s2 ? s1 : s2;
  const double head = __dsub_rn(s1, f1), tail = __dsub_rn(f2, s2);
  if (head > 1e-3 && t.n < 4) {
    t.idx[t.n] = s1 - 1;
    t.wt[t.n++] = static_cast<float>(head / cell);
  }
  for (int s = s1; s < s2 && t.n < 4; ++s) {
    t.idx[t.n] = s;
    t.wt[t.n++] = static_cast<float>(1.0 / cell);
  }
  if (tail > 1e-3 && t.n < 4) {
    t.idx[t.n] = s2;
    t.wt[t.n++] = static_cast<float>(fmin(fmin(tail, 1.0), cell) / cell);
  }
  return t;
}

LD_DEV float4 madd4(float4 acc, float4 v, float w) {  // acc + v * w, unfused
  return make_float4(__fadd_rn(acc.x, __fmul_rn(v.x, w)), __fadd_rn(acc.y, __fmul_rn(v.y, w)),
                     __fadd_rn(acc.z, __fmul_rn(v.z, w)), __fadd_rn(acc.w, __fmul_rn(v.w, w)));
}

LD_DEV float4 add4(float4 a, float4 b) {
  return make_float4(__fadd_rn(a.x, b.x), __fadd_rn(a.y, b.y), __fadd_rn(a.z, b.z), __fadd_rn(a.w, b.w));
}

// One output pixel of INTER_AREA from (sh, sw) to (dh, dw), given its taps.
template <class Src>
LD_DEV float4 area_pixel(const Src& src, long long img, int sh, int sw, int dh, int dw, const AreaTaps& tx,
                         const AreaTaps& ty) {
  if (sh == 2 && sw == 2 && dh == 1 && dw == 1) {  // OpenCV's integer-scale path: sum, then scale
    const float4 s = add4(add4(add4(src.at(img, 0, 0), src.at(img, 0, 1)), src.at(img, 1, 0)), src.at(img, 1, 1));
    return make_float4(__fmul_rn(s.x, 0.25f), __fmul_rn(s.y, 0.25f), __fmul_rn(s.z, 0.25f), __fmul_rn(s.w, 0.25f));
  }
  float4 sum = make_float4(0.f, 0.f, 0.f, 0.f);
  for (int j = 0; j < ty.n; ++j) {
    float4 row = make_float4(0.f, 0.f, 0.f, 0.f);  // the horizontally shrunk source row
    for (int k = 0; k < tx.n; ++k) row = madd4(row, src.at(img, ty.idx[j], tx.idx[k]), tx.wt[k]);
    sum = j == 0 ? make_float4(__fmul_rn(ty.wt[0], row.x), __fmul_rn(ty.wt[0], row.y), __fmul_rn(ty.wt[0], row.z),
                               __fmul_rn(ty.wt[0], row.w))
                 : madd4(sum, row, ty.wt[j]);
  }
  return sum;
}

// ---------------------------------------------------------------- INTER_LINEAR

struct LinearTap {
  int i0, i1;
  float w0, w1;
};

// Two taps of output index d along an axis of ssize -> dsize (half-pixel centres).
LD_DEV LinearTap linear_tap(int d, int ssize, int dsize, bool ipp, bool clamp) {
  int s;
  float f;
  if (ipp) {
    const double scale = static_cast<double>(ssize) / dsize;
    const double x = __dsub_rn(__dmul_rn(__dadd_rn(d, 0.5), scale), 0.5);
    const double fl = floor(x);
    s = static_cast<int>(fl);
    f = static_cast<float>(__dsub_rn(x, fl));
  } else {
    const double scale = 1.0 / (static_cast<double>(dsize) / ssize);
    f = static_cast<float>(__dsub_rn(__dmul_rn(__dadd_rn(d, 0.5), scale), 0.5));
    const float fl = floorf(f);
    s = static_cast<int>(fl);
    f = __fsub_rn(f, fl);
    if (clamp && s < 0) {
      f = 0.f;
      s = 0;
    }
    if (clamp && s >= ssize - 1) {
      f = 0.f;
      s = ssize - 1;
    }
  }
  LinearTap t;
  t.i0 = s < 0 ? 0 : (s > ssize - 1 ? ssize - 1 : s);
  t.i1 = s + 1 < 0 ? 0 : (s + 1 > ssize - 1 ? ssize - 1 : s + 1);
  t.w0 = __fsub_rn(1.0f, f);
  t.w1 = f;
  return t;
}

LD_DEV float lerp1(float a, float b, const LinearTap& t, bool ipp) {
  return ipp ? __fmaf_rn(__fsub_rn(b, a), t.w1, a) : __fadd_rn(__fmul_rn(a, t.w0), __fmul_rn(b, t.w1));
}

LD_DEV float4 lerp3(float4 a, float4 b, const LinearTap& t, bool ipp) {
  return make_float4(lerp1(a.x, b.x, t, ipp), lerp1(a.y, b.y, t, ipp), lerp1(a.z, b.z, t, ipp), 0.f);
}

// The fill (.xyz of an (fh, fw) source) enlarged to one pixel of a finer level, given
// the pixel's horizontal and vertical taps.
LD_DEV bool use_ipp(int fh, int fw) { return fh >= 2 && fw >= 2; }

template <class Fill>
LD_DEV float4 fill_at(const Fill& fill, long long img, int fh, int fw, const LinearTap& tx, const LinearTap& ty) {
  const bool ipp = use_ipp(fh, fw);
  const float4 lo = lerp3(fill.at(img, ty.i0, tx.i0), fill.at(img, ty.i0, tx.i1), tx, ipp);
  const float4 hi = lerp3(fill.at(img, ty.i1, tx.i0), fill.at(img, ty.i1, tx.i1), tx, ipp);
  return lerp3(lo, hi, ty, ipp);
}

// Colour of a level pixel after blending the enlarged fill under it: C*a + fill*(1-a).
LD_DEV float4 blend(float4 c, float4 f) {
  const float keep = __fsub_rn(1.0f, c.w);
  return make_float4(__fadd_rn(c.x, __fmul_rn(f.x, keep)), __fadd_rn(c.y, __fmul_rn(f.y, keep)),
                     __fadd_rn(c.z, __fmul_rn(f.z, keep)), c.w);
}

// ---------------------------------------------------------------- coarsest fill

// numpy's float32 pairwise-sum leaf (n <= 128): eight interleaved partial sums.
template <class Get>
LD_DEV float block_sum(const Get& get, long long lo, long long n) {
  if (n < 8) {
    float res = 0.f;
    for (long long i = lo; i < lo + n; ++i) res = __fadd_rn(res, get(i));
    return res;
  }
  float r[8];
  for (int j = 0; j < 8; ++j) r[j] = get(lo + j);
  long long i = 8;
  for (; i < n - (n % 8); i += 8)
    for (int j = 0; j < 8; ++j) r[j] = __fadd_rn(r[j], get(lo + i + j));
  float res = __fadd_rn(__fadd_rn(__fadd_rn(r[0], r[1]), __fadd_rn(r[2], r[3])),
                        __fadd_rn(__fadd_rn(r[4], r[5]), __fadd_rn(r[6], r[7])));
  for (; i < n; ++i) res = __fadd_rn(res, get(lo + i));
  return res;
}

// numpy's float32 pairwise summation (the order of alpha.sum()), walked with a stack.
template <class Get>
LD_DEV float pairwise_sum(const Get& get, long long n) {
  if (n <= 0) return 0.f;
  long long task_lo[96], task_n[96];  // n < 0 marks "add the two values on top"
  float vals[48];
  int nt = 1, nv = 0;
  task_lo[0] = 0;
  task_n[0] = n;
  while (nt) {
    --nt;
    const long long lo = task_lo[nt], len = task_n[nt];
    if (len < 0) {
      --nv;
      vals[nv - 1] = __fadd_rn(vals[nv - 1], vals[nv]);
    } else if (len <= 128) {
      vals[nv++] = block_sum(get, lo, len);
    } else {
      long long half = len / 2;
      half -= half % 8;
      task_lo[nt] = 0;
      task_n[nt] = -1;
      task_lo[nt + 1] = lo + half;
      task_n[nt + 1] = len - half;
      task_lo[nt + 2] = lo;
      task_n[nt + 2] = half;
      nt += 3;
    }
  }
  return vals[0];
}

template <class Src>
struct AlphaOf {  // alpha of pixel i of an (h, w) level, raster order
  const Src* src;
  long long img;
  int w;
  LD_DEV float operator()(long long i) const {
    return src->at(img, static_cast<int>(i / w), static_cast<int>(i % w)).w;
  }
};

// sum(C*a) / clip(sum(a), 1e-8, 1e32) over an (h, w) level: the colour sum of a
// (h, w, 3) array runs sequentially in raster order, the alpha sum pairwise.
template <class Src>
LD_DEV float4 seed_of(const Src& src, long long img, int h, int w) {
  float r = 0.f, g = 0.f, b = 0.f;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const float4 v = src.at(img, y, x);
      r = __fadd_rn(r, v.x);
      g = __fadd_rn(g, v.y);
      b = __fadd_rn(b, v.z);
    }
  const AlphaOf<Src> get{&src, img, w};
  float den = pairwise_sum(get, static_cast<long long>(h) * w);
  den = fminf(fmaxf(den, 1e-8f), 1e32f);
  return make_float4(__fdiv_rn(r, den), __fdiv_rn(g, den), __fdiv_rn(b, den), 0.f);
}

}  // namespace cuda
}  // namespace ldmatte
