"""Science settings of the inference stage: the ``inference`` section of the configuration.

``inference.model`` (:class:`InferenceSettings`: calibration, likelihood, parameters, priors),
``inference.sampler`` (:class:`SamplerSettings`) and ``inference.spaxels``
(:class:`SpaxelSettings`: binning, selection and shards).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ohmap.errors import InputError
from ohmap.inference.binning import BINNINGS
from ohmap.inference.calibrations import load_calibrations
from ohmap.lines import FIT_LINES
from ohmap.settings import ConfigSection

LIKELIHOODS = ("gaussian", "paper_chi2")


PARAMETER_SETS = ("vanilla", "extended")


@dataclass
class InferenceSettings(ConfigSection):
    """Science settings of the inference (the ``inference.model`` config section).

    Attributes
    ----------
    calibration : str
        Name of a calibration in the registry (``ohmap/data/calibrations.yaml``).
    scatter_dex : dict
        Overrides of the registry's intrinsic scatter sigma_R (dex) per line, e.g.
        ``{"OIII5008": 0.15}``.
    likelihood : str
        ``"gaussian"`` (with the ln-variance term) or ``"paper_chi2"`` (Eq. 2 literally).
    parameters : str
        ``"vanilla"`` ([NII]/H-alpha fixed) or ``"extended"`` ([NII]/H-alpha free).
    nii_ha_vanilla : float
        [NII]/H-alpha of the vanilla set where the sample sheet gives none.
    oh12_prior, av_prior : tuple of float
        Bounds of the flat priors on 12+log(O/H) and A_V (mag).
    hbeta_prior : tuple of float
        Bounds of the Jeffreys prior on the intrinsic H-beta flux, 1e-17 erg/s/cm^2.
    nii_ha_prior : tuple of float
        Bounds of the Jeffreys prior on [NII]/H-alpha (extended set).
    rv : float
        R_V of the Cardelli et al. (1989) curve.
    """

    calibration: str = "maiolino2008"
    scatter_dex: dict = field(default_factory=dict)
    likelihood: str = "gaussian"
    parameters: str = "vanilla"
    nii_ha_vanilla: float = 0.05
    oh12_prior: tuple = (7.0, 9.3)
    av_prior: tuple = (0.0, 4.0)
    hbeta_prior: tuple = (1e-3, 100.0)
    nii_ha_prior: tuple = (1e-3, 0.5)
    rv: float = 3.1

    def __post_init__(self):
        src = "inference settings"
        known = load_calibrations()
        if self.calibration not in known:
            raise InputError(
                src,
                f"calibration {self.calibration!r} names no calibration of the registry "
                f"(ohmap/data/calibrations.yaml); known: {', '.join(sorted(known))}",
            )
        if self.likelihood not in LIKELIHOODS:
            raise InputError(
                src, f"likelihood {self.likelihood!r} is not one of {', '.join(LIKELIHOODS)}"
            )
        if self.parameters not in PARAMETER_SETS:
            raise InputError(
                src, f"parameters {self.parameters!r} is not one of {', '.join(PARAMETER_SETS)}"
            )
        for name in ("oh12_prior", "av_prior", "hbeta_prior", "nii_ha_prior"):
            lo, hi = (float(v) for v in getattr(self, name))
            if not lo < hi:
                raise InputError(
                    src, f"{name} = {getattr(self, name)}: the lower bound must be below the upper"
                )
            if name in ("hbeta_prior", "nii_ha_prior") and not lo > 0:
                raise InputError(
                    src,
                    f"{name} = {getattr(self, name)}: a Jeffreys prior needs a positive "
                    "lower bound",
                )
            setattr(self, name, (lo, hi))
        unknown = set(self.scatter_dex) - set(FIT_LINES)
        if unknown:
            raise InputError(src, f"scatter_dex names unknown line(s) {', '.join(sorted(unknown))}")


ENGINES = ("batched", "emcee")


@dataclass
class SamplerSettings(ConfigSection):
    """Settings of the samplers (the ``inference.sampler`` config section).

    Attributes
    ----------
    engine : str
        ``"batched"`` or ``"emcee"``.
    n_walkers, n_steps, n_burn : int
        Walkers, steps per walker and burn-in steps discarded (paper: 100, 5000, 2000).
    thin : int
        Every ``thin``-th kept step is stored.
    min_tau_multiple : float
        A fit is converged when the kept chain is at least this many autocorrelation times
        long.
    stretch_scale : float
        Scale ``a`` of the stretch move.
    batch_size : int
        Objects advanced together by the batched engine (memory grows with it: the kept chain
        of a batch is held for the autocorrelation estimate).
    emcee_vectorize : bool
        The emcee engine evaluates all walkers of a half-step in one call (``vectorize=True``)
        rather than one call per walker (emcee's default); the samples are the same in
        distribution.
    seed : int
        Seed from which every object's random stream derives.
    """

    engine: str = "batched"
    n_walkers: int = 100
    n_steps: int = 5000
    n_burn: int = 2000
    thin: int = 25
    min_tau_multiple: float = 50.0
    stretch_scale: float = 2.0
    batch_size: int = 64
    emcee_vectorize: bool = True
    seed: int = 20170207

    def __post_init__(self):
        src = "sampler settings"
        if self.engine not in ENGINES:
            raise InputError(src, f"engine {self.engine!r} is not one of {', '.join(ENGINES)}")
        if self.n_walkers < 4 or self.n_walkers % 2:
            raise InputError(
                src, f"n_walkers = {self.n_walkers}: need an even number of at least 4"
            )
        if not 0 <= self.n_burn < self.n_steps:
            raise InputError(src, f"n_burn = {self.n_burn} must be below n_steps = {self.n_steps}")
        if self.thin < 1 or self.batch_size < 1:
            raise InputError(src, "thin and batch_size must be at least 1")

    @property
    def n_kept(self) -> int:
        return self.n_steps - self.n_burn


@dataclass
class SpaxelSettings(ConfigSection):
    """Settings of the per-spaxel fits (the ``inference.spaxels`` config section).

    Attributes
    ----------
    bin_pixels : int
        Pixels per side binned into one spaxel (2: the native 0.13" scale of WFC3/IR from the
        interlaced 0.065" maps).
    min_snr : float
        A spaxel is fitted when at least one selection line reaches this S/N.
    snr_lines : tuple of str
        Selection lines (those the galaxy has a map of); when it has none of them, every line
        selects.
    shard_size : int
        Spaxels per shard (one job each). Only the layout: no product depends on it. 256 makes
        a job of 35-47 s at the paper's sampler settings, so Snakemake's own cost of a few
        seconds per job stays near a tenth of it (``perf/bench_shards.py``).
    binning : str
        ``"paper"`` (each native spaxel fitted on its own, as Wang et al. 2017) or
        ``"voronoi"`` (the native spaxels of the footprint grouped into Voronoi bins of
        ``target_snr`` in the first selection line the galaxy has, each bin fitted once and
        fitted only if it reaches ``min_snr``; :mod:`ohmap.inference.binning`).
    target_snr : float
        Target S/N of the Voronoi bins (a bin is good at 0.8 x this); ``binning: paper``
        ignores it.
    """

    bin_pixels: int = 2
    min_snr: float = 5.0
    snr_lines: tuple = ("Ha", "OIII5008")
    shard_size: int = 256
    binning: str = "paper"
    target_snr: float = 10.0

    def __post_init__(self):
        if self.bin_pixels < 1 or self.shard_size < 1:
            raise InputError("inference.spaxels", "bin_pixels and shard_size must be at least 1")
        if self.binning not in BINNINGS:
            raise InputError(
                "inference.spaxels",
                f"binning {self.binning!r} is not one of {', '.join(BINNINGS)}",
            )
        if not self.target_snr > 0:
            raise InputError("inference.spaxels", f"target_snr = {self.target_snr} must be > 0")
        unknown = [n for n in self.snr_lines if n not in FIT_LINES]
        if unknown:
            raise InputError(
                "inference.spaxels",
                f"snr_lines: unknown line(s) {', '.join(unknown)} (known: {', '.join(FIT_LINES)})",
            )
