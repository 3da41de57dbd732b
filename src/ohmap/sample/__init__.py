"""Stage 5, sample: population diagnostics and scaling relations (Wang et al. 2017, Sects. 5
and 6.1).

Pure functions for the global-property analysis of the paper, one relation per module:

* :mod:`~ohmap.sample.agn`: AGN screening on the mass-excitation (MEx) diagram of Juneau et al.
  (2014), optionally with the +0.75 dex mass shift of Coil et al. (2015) (Fig. 6);
* :mod:`~ohmap.sample.bpt`: the extreme-starburst line of Kewley et al. (2001) in the [SII] BPT
  diagram (Fig. 11);
* :mod:`~ohmap.sample.main_sequence`: star-forming main sequences (Fig. 7);
* :mod:`~ohmap.sample.mzr`: mass-metallicity relations and the comparison of a fitted MZR slope
  with equilibrium wind models (Fig. 8);
* :mod:`~ohmap.sample.fmr`: the fundamental metallicity relation of Mannucci et al. (2011) and
  offsets from it (Fig. 9);
* :mod:`~ohmap.sample.linmix` and :mod:`~ohmap.sample.linmix_gibbs`: the Kelly (2007) linear
  regression with measurement errors, intrinsic scatter and upper limits;
* :mod:`~ohmap.sample.literature`: readers for the literature compilations in ``resources/``;
* :mod:`~ohmap.sample.records`: result records readable as mappings.

Units throughout: stellar mass as log10(M*/Msun); SFR in Msun/yr (``log_sfr`` = log10 of it);
12+log(O/H) in dex; metallicity gradients in dex/kpc; redshift dimensionless.

Every numerical constant names its source. Numbers that come from a third party's code rather
than from the paper itself are said to be so.
"""
