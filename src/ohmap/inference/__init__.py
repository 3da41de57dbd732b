"""Stage 3, inference: Bayesian line-flux inference of 12+log(O/H), nebular A_V and star
formation, globally and per spaxel (Wang et al. 2017, Sect. 4.4).

Modules, in the order data flow through them:

* :mod:`~ohmap.inference.settings`: the ``inference`` configuration section;
* physics: :mod:`~ohmap.inference.calibrations` (strong-line calibrations, kept as data) and
  :mod:`~ohmap.inference.nebular` (extinction, Case B, SFR);
* :mod:`~ohmap.inference.model`: the line-flux model, its likelihood and priors;
* :mod:`~ohmap.inference.samplers`: the MCMC engines;
* :mod:`~ohmap.inference.summary`: derived quantities, percentiles and limits;
* :mod:`~ohmap.inference.fitting`: many objects fitted in batches, one stream each;
* :mod:`~ohmap.inference.binning`: Voronoi bins of the native spaxels (``binning: voronoi``);
* :mod:`~ohmap.inference.spaxels`: which spaxels (or bins) are fitted, and their shards;
* :mod:`~ohmap.inference.products`: posterior shards, spaxel maps and global-fit tables.
"""
