#!/usr/bin/env python3
"""Int8 golden cases for DynQ's kernels, computed by an independent implementation.

Written from docs/numerics.md alone (not from the Swift sources): exact Python integers for every product, sum,
rounding and clamp; numpy only draws the seeded random data. Each case is written to fixtures/int8/<case>.json with
its inputs, parameters and expected int8 outputs, and a provenance line. Tests/DynQCoreTests/Int8GoldenTests.swift
runs the oracle and every kernel set of the host build on them and expects the same bytes.

    python3 tools/make_int8_goldens.py          # rewrites fixtures/int8/ (deterministic: same bytes every run)
"""
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fixtures", "int8")
INT32_MAX = 2**31 - 1


def sat32(x):
    return max(-(2**31), min(INT32_MAX, x))


def apply(x, m, e):
    """Q31 multiplier, single rounding, ties toward +inf: floor((x*m + 2^(n-1)) / 2^n), n = 31 - e; saturated."""
    if m == 0:
        return 0
    n = 31 - e
    return sat32((x * m + (1 << (n - 1))) >> n)


def finish(y, zp, lo, hi):
    """clamp(y + zp, lo, hi) (y pre-clamped to +-512 so the sum cannot wrap)."""
    y = max(-512, min(512, y))
    return max(lo, min(hi, y + zp))


def div_half_away(n, d):
    q, r = divmod(abs(n), abs(d))
    if 2 * r >= abs(d):
        q += 1
    return -q if (n < 0) != (d < 0) else q


def multipliers(rng, count, lo_shift, hi_shift):
    return [[int(rng.integers(2**30, 2**31)), int(rng.integers(lo_shift, hi_shift + 1))] for _ in range(count)]


def conv(x, h, w, c, weight, o, kh, kw, stride, dil, pad, groups, zin, bias, mults, zout, lo, hi):
    """NHWC conv; weight(oc, ky, kx, i) for input channel i of the group; pad = (top, left, bottom, right)."""
    oh = (h + pad[0] + pad[2] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (w + pad[1] + pad[3] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    gin, gout = c // groups, o // groups
    out = []
    for oy in range(oh):
        for ox in range(ow):
            for oc in range(o):
                g = oc // gout
                acc = bias[oc] if bias is not None else 0
                for ky in range(kh):
                    for kx in range(kw):
                        iy = oy * stride[0] - pad[0] + ky * dil[0]
                        ix = ox * stride[1] - pad[1] + kx * dil[1]
                        if 0 <= iy < h and 0 <= ix < w:
                            for i in range(gin):
                                acc += (x[(iy * w + ix) * c + g * gin + i] - zin) * weight(oc, ky, kx, i)
                assert abs(acc) < 2**31
                out.append(finish(apply(acc, *mults[oc]), zout, lo, hi))
    return out, oh, ow


def fusion(kernels, g, o, k, eta, mixed, static_bias, m0, per_channel):
    """Per-sample fusion, [O][K] layout: fused int8 kernel, int32 bias, per-sample (m, e)."""
    fused, bias_out, mult_out = [], [], []
    for ch in range(o):
        coeff = [eta[ch * g + t] if per_channel else eta[t] for t in range(g)]
        f = [sum(coeff[t] * kernels[t * o * k + ch * k + e] for t in range(g)) for e in range(k)]
        a = max(abs(v) for v in f)
        r = 2**32 - 1 if a <= 127 else (127 << 32) // a
        for v in f:
            q = (abs(v) * r + 2**31) >> 32
            fused.append(-q if v < 0 else q)
        b = sum(coeff[t] * mixed[t * o + ch] for t in range(g)) if mixed is not None else 0
        if static_bias is not None:
            b += static_bias[ch] << 15
        headroom = INT32_MAX - k * 255 * 127
        v = min((abs(b) * r + 2**31) >> 32, headroom)
        bias_out.append(-v if b < 0 else v)
        m, e = m0[ch]
        if m == 0:
            mult_out.append([0, 0])
            continue
        n_ = m << 32
        s = (n_ // r).bit_length() - 31
        d = r << s
        mm, rem = divmod(n_, d)
        if rem >= d - rem:
            mm += 1
        ee = e + s
        if mm == 2**31:
            mm, ee = 2**30, ee + 1
        mult_out.append([INT32_MAX, 30] if ee > 30 else [mm, ee])
    return fused, bias_out, mult_out


def main():
    os.makedirs(OUT, exist_ok=True)
    provenance = ("tools/make_int8_goldens.py: exact Python integers written from docs/numerics.md, "
                  f"numpy {np.__version__} default_rng seeds per case; independent of the Swift sources")
    cases = {}

    # conv 3x3, stride 2, padding (1,0,2,1), groups 2, dilation 1, clamp as ReLU, both zero points at the extremes.
    rng = np.random.default_rng(1)
    h, w, c, o, kh, kw, groups = 7, 6, 6, 8, 3, 3, 2
    x = [int(v) for v in rng.integers(-128, 128, h * w * c)]
    wts = [int(v) for v in rng.integers(-127, 128, o * kh * kw * (c // groups))]
    bias = [int(v) for v in rng.integers(-20000, 20000, o)]
    mults = multipliers(rng, o, -13, -11)
    out, oh, ow = conv(x, h, w, c, lambda oc, ky, kx, i: wts[((oc * kh + ky) * kw + kx) * (c // groups) + i],
                       o, kh, kw, (2, 2), (1, 1), (1, 0, 2, 1), groups, -128, bias, mults, 10, -100, 127)
    cases["conv2d_3x3_s2_groups2"] = dict(op="conv2d", input_shape=[h, w, c], output_shape=[oh, ow, o],
                                          kernel=[kh, kw], stride=[2, 2], dilation=[1, 1], padding=[1, 0, 2, 1],
                                          groups=groups, input_zero_point=-128, output_zero_point=10,
                                          clamp=[-100, 127], input=x, weights=wts, bias=bias, multipliers=mults,
                                          expected=out)

    # depthwise 3x3, dilation 2, padding 2, no bias.
    rng = np.random.default_rng(2)
    h, w, c = 8, 9, 5
    x = [int(v) for v in rng.integers(-128, 128, h * w * c)]
    wts = [int(v) for v in rng.integers(-127, 128, 9 * c)]       # [kh][kw][C]
    mults = multipliers(rng, c, -11, -8)
    out, oh, ow = conv(x, h, w, c, lambda oc, ky, kx, i: wts[(ky * 3 + kx) * c + oc], c, 3, 3, (1, 1), (2, 2),
                       (2, 2, 2, 2), c, 7, None, mults, -3, -128, 127)
    cases["depthwise_3x3_dilation2"] = dict(op="depthwise_conv2d", input_shape=[h, w, c], output_shape=[oh, ow, c],
                                            kernel=[3, 3], stride=[1, 1], dilation=[2, 2], padding=[2, 2, 2, 2],
                                            groups=c, input_zero_point=7, output_zero_point=-3, clamp=[-128, 127],
                                            input=x, weights=wts, bias=None, multipliers=mults, expected=out)

    # add: input multipliers below 1, TFLite's left shift of 20.
    rng = np.random.default_rng(3)
    n = 37
    a = [int(v) for v in rng.integers(-128, 128, n)]
    b = [int(v) for v in rng.integers(-128, 128, n)]
    za, zb, zo = -5, 100, -20
    ma, mb, mo = multipliers(rng, 1, -2, 0)[0], multipliers(rng, 1, -2, 0)[0], multipliers(rng, 1, -21, -18)[0]
    out = [finish(apply(apply((a[i] - za) << 20, *ma) + apply((b[i] - zb) << 20, *mb), *mo), zo, -100, 120)
           for i in range(n)]
    cases["add"] = dict(op="add", count=n, a=a, b=b, a_zero_point=za, b_zero_point=zb, output_zero_point=zo,
                        a_multiplier=ma, b_multiplier=mb, output_multiplier=mo, clamp=[-100, 120], expected=out)

    # average pool 3x3 stride 2 padding 1, padded positions excluded from the divisor.
    rng = np.random.default_rng(4)
    h, w, c, z = 7, 8, 3, 11
    x = [int(v) for v in rng.integers(-128, 128, h * w * c)]
    oh, ow = (h + 2 - 3) // 2 + 1, (w + 2 - 3) // 2 + 1
    out = []
    for oy in range(oh):
        for ox in range(ow):
            for ch in range(c):
                s, cnt = 0, 0
                for ky in range(3):
                    for kx in range(3):
                        iy, ix = oy * 2 - 1 + ky, ox * 2 - 1 + kx
                        if 0 <= iy < h and 0 <= ix < w:
                            s += x[(iy * w + ix) * c + ch] - z
                            cnt += 1
                out.append(max(-128, min(127, div_half_away(s, cnt) + z)))
    cases["avgpool_3x3_s2_p1_exclude_pad"] = dict(op="avgpool", input_shape=[h, w, c], output_shape=[oh, ow, c],
                                                  kernel=[3, 3], stride=[2, 2], padding=[1, 1, 1, 1],
                                                  count_include_pad=False, zero_point=z, clamp=[-128, 127],
                                                  input=x, expected=out)

    # dynamic fusion (g = 3, per-channel coefficients, mixed and static bias), then the conv on the fused kernel.
    rng = np.random.default_rng(5)
    g, h, w, c, o, kh, kw = 3, 5, 5, 4, 6, 3, 3
    k = kh * kw * c
    x = [int(v) for v in rng.integers(-128, 128, h * w * c)]
    kernels = [int(v) for v in rng.integers(-127, 128, g * o * k)]
    eta = [int(v) for v in rng.integers(0, 32768, o * g)]
    mixed = [int(v) for v in rng.integers(-20000, 20000, g * o)]
    sbias = [int(v) for v in rng.integers(-3000, 3000, o)]
    m0 = multipliers(rng, o, -27, -24)
    fused, fbias, fmult = fusion(kernels, g, o, k, eta, mixed, sbias, m0, True)
    out, oh, ow = conv(x, h, w, c, lambda oc, ky, kx, i: fused[((oc * kh + ky) * kw + kx) * c + i], o, kh, kw,
                       (1, 1), (1, 1), (1, 1, 1, 1), 1, -2, fbias, fmult, 4, -128, 127)
    cases["dynamic_fusion_g3_per_channel"] = dict(op="dynamic_conv2d", input_shape=[h, w, c],
                                                  output_shape=[oh, ow, o], kernel=[kh, kw], stride=[1, 1],
                                                  dilation=[1, 1], padding=[1, 1, 1, 1], groups=1, kernel_count=g,
                                                  input_zero_point=-2, output_zero_point=4, clamp=[-128, 127],
                                                  input=x, kernels=kernels, coefficients=eta, mixed_bias=mixed,
                                                  bias=sbias, multipliers=m0, fused_kernel=fused, fused_bias=fbias,
                                                  fused_multipliers=fmult, expected=out)

    for name, case in cases.items():
        case["provenance"] = provenance
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            json.dump(case, f, separators=(",", ":"))
            f.write("\n")
    with open(os.path.join(OUT, "PROVENANCE.md"), "w") as f:
        f.write("# fixtures/int8\n\nInt8 golden cases: `python3 tools/make_int8_goldens.py` (deterministic). "
                "Every expected value is computed with exact Python integers from the definitions in "
                "docs/numerics.md (not from the Swift sources); numpy only draws the seeded data. "
                "Checked by Tests/DynQCoreTests/Int8GoldenTests.swift against the oracle and every host kernel set.\n\n"
                + "".join(f"- `{n}.json`: {c['op']}\n" for n, c in cases.items()))
    print(f"wrote {len(cases)} cases to {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
