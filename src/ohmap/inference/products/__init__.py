"""Products of the Bayesian inference: posterior shards, per-spaxel maps and global-fit tables.

Wang et al. (2017), Sect. 4.4 (the inference), Fig. 5 (a global fit) and Sect. 6.1 (the
per-spaxel metallicity maps). Three products:

* a **shard** (HDF5, :func:`~ohmap.inference.products.shards.write_shard` / :func:`~ohmap.inference.products.shards.read_shard`): the posteriors of a block of
  spaxels of one galaxy -- the spaxel table, the thinned chains (float32, gzip), and per spaxel
  the autocorrelation times, acceptance, convergence flag and the summary (16th/50th/84th
  percentiles, reported value and limit flag) of every quantity;
* the **spaxel maps** of a galaxy (FITS, :func:`~ohmap.inference.products.spaxel_maps.write_spaxel_maps` / :func:`~ohmap.inference.products.spaxel_maps.read_spaxel_maps`):
  the summaries of all its shards placed on the binned map grid;
* the **global-fit table** (ECSV, :func:`~ohmap.inference.products.global_fits.global_fit_row`, :func:`~ohmap.inference.products.global_fits.write_global_fit` /
  :func:`~ohmap.inference.products.global_fits.read_global_fit`): one row per galaxy, from its integrated line fluxes.

Quantities and their units (:data:`~ohmap.inference.products.quantities.QUANTITY_UNITS`): ``oh12`` = 12+log(O/H) (dex), ``av`` = the
nebular A_V (mag), ``hbeta`` = the intrinsic (dust-corrected) H-beta flux (1e-17 erg/s/cm^2),
``sfr`` (Msun/yr, corrected for the magnification), ``sfr_density`` (Msun/yr/kpc^2, spaxel fits)
and ``nii_ha`` ([NII]/H-alpha, dimensionless; extended parameter set only).

Every file is written under a temporary name in the destination folder and renamed into place
only when complete; a failure removes the temporary file, so no partial product is ever left.
"""
