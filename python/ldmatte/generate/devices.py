"""What the device decides: precision defaults and the decoder's memory-bounded sub-batch.

Precision (every default can be overridden):

- The transparent decoder runs in float16 on CUDA (as LayerDiffuse always does) and
  float32 on the CPU, whatever the UNet's dtype: in bfloat16 its output is off by up to
  20-28 uint8 levels against float32, in float16 by at most 3.
- bfloat16 counts as available only on GPUs of compute capability 8.0 and newer
  (Ampere, Ada, Hopper...). Older GPUs (T4, V100) emulate it slowly or not at all, and
  ``torch.cuda.is_bf16_supported()`` counts the emulation, so the capability decides.
  The VAE defaults to bfloat16 where it is available (LayerDiffuse's demo; the SDXL VAE
  overflows in float16), else to the model dtype.

Memory: the decoder's 8-way test-time augmentation is run in sub-batches whose
default size is bounded by the free memory of the device and :func:`decode_bytes_per_sample`.
"""
from __future__ import annotations

import os

import torch

__all__ = [
    "DECODE_BYTES_PER_SAMPLE_1024_FP16",
    "auto_sub_batch",
    "bf16_available",
    "check_dtype_supported",
    "compute_capability",
    "decode_bytes_per_sample",
    "default_decoder_dtype",
    "default_vae_dtype",
    "free_memory",
]

#: Peak memory one decoder sample (one augmentation of one image) adds at 1024 x 1024 in
#: float16: about 0.8 GiB, measured with the published decoder (full-resolution feature
#: maps of 32 channels, their skip connections and the group-norm temporaries).
DECODE_BYTES_PER_SAMPLE_1024_FP16 = int(0.8 * 2**30)

#: Share of the free memory a decoder pass may plan to use (the rest is headroom for the
#: allocator's fragmentation and other work on the device).
MEMORY_FRACTION = 0.7


def _device(device) -> torch.device:
    return device if isinstance(device, torch.device) else torch.device(device)


def compute_capability(device) -> tuple[int, int] | None:
    """(major, minor) of a CUDA device, None for other devices."""
    device = _device(device)
    if device.type != "cuda":
        return None
    return tuple(torch.cuda.get_device_capability(device))


def bf16_available(device) -> bool:
    """bfloat16 in hardware: a CUDA GPU of compute capability >= 8.0, or the CPU.

    Examples
    --------
    >>> from ldmatte.generate.devices import bf16_available
    >>> bf16_available("cpu")
    True
    """
    device = _device(device)
    if device.type == "cpu":
        return True
    cc = compute_capability(device)
    return cc is not None and cc >= (8, 0)


def check_dtype_supported(device, dtype: torch.dtype, what: str = "dtype") -> None:
    """Raise ValueError for bfloat16 on a CUDA GPU older than compute capability 8.0."""
    device = _device(device)
    if dtype == torch.bfloat16 and device.type == "cuda" and not bf16_available(device):
        major, minor = compute_capability(device)
        name = torch.cuda.get_device_name(device)
        raise ValueError(
            f"{what} bf16 needs a GPU of compute capability 8.0 or newer; {name} is {major}.{minor} "
            "(bfloat16 would be emulated or fail there): use fp16 or fp32"
        )


def default_decoder_dtype(device) -> torch.dtype:
    """float16 on CUDA (LayerDiffuse's precision for the decoder), float32 elsewhere."""
    return torch.float16 if _device(device).type == "cuda" else torch.float32


def default_vae_dtype(device, dtype: torch.dtype) -> torch.dtype:
    """bfloat16 on GPUs of compute capability >= 8.0 unless the model runs in float32; else ``dtype``.

    Examples
    --------
    >>> import torch
    >>> from ldmatte.generate.devices import default_vae_dtype
    >>> default_vae_dtype("cpu", torch.float32)
    torch.float32
    """
    device = _device(device)
    if device.type == "cuda" and dtype != torch.float32 and bf16_available(device):
        return torch.bfloat16
    return dtype


def decode_bytes_per_sample(height: int, width: int, dtype: torch.dtype) -> int:
    """Estimated peak bytes one decoder sample adds: 0.8 GiB at 1024 x 1024 in float16, scaled
    by the pixel count and the element size.

    Examples
    --------
    >>> import torch
    >>> from ldmatte.generate.devices import decode_bytes_per_sample
    >>> round(decode_bytes_per_sample(1024, 1024, torch.float16) / 2**30, 2)
    0.8
    >>> round(decode_bytes_per_sample(512, 512, torch.float32) / 2**30, 2)
    0.4
    """
    itemsize = torch.empty(0, dtype=dtype).element_size()
    scale = (height * width) / (1024 * 1024) * itemsize / 2
    return max(1, int(DECODE_BYTES_PER_SAMPLE_1024_FP16 * scale))


def free_memory(device) -> int | None:
    """Bytes a new allocation can use: free device memory plus what torch's caching allocator
    holds unused (CUDA), the available physical memory (CPU, where the system says), else None."""
    device = _device(device)
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(free + max(cached, 0))
    if device.type == "cpu":
        try:
            return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, ValueError, OSError):
            return None
    return None


def auto_sub_batch(device, height: int, width: int, dtype: torch.dtype, *, free_bytes: int | None = None,
                   fraction: float = MEMORY_FRACTION) -> int | None:  # fmt: skip
    """Most decoder samples per pass that fit ``fraction`` of the free memory (at least 1).

    Returns None (no bound: one pass) when the free memory cannot be known.

    Examples
    --------
    >>> import torch
    >>> from ldmatte.generate.devices import auto_sub_batch
    >>> auto_sub_batch("cuda", 1024, 1024, torch.float16, free_bytes=24 * 2**30)  # a 24 GB card
    21
    >>> auto_sub_batch("cuda", 1024, 1024, torch.float16, free_bytes=2**29)
    1
    """
    if free_bytes is None:
        free_bytes = free_memory(device)
    if free_bytes is None:
        return None
    return max(1, int(free_bytes * fraction) // decode_bytes_per_sample(height, width, dtype))
