"""The denoising progress bar shared by the diffusion samplers."""

from __future__ import annotations


def progress_bar(total: int, enabled: bool):
    """A tqdm bar over ``total`` denoising steps (disabled, but still callable, when ``enabled`` is False)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="denoising", unit="step", disable=not enabled, leave=False)
